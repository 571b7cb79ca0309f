"""The slash command's grammar, as a table: what parses to what, and what is refused with which message."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from handlers.listeners.command_parser import (
    HELP_TEXT,
    CancelCommand,
    CheckCommand,
    HelpCommand,
    HistoryCommand,
    ParseError,
    PlanCommand,
    StatusCommand,
    TickCommand,
    TimelineCommand,
    parse_command,
    parse_duration,
)

AT = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)


@pytest.mark.parametrize(("text", "expected"), [
    ("", HelpCommand()),
    ("help", HelpCommand()),
    ("  HELP  ", HelpCommand()),
    ("plan 10.4", PlanCommand(version="10.4")),
    ("plan 10.4.0 CU5", PlanCommand(version="10.4.0 CU5")),
    ("plan 10.4 track feature", PlanCommand(version="10.4", track="feature")),
    ("plan 10.4 track MAIN", PlanCommand(version="10.4", track="main")),
    ("plan 10.4 at 2026-12-01 22:00", PlanCommand(version="10.4", window_start=AT)),
    ("plan 10.4 at 2026-12-01 22:00 for 4h",
     PlanCommand(version="10.4", window_start=AT, window_minutes=240)),
    ("plan 10.4.0 CU5 track main at 2026-12-01 22:00 for 2h30m",
     PlanCommand(version="10.4.0 CU5", track="main", window_start=AT, window_minutes=150)),
    ("plan 10.4 at 2026-12-01 22:00 track feature",
     PlanCommand(version="10.4", track="feature", window_start=AT)),
    ("plan 10.4 on production", PlanCommand(version="10.4", dms="production")),
    ("plan 10.4.0 CU5 on lab-2 track main at 2026-12-01 22:00",
     PlanCommand(version="10.4.0 CU5", dms="lab-2", track="main", window_start=AT)),
    ("status", StatusCommand()),
    ("status 12", StatusCommand(plan_id=12)),
    ("status #12", StatusCommand(plan_id=12)),
    ("status 12 full", StatusCommand(plan_id=12, full=True)),
    ("status FULL", StatusCommand(full=True)),
    ("tick 3 backup", TickCommand(plan_id=3, items=("backup",))),
    ("tick #3 backup release-notes,requirements", TickCommand(plan_id=3, items=("backup", "release-notes",
                                                                                 "requirements"))),
    ("untick 3 details.backup", TickCommand(plan_id=3, items=("details.backup",), checked=False)),
    ("check", CheckCommand()),
    ("check 3", CheckCommand(plan_id=3)),
    ("cancel 7", CancelCommand(plan_id=7)),
    ("cancel 7 wrong version after all", CancelCommand(plan_id=7, reason="wrong version after all")),
    ("history", HistoryCommand()),
])
def test_parses(text: str, expected: object) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(("text", "problem"), [
    ("upgrade 10.4", "Unknown subcommand `upgrade`"),
    ("plan", "needs the target version"),
    ("plan track main", "needs the target version before the options"),
    ("plan 10.4 track beta", "`track` is `main`, `feature` or `preview`, not `beta`"),
    ("plan 10.4 track", "not `nothing`"),
    ("plan 10.4 at 2026-12-01", "`at` needs a date and a time"),
    ("plan 10.4 at 2026-13-01 22:00", "is not a date and time"),
    ("plan 10.4 at 01/12/2026 22:00", "is not a date and time"),
    ("plan 10.4 at 2026-12-01 25:00", "is not a date and time"),
    ("plan 10.4 for 4h", "comes after `at"),
    ("plan 10.4 at 2026-12-01 22:00 for", "`for` needs a duration"),
    ("plan 10.4 at 2026-12-01 22:00 for ever", "is not a duration"),
    ("plan 10.4 at 2026-12-01 22:00 for 0m", "longer than 0 minutes"),
    ("plan 10.4 track main track feature", "`track` is given twice"),
    ("plan 10.4 track main please", "Unexpected `please`"),
    ("plan 10.4 on", "`on` needs the name of a DMS"),
    ("plan 10.4 on track main", "`on` needs the name of a DMS"),
    ("plan 10.4 on a on b", "`on` is given twice"),
    ("status x", "is not a plan id"),
    ("status 1 2", "at most one plan id"),
    ("status 1 2 full", "at most one plan id"),
    ("tick 3", "needs the plan id and the items' short names"),
    ("tick backup", "needs the plan id and the items' short names"),
    ("tick x backup", "is not a plan id"),
    ("tick 3 <!channel>", "is not a checklist item's short name"),
    ("check 0", "is not a plan id"),
    ("cancel", "needs the plan id"),
    ("cancel abc", "is not a plan id"),
    ("history 5", "takes no arguments"),
])
def test_refuses_with_the_problem_and_the_usage(text: str, problem: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_command(text)
    assert problem in caught.value.problem
    assert "Usage: `/dm-upgrade plan &lt;version&gt;" in str(caught.value)  # escaped for Slack mrkdwn
    assert "UTC" in str(caught.value)


def test_echoed_input_cannot_ping_or_link() -> None:
    with pytest.raises(ParseError) as caught:
        parse_command("<!channel> 10.4")
    assert "<!channel>" not in str(caught.value)
    assert "&lt;!channel&gt;" in str(caught.value)


@pytest.mark.parametrize(("text", "minutes"), [
    ("4h", 240), ("90m", 90), ("2h30m", 150), ("1d", 1440), ("1d2h", 1560), ("15M", 15),
])
def test_durations(text: str, minutes: int) -> None:
    assert parse_duration(text) == minutes


@pytest.mark.parametrize("text", ["", "h", "4", "4x", "-1h", "1.5h", "m30"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ParseError):
        parse_duration(text)


def test_plan_from_states_the_current_version_with_spaces_up_to_the_next_keyword() -> None:
    parsed = parse_command("plan 10.5 from 10.4.0 CU3 on production")
    assert isinstance(parsed, PlanCommand)
    assert (parsed.version, parsed.current, parsed.dms) == ("10.5", "10.4.0 CU3", "production")
    with pytest.raises(ParseError, match="`from` needs the version the DMS runs"):
        parse_command("plan 10.5 from on production")


def test_timeline_takes_an_optional_plan_id() -> None:
    assert parse_command("timeline") == TimelineCommand()
    assert parse_command("timeline #7") == TimelineCommand(plan_id=7)
    with pytest.raises(ParseError):
        parse_command("timeline 1 2")
    assert "timeline [id]" in HELP_TEXT
def test_plan_latest_is_accepted_and_a_malformed_version_is_a_syntax_error() -> None:
    from handlers.listeners.command_parser import ParseError, PlanCommand, parse_command

    assert parse_command("plan latest") == PlanCommand(version="latest")
    assert parse_command("plan latest feature at 2030-01-01 10:00") == PlanCommand(
        version="latest feature", window_start=parse_command("plan 10.4 at 2030-01-01 10:00").window_start)
    for text in ("plan latest banana", "plan banana", "plan 10.x"):
        with pytest.raises(ParseError, match="Usage:"):
            parse_command(text)
    assert parse_command("plan 99.9") == PlanCommand(version="99.9")  # well formed: the engine decides


def test_the_parser_and_the_engine_read_a_target_with_one_function() -> None:
    # Before, the parser took `plan latest preview` (its track words include preview) and the engine then
    # refused it: two parsers. Both now call workflow.model.target.parse_target.
    from handlers.listeners.command_parser import ParseError, parse_command
    from workflow.model.errors import UserError
    from workflow.model.target import parse_target
    from workflow.plan_requests import parse_request

    for text in ("latest preview", "latest main feature", ""):
        with pytest.raises(UserError):
            parse_target(text)
        if text:
            with pytest.raises(ParseError, match="`latest` is followed by"):
                parse_command(f"plan {text}")
            with pytest.raises(UserError, match="`latest` is followed by"):
                parse_request(text, None)
