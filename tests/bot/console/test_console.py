"""The console: a scripted session through a whole upgrade, exit codes, settings and the transcript.

Sessions run in-process (StringIO in and out) on the real app, simulated DMS and fake Slack, with the
simulator fast and Slack pacing short; one test drives the installed ``dm-upgrade`` through a pipe.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.console.commands import HELP, Console
from bot.console.fake_slack import FakeEvent, FakeMessage
from bot.console.render import Transcript
from bot.console.runner import ConsoleOptions, console_settings, run_console, start_console
from bot.settings import Settings
from workflow.model.errors import ConfigError

FAST = ConsoleOptions(speed=3000, pacer_interval_s=0.05, settle_timeout_s=60)
# The required manual items of a 10.4 -> 10.5 plan (numbers as the console shows them); 15 is the known
# issue the path carries, a manual item of its own.
TICKS = "tick 5 6 7 10 11 12 13 14 15 16 17 18 21 23"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Settings read the environment and ./.env: neither may leak into these tests.
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)


async def session(script: str, *, options: ConsoleOptions = FAST) -> tuple[int, str]:
    out = io.StringIO()
    code = await run_console(Settings(_env_file=None), options=options, stdin=io.StringIO(script), stdout=out,
                             interactive=False)
    return code, out.getvalue()


def in_order(text: str, *needles: str) -> None:
    position = 0
    for needle in needles:
        found = text.find(needle, position)
        assert found >= 0, f"{needle!r} not found after position {position} in:\n{text}"
        position = found + len(needle)


async def test_scripted_session_plans_approves_and_finishes_an_upgrade() -> None:
    script = "\n".join([
        "# a comment and a blank line are skipped",
        "",
        "/dm-upgrade plan 10.5",
        TICKS,
        "window now for 2h",
        "/dm-upgrade check",
        "/as bob",
        "click 1",
        "show",
    ]) + "\n"
    code, text = await session(script)
    assert code == 0, text
    in_order(
        text,
        "dm-upgrade console: simulated DMS (4 agents on 10.4.0 CU3", "approvers: bob",
        "alice> /dm-upgrade plan 10.5", "[m1] #upgrades", "Upgrade plan #1: default [SIMULATED DMS]",
        "10.4.0 CU3 → 10.5.0 CU18",
        "State: planned", "Known issue", "(5) [ ] key-functions: Key DMS functionalities",
        "(15) [ ] Known issue handled",
        "[30] Set window",
        "alice> tick 5 6 7 10 11 12 13 14 15 16 17 18 21 23", "~ m1 updated:",
        "(5) [x] key-functions: Key DMS functionalities",
        "(14) [x] Requirement met",
        "alice> window now for 2h", "[form] == Upgrade window ==", "(form submitted: window from",
        "State: awaiting approval", "Approval needed for plan #1", "[1] Approve", "[2] Reject",
        "alice> /dm-upgrade check", "Pre-upgrade check of plan #1 started",
        "alice> /as bob", "(now acting as bob, an approver)",
        "bob> click 1", "confirm dialog", "Approved by @bob",
        "Hop 1/1 started", "Status of plan #1 [SIMULATED DMS]",
        "Upgrade done: default [SIMULATED DMS] runs 10.5.0 CU18",
        "bob> show", "[m1]", "State: done",
    )
    # A window "now" opens at once, so the approval request follows the pre-check closely: the check's
    # reply and the message's state edits may print in either order, but both before the next line.
    window = text[text.index("alice> window now"):text.index("alice> /dm-upgrade check")]
    assert "reply to m1" in window and "Pre-upgrade check passed" in window
    after_approval = text[text.index("bob> click 1"):text.index("bob> show")]
    assert "State: done" in after_approval and "Verification passed" in after_approval
    # The plan message is edited many times but never reprinted whole, except by `show`.
    assert text.count("Time estimate per MOP phase") == 2
    assert "(only visible to bob)" not in text  # no refusal for the approver


async def test_refusals_and_bad_input_make_the_exit_code_1() -> None:
    script = "\n".join([
        "/dm-upgrade plan banana",
        "/dm-upgrade plan 10.5",
        TICKS,
        "window now",
        "/as carol",
        "click 1",
        "frobnicate",
    ]) + "\n"
    code, text = await session(script)
    assert code == 1
    in_order(
        text,
        "alice> /dm-upgrade plan banana", "(only visible to alice)", "'banana' is not a DataMiner version",
        "Usage:",
        "[m1] #upgrades",
        "(now acting as carol, not an approver)", "carol> click 1", "(only visible to carol)",
        "carol> frobnicate", "! unknown command 'frobnicate': type help",
    )
    assert "State: executing" not in text and "Upgrade done" not in text


async def test_a_clean_script_exits_0_and_quit_stops_reading() -> None:
    code, text = await session("/dm-upgrade help\nhelp\nquit\n/dm-upgrade plan 10.5\n")
    assert code == 0
    assert "/dm-upgrade plan" in text and "click N [in mK]" in text
    assert "[m1]" not in text  # the line after quit never ran


async def test_a_pasted_huge_line_is_echoed_short_in_the_error() -> None:
    code, text = await session("a" * 5000 + "\n" + "show " + "m" * 5000 + "\n/as " + "b" * 5000 + "\n")
    assert code == 1
    errors = [line for line in text.splitlines() if line.startswith("  ! ")]
    assert len(errors) == 3 and all(len(line) < 120 for line in errors), errors
    assert errors[0].startswith("  ! unknown command 'aaaa") and errors[0].endswith("…': type help")


async def test_clicking_what_does_not_exist_fails_clearly() -> None:
    code, text = await session("click 1\n/dm-upgrade plan 10.5\nclick 99\ntick 30\nwindow 2020-01-01 10:00\n")
    assert code == 1
    in_order(text, "! no message has buttons or checkboxes yet", "! m1 has no element 99",
             "! [30] in m1 is a button: use click 30", "the form was refused", "in the past")


def test_console_settings_default_to_the_simulator_and_the_approver() -> None:
    base = Settings(_env_file=None, upgrade_approver_group="S123")
    settings = console_settings(base, options=ConsoleOptions(speed=50, agents=1, version="10.3.0 CU9",
                                                             faults=("critical_alarms:count=1",)))
    assert settings.dms_simulated and settings.sim_faults == ["critical_alarms:count=1"]
    assert settings.upgrade_approvers == ["U0BOB"]
    assert settings.upgrade_approver_group is None
    assert settings.database_url == "sqlite:///dm-upgrade.db"  # the working directory's, as `run` uses
    assert (settings.sim_speed, settings.sim_agents, settings.sim_version) == (50, 1, "10.3.0 CU9")
    assert settings.sim_failover_pairs == 0  # one agent cannot form a pair


def test_console_settings_keep_what_was_configured(tmp_path: Path) -> None:
    base = Settings(_env_file=None, database_url="sqlite:///kept.db", upgrade_approvers="carol,U0XYZ",
                    dms_url="https://dms.example")
    settings = console_settings(base, options=ConsoleOptions())
    assert settings.database_url == "sqlite:///kept.db"
    assert settings.upgrade_approvers == ["U0CAROL", "U0XYZ"]
    assert settings.dms_url == "https://dms.example" and not settings.dms_simulated  # DMS_URL is honoured
    targets = Settings(_env_file=None, dms_targets_file=tmp_path / "targets.toml")
    assert console_settings(targets, options=ConsoleOptions()).dms_targets_file == tmp_path / "targets.toml"
    with pytest.raises(ConfigError, match="--fault needs the embedded simulated DMS"):
        console_settings(base, options=ConsoleOptions(faults=("session_expiry",)))


def _message(ts: str, text: str, *, thread_ts: str | None = None) -> FakeMessage:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    return FakeMessage(channel="C1", ts=ts, text=text, blocks=blocks, thread_ts=thread_ts,
                       reply_broadcast=False, user="UBOT")


def test_transcript_indents_replies_and_keeps_edits_short() -> None:
    transcript = Transcript(user_names={"U0BOB": "bob"}, channel_names={"C1": "upgrades"})

    def feed(kind: str, ts: str, text: str, thread_ts: str | None = None) -> list[str]:
        event = FakeEvent(kind=kind, message=_message(ts, text, thread_ts=thread_ts))  # type: ignore[arg-type]
        return transcript.lines_for(event)

    assert feed("posted", "1.1", "*Plan*\nState: planned\nA\nB") == [
        "[m1] #upgrades", "  Plan", "  State: planned", "  A", "  B"]
    assert feed("posted", "1.2", "Progress 0%", "1.1") == ["      [m2] reply to m1", "        Progress 0%"]
    assert feed("updated", "1.2", "Progress 50%", "1.1") == ["      ~ m2: Progress 50%"]
    assert feed("updated", "1.2", "Progress 60%\n• DMA01: 10%\n• DMA02: 10%", "1.1") == [
        "      ~ m2: Progress 60% · • DMA01: 10% (+1 more)"]
    assert feed("updated", "1.1", "*Plan*\nState: done by <@U0BOB>\nA\nB") == [
        "~ m1 updated:", "  State: done by @bob"]
    assert feed("updated", "1.1", "*Plan*\nState: done by <@U0BOB>\nA\nB") == []  # nothing changed
    assert transcript.latest_with_elements() is None


async def test_an_interactive_confirm_dialog_reads_as_a_question() -> None:
    class Session:  # only what Console.confirm uses
        transcript = Transcript(user_names={}, channel_names={})

    out = io.StringIO()
    console = Console(Session(), out=out, interactive=True, timeout_s=1)  # type: ignore[arg-type]

    async def answer() -> str:
        return "y\n"

    console.read_line = answer
    dialog = {"title": {"type": "plain_text", "text": "Approve the upgrade?"},
              "text": {"type": "mrkdwn", "text": "The bot upgrades DMS now."}}
    assert await console.confirm(dialog)
    assert out.getvalue() == "  Approve the upgrade? The bot upgrades DMS now. [y/N] "


def test_help_explains_the_button_markers() -> None:
    assert "Label*" in HELP and "Label!" in HELP and "[x]" in HELP


def test_piped_into_the_installed_command(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "console", "--speed", "3000"],
        input="/dm-upgrade help\n/dm-upgrade plan 99.9\nshow m99\n/dm-upgrade plan latest\n",
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60,
    )
    assert result.returncode == 1, result.stderr
    assert "alice> /dm-upgrade help" in result.stdout and "records a plan" in result.stdout
    # The plan of an unknown version is refused with the reason; the usage is for syntax errors only.
    in_order(result.stdout, "alice> /dm-upgrade plan 99.9", "not in the release catalog", "alice> show m99")
    assert "Usage:" not in result.stdout
    in_order(result.stdout, "alice> show m99", "! no message 'm99'", "alice> /dm-upgrade plan latest",
             "[m1] #upgrades", "10.4.0 CU3 → 10.6.0 CU6 (track: main)")
    assert "internal error" not in result.stdout and "Traceback" not in result.stderr
    # The console kept its database in the working directory: the audit log shows the plan.
    audit = subprocess.run([sys.executable, "-m", "bot.cli", "audit"], capture_output=True, text=True,
                           cwd=tmp_path, env=env, timeout=60)
    assert audit.returncode == 0, audit.stderr
    assert '"plan_id": 1' in audit.stdout and "plan" in audit.stdout


def test_a_bad_console_option_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("bot.logs.setup_logging", lambda **_: None)
    code = start_console(Settings(_env_file=None), options=ConsoleOptions(version="banana"))
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("dm-upgrade: invalid simulated DMS (SIM_*) settings: VERSION: Value error")
    assert err.count("\n") == 1


async def test_reject_asks_for_a_reason_in_a_form_and_tells_the_channel() -> None:
    """Through the piped console: Reject opens a form, ``submit TEXT`` gives the reason."""
    script = "\n".join([
        "/dm-upgrade plan 10.5",
        TICKS,
        "window now for 2h",
        "/as bob",
        "click 2",
        "submit",
        "submit not tonight: change freeze",
    ]) + "\n"
    code, text = await session(script)
    assert code == 1, text  # the empty submission is refused, and said so
    in_order(
        text,
        "Approval needed for plan #1", "[1] Approve", "[2] Reject",
        "bob> click 2", "[form] == Reject the upgrade ==", "Why reject?",
        "bob> submit", "the form was refused",
        "bob> submit not tonight: change freeze", "Plan #1 rejected by @bob: not tonight: change freeze",
    )
async def test_the_console_works_on_the_dms_of_dms_url_not_its_own_simulator() -> None:
    from simulator import SimulatedDms, SimulatorConfig

    config = SimulatorConfig(agents=2, version="10.2.0 CU5", speed=3000, alarms=0)
    async with SimulatedDms(config) as sim:
        url, out = sim.url, io.StringIO()
        settings = Settings(_env_file=None, dms_url=url)
        code = await run_console(settings, options=FAST, stdin=io.StringIO("/dm-upgrade plan 10.3\n"),
                                 stdout=out, interactive=False)
    text = out.getvalue()
    assert code == 0, text
    in_order(text, f"dm-upgrade console: DMS {url};", "[m1] #upgrades", "10.2.0 CU5 →")
    assert "SIMULATED" not in text and "simulated DMS (" not in text


async def test_a_fault_given_to_the_console_reaches_its_simulator() -> None:
    options = ConsoleOptions(speed=3000, pacer_interval_s=0.05, settle_timeout_s=60,
                             faults=("prerequisite_check_fails:check=Verify OS Version",))
    script = f"/dm-upgrade plan 10.5\n{TICKS}\nwindow now for 2h\n/as bob\nclick 1\n"
    code, text = await session(script, options=options)
    # DataMiner runs the prerequisite checks again when the upgrade starts; the utility's exit code says
    # the package was refused, and no agent was touched.
    in_order(text, "faults: prerequisite_check_fails:check=Verify OS Version", "alice> window now",
             "Pre-upgrade check passed", "bob> click 1", "exited with code 1", "No agent left its version")
    assert "State: done" not in text and code == 0


async def test_the_watch_story_runs_through_the_piped_console_with_the_simulator_playing_cube() -> None:
    options = ConsoleOptions(speed=3000, pacer_interval_s=0.05, settle_timeout_s=60, play_cube=True)
    script = f"/dm-upgrade plan 10.5\n{TICKS}\nwindow now\n/as bob\nclick 1\nclick 1\nclick 1\n"
    out = io.StringIO()
    code = await run_console(Settings(_env_file=None, dms_driver="watch"), options=options,
                             stdin=io.StringIO(script), stdout=out, interactive=False)
    text = out.getvalue()
    assert code == 0, text
    in_order(text, "watch driver, the simulator plays Cube", "bob> click 1", "Approved by @bob",
             "step Upload only in DataMiner Cube", "Click Upload only", "[1] Done in Cube",
             "bob> click 1", "Upgrade done: default [SIMULATED DMS] runs 10.5.0 CU18")
    # The second step's request and the first step's confirmation are two messages edited in place: the
    # console may print the edit of one before the post of the other, so only what each says is checked.
    assert "step Upgrade in DataMiner Cube" in text and "Click Upgrade" in text
    assert text.count("done in Cube, confirmed by @bob") >= 2
    assert "Upload verified in Cube" not in text  # the old optional checklist item that blocked the hop


def test_sim_faults_from_the_environment_keep_their_own_commas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIM_FAULTS", "critical_alarms:agent=1,count=2; session_expiry")
    assert Settings(_env_file=None).sim_faults == ["critical_alarms:agent=1,count=2", "session_expiry"]


def test_shared_files_go_into_the_working_directory_beside_the_database(tmp_path: Path) -> None:
    # Not a fixed folder under /tmp: a test (or a second session of another user) would overwrite the
    # pictures there. The working directory holds the session's database, so plan #1 is the same plan.
    from bot.console.runner import make_runtime
    from bot.console.session import ConsoleSession

    session = ConsoleSession(Settings(_env_file=None), make_runtime=make_runtime)
    assert session.files_dir == tmp_path / "dm-upgrade-files"
    chosen = ConsoleSession(Settings(_env_file=None), make_runtime=make_runtime, files_dir=tmp_path / "x")
    assert chosen.files_dir == tmp_path / "x"
