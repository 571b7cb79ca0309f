"""Acceptance: ``dm-upgrade check`` against a DMS answering only documented shapes.

Alarms carry their severity in ``AlarmState`` (develop/webservices/WS_v1/WS_CustomDataTypes_v1/DMAAlarm.md);
before the models followed the docs this exited 2 with "malformed answer: Severity: Field required".
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from tests.dms.documented_dms import DocumentedDms, alarm


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in ("DMS_USER", "DMS_TIMEOUT_SECONDS", "DMS_AGENT_URL_TEMPLATE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DMS_PASSWORD", "pw")
    monkeypatch.setenv("DMS_RETRIES", "0")


def check(monkeypatch: pytest.MonkeyPatch, dms: DocumentedDms) -> int:
    monkeypatch.setenv("DMS_URL", dms.url)
    return main(["check"])


@pytest.mark.parametrize(("alarms", "code"), [
    ([alarm(state="Critical")], 1),
    ([alarm(state="Critical", masked=True)], 0),
    ([alarm(state="Critical", element_masked=True)], 0),
    ([alarm(state="Critical", cleared=True)], 0),
    ([alarm(state="Minor")], 0),
])
def test_check_exit_code_follows_alarm_state_and_masking(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], alarms: list[dict[str, object]],
    code: int,
) -> None:
    with DocumentedDms(alarms=alarms) as dms:
        assert check(monkeypatch, dms) == code
        assert all(body["host"] == "" for body in dms.connect_bodies)  # ConnectApp.md: keep it empty
    out = capsys.readouterr().out
    assert "Severity" not in out
    if code:
        assert "1 Critical unmasked on DMA01" in out


def test_an_unknown_version_string_is_shown_as_read_not_unreachable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with DocumentedDms(alarms=[], version="10.6.2617.1490") as dms:
        check(monkeypatch, dms)
    out = capsys.readouterr().out
    assert "version 10.6.2617.1490 not recognised" in out and "unreachable" not in out


def test_two_step_authentication_is_one_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with DocumentedDms(alarms=[], message_type="Challenge") as dms:
        check(monkeypatch, dms)
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "this account uses two-step authentication; use a service account without it" in text
    assert "Traceback" not in text
