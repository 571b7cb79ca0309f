"""``dm-upgrade check``: exit codes and output against a simulated DMS over real HTTP."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.cli import main
from simulator import SimulatedDms, SimulatorConfig

PASSWORD = "cli-Secret-7"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in ("DMS_URL", "DMS_USER", "DMS_PASSWORD", "DMS_RETRIES", "DMS_TIMEOUT_SECONDS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def sim_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A simulated DMS on its own event loop in a thread: the CLI runs its own loop with asyncio.run."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    sim = SimulatedDms(SimulatorConfig(agents=3, failover_pairs=1, speed=6000.0, password=PASSWORD))
    url = asyncio.run_coroutine_threadsafe(sim.start(), loop).result(timeout=10)
    monkeypatch.setenv("DMS_URL", url)
    monkeypatch.setenv("DMS_PASSWORD", PASSWORD)
    monkeypatch.setenv("DMS_RETRIES", "0")
    try:
        yield url
    finally:
        asyncio.run_coroutine_threadsafe(sim.stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def test_healthy_dms_exits_0_with_readable_results(sim_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "PASS  Every agent is Running: all 3 agents are Running" in out
    assert "TODO  A backup or snapshot was taken" in out
    assert "ready to upgrade" in out


def test_json_output_and_failing_check_exit_1(sim_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    response = httpx.post(f"{sim_url}/_sim/fault", json={"fault": "critical_alarms", "agent": 2, "count": 1})
    assert response.status_code == 200
    assert main(["check", "--json", "--key-element", "DMA01 Element 001"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["passed"] is False
    failed = [r for r in data["results"] if r["status"] == "fail"]
    assert [(r["name"], r["agent"]) for r in failed] == [("alarms_blocking", "DMA02")]
    assert data["baseline"]["critical_alarm_ids"] and len(data["baseline"]["versions"]) == 3
    assert any(r["name"] == "key_element" and r["status"] == "pass" for r in data["results"])


def test_refused_credentials_exit_2_with_one_line(sim_url: str, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DMS_PASSWORD", "wrong-password-123")
    assert main(["check"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "credentials refused" in lines[0] and "Traceback" not in captured.err
    assert "wrong-password-123" not in captured.err


def test_unreachable_dms_exit_2(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DMS_URL", "http://127.0.0.1:9")  # discard port: nothing listens
    monkeypatch.setenv("DMS_RETRIES", "0")
    assert main(["check"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot use the DMS" in err and "ConnectApp" in err


def test_simulated_setting_starts_an_in_process_simulator(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DMS_URL", "simulated")
    monkeypatch.setenv("SIM_AGENTS", "2")
    monkeypatch.setenv("SIM_FAILOVER_PAIRS", "0")
    assert main(["check", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["baseline"]["versions"]) == 2


def test_invalid_settings_exit_2(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DMS_RETRIES", "many")
    assert main(["check"]) == 2
    err = capsys.readouterr().err
    assert "invalid settings: dms_retries" in err, "the message names the setting"
    assert "many" not in err


def test_missing_ca_bundle_exit_2(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                  tmp_path: Path) -> None:
    monkeypatch.setenv("DMS_URL", "https://dms.example")
    monkeypatch.setenv("DMS_CA_BUNDLE", str(tmp_path / "nope.pem"))
    assert main(["check"]) == 2
    assert "CA bundle" in capsys.readouterr().err


def test_dms_url_that_is_no_address_exit_2_at_once(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DMS_URL", "http://[::1")
    assert main(["check"]) == 2
    assert "invalid settings: DMS URL is not a valid URL" in capsys.readouterr().err


@pytest.fixture
def fast_uploads(monkeypatch: pytest.MonkeyPatch) -> None:
    # The simulator runs x6000: the script job is polled in real milliseconds, as DMS_TIME_SCALE says.
    monkeypatch.setenv("DMS_TIME_SCALE", "6000")
    monkeypatch.setenv("DMS_POLL_SECONDS", "60")


def test_without_a_target_it_says_the_packages_were_not_checked(
    sim_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "Not checked: the packages' prerequisite checks: they run in Cube's Upload only" in out


def test_a_target_never_claims_prerequisite_checks_it_cannot_run(
    sim_url: str, fast_uploads: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before, with this fault the command printed "uploaded, prerequisite checks passed: Prerequisite check
    # failed": the script never ran a check. Upload only exists only in Cube, so it is a person's step.
    response = httpx.post(f"{sim_url}/_sim/fault",
                          json={"fault": "prerequisite_check_fails", "check": "Verify NATS Cluster"})
    assert response.status_code == 200
    assert main(["check", "--target", "10.5"]) == 0
    out = capsys.readouterr().out
    assert "prerequisite checks passed" not in out and "uploaded" not in out.replace("not uploaded", "")
    assert "TODO  Upload only of DataMiner 10.5.0" in out and "(not checked)" in out
    assert "PASS  Package file DataMiner 10.5.0" in out and "(checked by the bot)" in out
    state = httpx.get(f"{sim_url}/_sim/state").json()
    assert state["uploads"] == {} and state["upgrades_triggered"] == {}


def test_a_multi_hop_target_checks_every_file_and_names_the_later_hops_checks(
    sim_url: str, fast_uploads: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--target", "10.6", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    (upload,) = [r for r in data["results"] if r["name"] == "prerequisites"]
    assert upload["status"] == "manual" and upload["title"].startswith("Upload only of ")
    files = [r for r in data["results"] if r["name"] == "package_file"]
    assert len(files) >= 2 and all(r["status"] == "pass" for r in files)
    assert any("hop 2" in line and "when each hop's upgrade starts" in line for line in data["not_checked"])
    assert httpx.get(f"{sim_url}/_sim/state").json()["uploads"] == {}


def test_a_target_without_a_path_is_one_line_exit_2(sim_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--target", "9.6"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dm-upgrade check: ") and err.count("\n") == 1


def test_script_selftest_prints_each_check_and_the_account(
    sim_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["script", "selftest"]) == 0
    out = capsys.readouterr().out
    for line in ("PASS  the orchestrator script answers (contract 2)", "PASS  TaskbarUtility: found at",
                 "PASS  Help: -help exited with 0", "PASS  Agents:", "The utility runs as: SIMULATED"):
        assert line in out, out
    assert state_of(sim_url)["upgrades_triggered"] == {}, "a selftest upgrades nothing"


def test_script_selftest_names_an_older_installed_script(
    sim_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from types import SimpleNamespace

    from dms import script_contract
    from simulator import scripts

    older = SimpleNamespace(**{**vars(script_contract), "CONTRACT_VERSION": "1"})
    monkeypatch.setattr(scripts, "contract", older)  # the DMS holds an older script than the bot needs
    assert main(["script", "selftest"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  the orchestrator script could not be run" in out and "dm-upgrade script export" in out


def state_of(url: str) -> dict[str, object]:
    return dict(httpx.get(f"{url}/_sim/state").json())
