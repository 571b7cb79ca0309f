"""Start to serving and idle memory of ``dm-upgrade run`` (HTTP mode), against a bare Bolt app started alike.

Each round starts, one after the other, three fresh processes with the same interpreter and environment:

* *the bot*: ``dm-upgrade run --host 127.0.0.1 --port P`` (``bot.cli``, see ``BOT``) with a fake Slack Web API
  (``bot.console.fake_slack``) and a simulated DMS, each served by a child process of this bench (they are
  other machines in real life), and a SQLite database that a first start created and migrated (a restart,
  as in production: the first start's migrations are printed on their own);
* *as installed*: the same without the dev extras' modules httpx would import (``AS_INSTALLED``);
* *bare Bolt*: this file with ``--serve-bare P``: an ``AsyncApp`` with one listener that only acks, behind
  the same aiohttp wiring (``/slack/events`` and a ``/healthz`` that answers "ok"), its Web API client on the
  same fake Slack.

Measured from the spawn to the first answer of ``GET /healthz`` (polled every 10 ms), then the resident
memory (VmRSS) after ``--idle-s`` seconds of idling; then the process gets SIGTERM. The medians are printed
beside each other with their ratio, and the targets: the bot serving within 1.5 s, idle under 100 MB.
The bot's imports are timed inside it and printed beside the whole start. ``--importtime`` runs the bot once
more under ``python -X importtime`` and prints what its imports cost by package.

    python benchmarks/bench_start.py [--rounds 5] [--idle-s 3] [--importtime]
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, NamedTuple

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # runnable from a checkout without installing

TARGET_START_S = 1.5
TARGET_RSS_MB = 100.0
SECRET = "bench-start-signing-secret"
TOKEN = "xoxb-bench-start"
# How the bot is started: as `dm-upgrade run` does (bot.cli), timing its imports on the way (bot.app is what
# `run` imports in HTTP mode; imported first here, so the CLI finds it loaded and the work is the same).
BOT = """
import sys, time
started = time.perf_counter()
import bot.app, bot.cli
print(f"IMPORTS {time.perf_counter() - started:.3f}", file=sys.stderr, flush=True)
sys.exit(bot.cli.main(["run", "--host", "127.0.0.1", "--port", sys.argv[1]]))
"""
IMPORTS_MARK = "IMPORTS "
# A production install has no dev extras: without click, rich and pygments (import-linter's) httpx skips its
# command-line client, which this venv would import with every `import httpx`. Blocking that one module is
# what their absence does (httpx catches the ImportError).
AS_INSTALLED = 'import sys; sys.modules["httpx._main"] = None\n'
KINDS = {"bot": "dm-upgrade run", "installed": "  as installed", "bare": "bare Bolt app "}


# ---------------------------------------------------------------------------------------- other machines


def _serve_until_told(make: str, pipe: Connection) -> None:
    from bot.console.fake_slack import FakeSlack
    from simulator import SimulatedDms, SimulatorConfig

    async def main() -> None:
        server: Any = (SimulatedDms(SimulatorConfig(agents=4, version="10.2.0 CU5", speed=600.0))
                       if make == "dms" else FakeSlack())
        pipe.send(await server.start())
        await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
        await server.stop()

    asyncio.run(main())


def serve_bare(port: int) -> None:
    """The bare app: Bolt's AsyncApp that only acks, over the same aiohttp wiring as the bot's HTTP mode."""
    started = time.perf_counter()
    from aiohttp import web
    from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
    from slack_bolt.async_app import AsyncAck, AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    print(f"{IMPORTS_MARK}{time.perf_counter() - started:.3f}", file=sys.stderr, flush=True)

    client = AsyncWebClient(token=TOKEN, base_url=os.environ["SLACK_API_URL"].rstrip("/") + "/")
    bolt = AsyncApp(client=client, signing_secret=SECRET)

    @bolt.command("/dm-upgrade")
    async def only_ack(ack: AsyncAck) -> None:
        await ack()

    async def events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/slack/events", events)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# ---------------------------------------------------------------------------------------- measuring


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _command(kind: str, port: int, *, importtime: bool = False) -> list[str]:
    python = [sys.executable, *(["-X", "importtime"] if importtime else [])]
    if kind in ("bot", "installed"):
        return [*python, "-c", (AS_INSTALLED if kind == "installed" else "") + BOT, str(port)]
    return [*python, str(Path(__file__).resolve()), "--serve-bare", str(port)]


class Start(NamedTuple):
    serving_s: float  # from the spawn to the first /healthz answer
    imports_s: float  # of which the imports (the app's modules and everything below them)
    rss_mb: float  # after idling


def start_once(kind: str, env: dict[str, str], *, idle_s: float, log: Path,
               importtime: bool = False) -> Start:
    """Start one fresh process, wait for its /healthz, let it idle, read its memory, stop it."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}/healthz"
    log.write_bytes(b"")
    with log.open("ab") as out:
        started = time.perf_counter()
        process = subprocess.Popen(_command(kind, port, importtime=importtime), cwd=ROOT, env=env,
                                   stdout=out, stderr=out)
    try:
        with httpx.Client(timeout=1.0) as http:
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"{kind} exited with {process.returncode}; see {log}")
                try:
                    if http.get(url).status_code < 500:
                        break
                except httpx.TransportError:
                    pass
                if time.perf_counter() - started > 60:
                    raise RuntimeError(f"{kind} did not answer /healthz within 60 s; see {log}")
                time.sleep(0.01)
        serving = time.perf_counter() - started
        time.sleep(idle_s)
        rss = _rss_mb(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    marks = [line for line in log.read_text(errors="replace").splitlines() if line.startswith(IMPORTS_MARK)]
    return Start(serving, float(marks[0].removeprefix(IMPORTS_MARK)) if marks else float("nan"), rss)


def _environment(*, folder: Path, dms_url: str, slack_url: str) -> dict[str, str]:
    clean = {key: value for key, value in os.environ.items()
             if not key.startswith(("SLACK_", "DMS_", "DATABASE_", "OPS_"))}
    return {**clean, "PYTHONUNBUFFERED": "1", "DATABASE_URL": f"sqlite:///{folder / 'bot.db'}",
            "DMS_URL": dms_url, "SLACK_API_URL": slack_url, "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET, "DMS_TIMEOUT_SECONDS": "5", "DMS_RETRIES": "0",
            "LOG_LEVEL": "WARNING"}


def import_costs(env: dict[str, str], *, folder: Path, top: int) -> list[tuple[float, str]]:
    """The bot's imports under ``-X importtime``: (seconds, package) of the costliest top-level packages,
    each module's own time added to its package's."""
    log = folder / "importtime.log"
    start_once("bot", env, idle_s=0.0, log=log, importtime=True)
    costs: dict[str, float] = {}
    for line in log.read_text(errors="replace").splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        own, _, name = line.removeprefix("import time:").split("|")
        package = name.strip().split(".")[0]
        costs[package] = costs.get(package, 0.0) + int(own) / 1e6
    return sorted(((seconds, package) for package, seconds in costs.items()), reverse=True)[:top]


def _start_server(make: str) -> tuple[multiprocessing.process.BaseProcess, Connection, str]:
    ours, theirs = multiprocessing.Pipe()
    process = multiprocessing.get_context("spawn").Process(target=_serve_until_told, args=(make, theirs),
                                                           daemon=True)
    process.start()
    return process, ours, str(ours.recv())


def compile_bytecode() -> None:
    """Compile the bot's packages as an install does (pip writes each module's .pyc): a checkout run with
    PYTHONDONTWRITEBYTECODE (as on these machines) would otherwise compile every module at every start and
    measure the compiler, about 0.5 s, not the start."""
    for package in ("bot", "handlers", "workflow", "dms"):
        compileall.compile_dir(str(ROOT / package), quiet=1)


def run(*, rounds: int, idle_s: float, importtime: bool) -> int:
    compile_bytecode()
    servers = [_start_server(make) for make in ("dms", "slack")]
    try:
        with tempfile.TemporaryDirectory(prefix="bench-start-") as name:
            folder = Path(name)
            env = _environment(folder=folder, dms_url=servers[0][2], slack_url=servers[1][2])
            log = folder / "process.log"
            first = start_once("bot", env, idle_s=0.0, log=log)  # creates and migrates the database
            measured: dict[str, list[Start]] = {kind: [] for kind in KINDS}
            for _ in range(rounds):  # alternate, so a burst of load on the machine hits all alike
                for kind in KINDS:
                    measured[kind].append(start_once(kind, env, idle_s=idle_s, log=log))
            start, rss = report(measured, first=first.serving_s, idle_s=idle_s)
            if importtime:
                costs = import_costs(env, folder=folder, top=14)
                print("the bot's imports by package (python -X importtime, each slower than without): "
                      + ", ".join(f"{package} {seconds * 1000:.0f} ms" for seconds, package in costs))
            return 0 if start <= TARGET_START_S and rss <= TARGET_RSS_MB else 1
    finally:
        for process, pipe, _ in servers:
            pipe.send("stop")
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()


def report(measured: dict[str, list[Start]], *, first: float, idle_s: float) -> tuple[float, float]:
    """Print the medians side by side; the bot's (start seconds, idle MB)."""
    median = {kind: Start(*(statistics.median(getattr(one, field) for one in starts)
                            for field in Start._fields)) for kind, starts in measured.items()}
    rounds = len(measured["bot"])
    for kind, label in KINDS.items():
        values = measured[kind]
        print(f"{label}: start to /healthz {median[kind].serving_s:.3f} s, of which imports "
              f"{median[kind].imports_s:.3f} s; idle RSS {median[kind].rss_mb:.0f} MB after {idle_s:g} s "
              f"(each of {rounds}: {', '.join(f'{one.serving_s:.2f}' for one in values)} s; "
              f"{', '.join(f'{one.rss_mb:.0f}' for one in values)} MB)")
    bot, installed, bare = median["bot"], median["installed"], median["bare"]
    print(f"the bot after its imports (settings, database and its migration check, catalog, engine, "
          f"scheduler, listener): {bot.serving_s - bot.imports_s:.3f} s; bare Bolt: "
          f"{bare.serving_s - bare.imports_s:.3f} s")
    print(f"first start of the bot (creates and migrates its database): {first:.3f} s")
    print(f"ratio bot / bare: start {bot.serving_s / bare.serving_s:.2f}x, idle RSS "
          f"{bot.rss_mb / bare.rss_mb:.2f}x; without the dev extras (as installed) "
          f"{installed.serving_s / bare.serving_s:.2f}x and {installed.rss_mb / bare.rss_mb:.2f}x")
    print(f"bot start to serving {bot.serving_s:.3f} s (target < {TARGET_START_S:g} s): "
          f"{'OK' if bot.serving_s <= TARGET_START_S else 'TOO SLOW'}; idle RSS {bot.rss_mb:.0f} MB "
          f"(target < {TARGET_RSS_MB:g} MB): {'OK' if bot.rss_mb <= TARGET_RSS_MB else 'TOO BIG'}")
    return bot.serving_s, bot.rss_mb


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="starts of each; medians are compared")
    parser.add_argument("--idle-s", type=float, default=3.0, help="idle seconds before reading the RSS")
    parser.add_argument("--importtime", action="store_true", help="print the bot's import costs too")
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.serve_bare:
        serve_bare(options.serve_bare)
        sys.exit(0)
    sys.exit(run(rounds=max(1, options.rounds), idle_s=max(0.0, options.idle_s),
                 importtime=options.importtime))
