"""``dm-upgrade run``: the mode follows from the credentials; configuration errors are one line, exit 2.

The Slack modes are checked without connecting: the serve functions are injected and receive the started
runtime (simulated DMS, SQLite in tmp), so the real startup runs up to the network.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot import app, cli_run, event_loop
from bot.app import Runtime
from bot.cli_run import NO_CREDENTIALS, choose_mode
from bot.settings import Settings
from tests.support.fake_slack_faults import FaultySlack
from workflow.model.errors import ConfigError

BOT_TOKEN = "xoxb-111-222-secretvalue"
APP_TOKEN = "xapp-1-A111-secretvalue"
SIGNING = "0123456789abcdef-signing"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'run.db'}")
    monkeypatch.setenv("SIM_SPEED", "3000")
    monkeypatch.setenv("DMS_URL", "simulated")  # Slack modes need the DMS named, a simulator included
    # run() configures the root logger for the Slack modes; keep pytest's own log capture in place.
    monkeypatch.setattr(cli_run, "setup_logging", lambda **_: None)


def args(**values: Any) -> argparse.Namespace:
    return argparse.Namespace(command="run", host=values.get("host"), port=values.get("port"))


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def socket(self, runtime: Runtime) -> None:
        assert runtime.engine is not None and runtime.simulator is not None  # started for real
        self.calls.append(("socket", {}))

    async def http(self, runtime: Runtime, *, host: str, port: int) -> None:
        assert runtime.app is not None
        self.calls.append(("http", {"host": host, "port": port}))

    def console(self, settings: Settings) -> int:
        self.calls.append(("console", {"dms": settings.dms_url}))
        return 0


def run(recorder: Recorder, **kw: Any) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli_run.run(args(**kw), serve_socket=recorder.socket, serve_http=recorder.http,
                       console=recorder.console, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("env", "mode"),
    [
        ({"slack_app_token": APP_TOKEN, "slack_bot_token": BOT_TOKEN}, "socket"),
        ({"slack_app_token": APP_TOKEN, "slack_bot_token": BOT_TOKEN, "slack_signing_secret": SIGNING},
         "socket"),
        ({"slack_bot_token": BOT_TOKEN, "slack_signing_secret": SIGNING}, "http"),
        ({}, "console"),
    ],
)
def test_the_mode_follows_from_the_credentials(env: dict[str, Any], mode: str) -> None:
    assert choose_mode(Settings(_env_file=None, **env)) == mode


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"slack_bot_token": BOT_TOKEN}, "neither SLACK_APP_TOKEN"),
        ({"slack_signing_secret": SIGNING}, "SLACK_BOT_TOKEN is not"),
    ],
)
def test_half_a_slack_configuration_is_an_error(env: dict[str, Any], says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        choose_mode(Settings(_env_file=None, **env))


def test_socket_mode_when_the_app_token_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_APP_TOKEN", APP_TOKEN)
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    recorder = Recorder()
    code, _, err = run(recorder)
    assert (code, err) == (0, "")
    assert recorder.calls == [("socket", {})]


def test_http_mode_on_port_from_settings_or_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING)
    monkeypatch.setenv("PORT", "3999")
    recorder = Recorder()
    assert run(recorder)[0] == 0
    assert run(recorder, host="127.0.0.1", port=4001)[0] == 0
    assert recorder.calls == [("http", {"host": "0.0.0.0", "port": 3999}),
                              ("http", {"host": "127.0.0.1", "port": 4001})]


@pytest.mark.skipif(sys.platform == "win32", reason="uvloop has no Windows build")
@pytest.mark.parametrize(("choice", "loop"), [(None, "uvloop"), ("asyncio", "asyncio"), ("uvloop", "uvloop")])
def test_the_bot_serves_on_uvloop_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch, choice: str | None, loop: str
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING)
    if choice is not None:
        monkeypatch.setenv("EVENT_LOOP", choice)
    seen: list[str] = []

    async def serve(runtime: Runtime, *, host: str, port: int) -> None:
        assert runtime.engine is not None and runtime.simulator is not None  # the runtime started on it
        seen.append(event_loop.loop_name(asyncio.get_running_loop()))

    code = cli_run.run(args(), serve_http=serve, stdout=io.StringIO(), stderr=io.StringIO())
    assert (code, seen) == (0, [loop])


def test_an_event_loop_that_is_not_installed_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING)
    monkeypatch.setenv("EVENT_LOOP", "uvloop")
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop raises ImportError
    code, _, err = run(Recorder())
    assert code == 2
    assert err.strip().splitlines() == [err.strip()]
    assert "EVENT_LOOP=uvloop, but uvloop is not installed" in err


def test_an_unknown_event_loop_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENT_LOOP", "trio")
    code, _, err = run(Recorder())
    assert code == 2 and "EVENT_LOOP" in err.upper()


def test_no_credentials_starts_the_console_and_says_so() -> None:
    recorder = Recorder()
    code, out, err = run(recorder)
    assert code == 0 and err == ""
    assert out.strip() == NO_CREDENTIALS
    assert recorder.calls == [("console", {"dms": "simulated"})]


@pytest.mark.parametrize(
    ("env", "line"),
    [
        ({"PORT": "abc"}, "dm-upgrade: invalid settings: PORT: Input should be a valid integer"),
        ({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": "xoxb-not-an-app-token"},
         "dm-upgrade: SLACK_APP_TOKEN is not an app-level token: it must start with xapp-"),
        ({"SLACK_BOT_TOKEN": "xoxp-user-token-secretvalue", "SLACK_SIGNING_SECRET": SIGNING},
         "dm-upgrade: SLACK_BOT_TOKEN is not a bot token: it must start with xoxb-"),
        ({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING,
          "DMS_URL": "http://admin:secretvalue@127.0.0.1:9"},
         "dm-upgrade: DMS 'default': the URL must not contain a user or password; give them as DMS_USER"),
        ({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING, "SIM_VERSION": "banana"},
         "dm-upgrade: invalid simulated DMS (SIM_*) settings: VERSION: Value error, 'banana' is not"),
        ({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING,
          "DATABASE_URL": "sqlite:////nonexistent-dir/secretvalue/app.db"},
         "dm-upgrade: the database (DATABASE_URL) cannot be used: unable to open database file"),
        ({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING, "DATABASE_URL": "nosuchdb://x"},
         "dm-upgrade: the database (DATABASE_URL) cannot be used: Can't load plugin"),
    ],
)
def test_configuration_errors_are_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], line: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    recorder = Recorder()
    code, _, err = run(recorder)
    assert code == 2
    assert err.startswith(line), err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "secretvalue" not in err and recorder.calls == []


@pytest.mark.parametrize("mode_env", [{"SLACK_APP_TOKEN": APP_TOKEN, "SLACK_BOT_TOKEN": BOT_TOKEN},
                                      {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING}])
@pytest.mark.parametrize("dms_url", [None, ""])
def test_slack_mode_without_dms_url_is_a_configuration_error_not_a_simulator(
    monkeypatch: pytest.MonkeyPatch, mode_env: dict[str, str], dms_url: str | None
) -> None:
    for name, value in mode_env.items():
        monkeypatch.setenv(name, value)
    if dms_url is None:
        monkeypatch.delenv("DMS_URL")
    else:
        monkeypatch.setenv("DMS_URL", dms_url)
    recorder = Recorder()
    code, _, err = run(recorder)
    assert (code, err) == (2, f"dm-upgrade: {cli_run.NO_DMS}\n")
    assert recorder.calls == []


def test_slack_mode_with_a_targets_file_needs_no_dms_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    targets = tmp_path / "targets.toml"
    targets.write_text('[[targets]]\nname = "lab"\nurl = "simulated"\n', encoding="utf-8")
    monkeypatch.delenv("DMS_URL")
    monkeypatch.setenv("DMS_TARGETS_FILE", str(targets))
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING)
    settings = Settings()
    cli_run.require_dms(settings)  # no error


def test_bare_command_falls_back_to_the_console(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}
    env["SIM_SPEED"] = "3000"
    result = subprocess.run([sys.executable, "-m", "bot.cli"], input="/dm-upgrade history\n",
                            capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(NO_CREDENTIALS)
    assert "alice> /dm-upgrade history" in result.stdout


def test_a_token_of_the_wrong_kind_is_the_only_line_on_stderr(tmp_path: Path) -> None:
    # In a real process: no log line (alembic's import-time ones included) may come before the error.
    env = {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}
    env.update({"SLACK_APP_TOKEN": "xoxb-pasted-in-the-wrong-place-secretvalue",
                "SLACK_BOT_TOKEN": BOT_TOKEN})
    result = subprocess.run([sys.executable, "-m", "bot.cli", "run"], capture_output=True, text=True,
                            cwd=tmp_path, env=env, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 2
    assert result.stderr == (
        "dm-upgrade: SLACK_APP_TOKEN is not an app-level token: it must start with xapp-\n"), result.stderr


def socket_mode_settings(tmp_path: Path, slack_url: str) -> Settings:
    return Settings(_env_file=None, slack_app_token=APP_TOKEN, slack_bot_token=BOT_TOKEN,
                    slack_api_url=slack_url, database_url=f"sqlite:///{tmp_path / 'socket.db'}",
                    sim_speed=3000)


async def test_socket_mode_with_a_refused_app_token_stops_with_one_line(tmp_path: Path) -> None:
    # slack_sdk's Socket Mode client would retry forever; the bot asks Slack (SLACK_API_URL) once first.
    slack = FaultySlack()
    url = await slack.start()
    try:
        slack.fail_next("apps.connections.open", status=200, error="invalid_auth")
        settings = socket_mode_settings(tmp_path, url)
        with pytest.raises(ConfigError, match=r"^Slack refused the credentials: invalid_auth$"):
            await cli_run._serve(settings, mode="socket", host="127.0.0.1", port=0, serve_socket=None,
                                 serve_http=None)
        # Asked once, not retried (auth.test is the background check of the bot token, bot.slack_check).
        asked = [call.method for call in slack.calls if call.method != "auth.test"]
        assert asked == ["apps.connections.open"]
    finally:
        await slack.stop()


async def test_socket_mode_handler_gets_the_app_the_token_and_the_web_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    seen: list[AsyncSocketModeHandler] = []

    class Connected(Exception):
        pass

    async def connect(self: AsyncSocketModeHandler) -> None:  # stands in for the WebSocket
        seen.append(self)
        raise Connected

    monkeypatch.setattr(AsyncSocketModeHandler, "connect_async", connect)
    slack = FaultySlack()
    url = await slack.start()
    try:
        async with Runtime(socket_mode_settings(tmp_path, url)) as runtime:
            with pytest.raises(Connected):
                await app.serve_socket_mode(runtime)
            (handler,) = seen
            assert handler.app is runtime.app and handler.app_token == APP_TOKEN
            assert handler.client.web_client is runtime.web_client
            assert runtime.web_client.base_url == url
        # Asked once, not retried (auth.test is the background check of the bot token, bot.slack_check).
        asked = [call.method for call in slack.calls if call.method != "auth.test"]
        assert asked == ["apps.connections.open"]
    finally:
        await slack.stop()


async def test_no_misleading_bolt_token_warning_at_startup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Bolt reads SLACK_BOT_TOKEN itself and warns the token "will be unused" though the client carries it.
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    slack = FaultySlack()
    url = await slack.start()
    try:
        with caplog.at_level("WARNING"):
            async with Runtime(socket_mode_settings(tmp_path, url)):
                pass
        assert not [r for r in caplog.records if r.name.startswith("slack_bolt")], caplog.text
    finally:
        await slack.stop()


def test_an_unreachable_dms_does_not_stop_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    # After a crash in the middle of an upgrade the agents are restarting: the bot must come up anyway.
    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING, "DMS_URL": "http://127.0.0.1:9",
           "DMS_RETRIES": "0", "DMS_TIMEOUT_SECONDS": "1"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    recorder = Recorder()
    code, _, err = run(recorder)
    assert code == 0 and err == ""
    assert recorder.calls == [("http", {"host": "0.0.0.0", "port": 3000})]
