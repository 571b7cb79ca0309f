from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def _start(*args: str) -> tuple[subprocess.Popen[str], queue.Queue[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "simulator", *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return process, lines


def _wait_for_line(lines: queue.Queue[str], prefix: str, *, timeout: float = 20.0) -> tuple[str, list[str]]:
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
        except queue.Empty:
            break
        seen.append(line)
        if line.startswith(prefix):
            return line.strip(), seen
    raise AssertionError(f"no line starting with {prefix!r}; got {seen}")


def test_simulator_serves_and_stops_on_sigterm() -> None:
    process, lines = _start("--port", "0", "--agents", "2", "--speed", "600", "--password", "pw-9f3k",
                            "--fault", "critical_alarms:count=1")
    try:
        line, seen = _wait_for_line(lines, "DMS_URL=")
        url = line.removeprefix("DMS_URL=")
        body = {"login": "admin", "password": "pw-9f3k", "host": "x", "clientAppName": "t",
                "clientAppVersion": "1", "clientComputerName": "c"}
        answer = httpx.post(f"{url}/API/v1/Json.asmx/ConnectApp", json=body, timeout=5)
        assert answer.status_code == 200 and answer.json()["d"]
        state = httpx.get(f"{url}/_sim/state", timeout=5).json()
        assert len(state["agents"]) == 2 and state["faults"][0]["fault"] == "critical_alarms"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        _, rest = _wait_for_line(lines, "Simulated DMS stopped")
        assert all("pw-9f3k" not in text for text in seen + rest)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)


def test_simulator_refuses_bad_options() -> None:
    process, lines = _start("--port", "0", "--agents", "2", "--failover-pairs", "3")
    assert process.wait(timeout=20) == 2
    line, _ = _wait_for_line(lines, "dm-upgrade simulator:")
    assert "failover pairs" in line


def test_help_lists_every_fault_with_its_options() -> None:
    import contextlib
    import io

    from bot.cli import main
    from simulator.faults import fault_names

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        main(["simulator", "--help"])
    text = out.getvalue()
    for name in fault_names():
        assert f"  {name} " in text, name
    assert "options: check, package" in text and "options: agent, restart" in text
