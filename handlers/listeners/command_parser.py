"""``/dm-upgrade`` text -> one typed command, or a ``ParseError`` saying what was wrong (with the usage).

Pure: no Slack, no engine, no clock. The engine still checks what only it can know (the version exists,
no downgrade, the window is not in the past); this module only checks the shape of what was typed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from handlers import safe_text as safe
from handlers.ids import SLASH_COMMAND, USAGE
from workflow.model.campaign import CampaignRequest, parse_campaign
from workflow.model.errors import UserError
from workflow.model.target import parse_target
from workflow.model.text import duration_minutes

TRACKS = ("main", "feature", "preview")  # preview: the explicit opt-in for a preview target
_PLAN_ID_RE = re.compile(r"^#?(\d{1,9})$")

_HELP = (
    f"*{SLASH_COMMAND}* plans, checks and follows DataMiner upgrades. Times are in *UTC*.\n"
    f"• `{SLASH_COMMAND} plan <version> [on <dms>] [track main|feature] [at <YYYY-MM-DD HH:MM> "
    "[for <duration>]]` records a plan and posts it here, e.g. `plan 10.4 at 2026-12-01 22:00 for 4h` "
    "(`track preview` plans a preview release, never for production) "
    "(`on` names a DMS from the targets file; without it, the default DMS; "
    "`from <version>` states the version the DMS runs when the bot cannot read it) "
    "(durations like `4h`, `90m`, `2h30m`); `plan latest` is the latest released main release, "
    "`plan latest feature` the latest released feature release\n"
    f"• `{SLASH_COMMAND} campaign <version> on <dms> [<dms> ...] [at YYYY-MM-DD HH:MM [for 4h]] "
    "[then <dms> ...] [soak <duration>]` "
    "plans every DMS of a campaign in waves (separated by `then`; a wave's `at` gives its window, else each "
    "DMS's maintenance calendar or the earliest; `soak`, default `24h`, waits between "
    "waves), e.g. `campaign 10.5 on staging then prod-eu prod-us soak 24h`, and posts its card in the "
    "channel: each DMS's path, estimate and window, and the buttons to approve, halt, resume, skip a DMS "
    "and abort it\n"
    f"• `{SLASH_COMMAND} status [id] [full]` shows where a plan stands (the active one of this channel by "
    "default); `full` shows the whole plan with its checklist\n"
    f"• `{SLASH_COMMAND} tick <id> <item> [<item> ...]` ticks checklist items by their short name, the same "
    "in every plan (e.g. `tick 12 backup release-notes`); `untick` unticks them\n"
    f"• `{SLASH_COMMAND} check [id]` runs the pre-upgrade check now\n"
    f"• `{SLASH_COMMAND} cancel <id> [reason]` cancels a plan\n"
    f"• `{SLASH_COMMAND} history` lists the latest plans\n"
    f"• `{SLASH_COMMAND} timeline [id]` posts a picture of where the plan's time went into its thread\n"
    f"• `{SLASH_COMMAND} help` shows this"
)


HELP_TEXT = safe.literal(_HELP)


def with_usage(problem: str) -> str:
    """A reply to bad input: what was wrong (it may quote what the user typed), then the usage."""
    return f"{safe.literal(problem)}\nUsage: `{SLASH_COMMAND} {safe.literal(USAGE)}` (times in UTC)"


class ParseError(ValueError):
    """What was wrong with the typed text; ``str()`` is the whole reply (problem, then the usage)."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(with_usage(problem))


@dataclass(frozen=True)
class PlanCommand:
    version: str
    dms: str | None = None  # a target's name from DMS_TARGETS_FILE; None: the default DMS
    track: str | None = None
    window_start: datetime | None = None  # aware, UTC
    window_minutes: int | None = None
    # The version the DMS runs, stated by the requester when the DMS reports one the bot cannot read.
    current: str | None = None


@dataclass(frozen=True)
class StatusCommand:
    plan_id: int | None = None
    full: bool = False  # the whole plan message, not the short answer


@dataclass(frozen=True)
class TickCommand:
    plan_id: int
    items: tuple[str, ...]  # short names (``backup``) or full keys, as typed
    checked: bool = True


@dataclass(frozen=True)
class CheckCommand:
    plan_id: int | None = None


@dataclass(frozen=True)
class CancelCommand:
    plan_id: int
    reason: str = ""


@dataclass(frozen=True)
class HistoryCommand:
    pass


@dataclass(frozen=True)
class TimelineCommand:
    plan_id: int | None = None


@dataclass(frozen=True)
class HelpCommand:
    pass


@dataclass(frozen=True)
class CampaignCommand:
    request: CampaignRequest  # read by ``workflow.model.campaign``, the CLI's grammar too


Command = (PlanCommand | StatusCommand | TickCommand | CheckCommand | CancelCommand | HistoryCommand
           | TimelineCommand | HelpCommand | CampaignCommand)


def parse_duration(text: str) -> int:
    """``4h``, ``90m``, ``2h30m``, ``1d`` -> minutes; ``ParseError`` otherwise."""
    minutes = duration_minutes(text)
    if minutes is None:
        raise ParseError(f"`{text}` is not a duration: write it like `4h`, `90m` or `2h30m`")
    if minutes <= 0:
        raise ParseError("A window must last longer than 0 minutes")
    return minutes


def parse_start(date_text: str, time_text: str) -> datetime:
    """``YYYY-MM-DD`` and ``HH:MM`` in UTC -> an aware datetime; ``ParseError`` otherwise."""
    try:
        naive = datetime.strptime(f"{date_text} {time_text}", "%Y-%m-%d %H:%M")
    except ValueError:
        raise ParseError(
            f"`{date_text} {time_text}` is not a date and time: write it like `2026-12-01 22:00` (UTC)"
        ) from None
    return naive.replace(tzinfo=UTC)


def parse_plan_id(text: str) -> int:
    match = _PLAN_ID_RE.match(text.strip())
    if match is None or int(match.group(1)) < 1:
        raise ParseError(f"`{text}` is not a plan id: use the number shown on the plan, e.g. `12`")
    return int(match.group(1))


def _optional_id(args: list[str], command: str) -> int | None:
    if not args:
        return None
    if len(args) > 1:
        raise ParseError(f"`{command}` takes at most one plan id, not `{' '.join(args)}`")
    return parse_plan_id(args[0])


def _check_version(version: str) -> None:
    """The target's shape only, read by the workflow's one parser (a syntax error shows the usage);
    whether it exists is the engine's call."""
    try:
        parse_target(version)
    except UserError as exc:
        raise ParseError(exc.message) from None


def _parse_plan(args: list[str]) -> PlanCommand:
    if not args:
        raise ParseError("`plan` needs the target version, e.g. `plan 10.4` or `plan 10.4.0 CU5`")
    keywords = ("on", "track", "at", "for", "from")
    # The version may contain spaces ("10.4.0 CU5"): it runs up to the first keyword.
    end = next((i for i, word in enumerate(args) if word.lower() in keywords), len(args))
    version = " ".join(args[:end])
    if not version:
        raise ParseError("`plan` needs the target version before the options, e.g. `plan 10.4 track main`")
    _check_version(version)
    rest = args[end:]
    dms: str | None = None
    track: str | None = None
    start: datetime | None = None
    minutes: int | None = None
    current: str | None = None
    seen: set[str] = set()
    i = 0
    while i < len(rest):
        word = rest[i].lower()
        if word in seen:
            raise ParseError(f"`{word}` is given twice")
        seen.add(word)
        if word == "on":
            if i + 1 >= len(rest) or rest[i + 1].lower() in keywords:
                raise ParseError("`on` needs the name of a DMS, e.g. `plan 10.4 on production`")
            dms = rest[i + 1]
            i += 2
        elif word == "from":
            # Like the target, the stated version may contain spaces: it runs up to the next keyword.
            stop = next((j for j in range(i + 1, len(rest)) if rest[j].lower() in keywords), len(rest))
            current = " ".join(rest[i + 1:stop])
            if not current:
                raise ParseError("`from` needs the version the DMS runs, e.g. `plan 10.5 from 10.4.0 CU3`")
            i = stop
        elif word == "track":
            if i + 1 >= len(rest) or rest[i + 1].lower() not in TRACKS:
                given = rest[i + 1] if i + 1 < len(rest) else "nothing"
                raise ParseError(f"`track` is `main`, `feature` or `preview`, not `{given}`")
            track = rest[i + 1].lower()
            i += 2
        elif word == "at":
            if i + 2 >= len(rest):
                raise ParseError("`at` needs a date and a time: `at 2026-12-01 22:00` (UTC)")
            start = parse_start(rest[i + 1], rest[i + 2])
            i += 3
        elif word == "for":
            if "at" not in seen:
                raise ParseError("`for <duration>` comes after `at <YYYY-MM-DD HH:MM>`")
            if i + 1 >= len(rest):
                raise ParseError("`for` needs a duration, e.g. `for 4h`")
            minutes = parse_duration(rest[i + 1])
            i += 2
        else:
            raise ParseError(
                f"Unexpected `{rest[i]}` after the version: use `on`, `from`, `track`, `at` or `for`")
    return PlanCommand(version=version, dms=dms, track=track, window_start=start, window_minutes=minutes,
                       current=current)


def _parse_tick(args: list[str], *, name: str) -> TickCommand:
    if len(args) < 2:
        raise ParseError(f"`{name}` needs the plan id and the items' short names, e.g. `{name} 12 backup`")
    items = tuple(item for word in args[1:] for item in word.split(",") if item)
    for item in items:
        if not re.fullmatch(r"[A-Za-z0-9][\w.-]{0,99}", item):
            raise ParseError(f"`{item}` is not a checklist item's short name, e.g. `backup`")
    return TickCommand(plan_id=parse_plan_id(args[0]), items=items, checked=name == "tick")


def parse_command(text: str) -> Command:
    """The command typed after ``/dm-upgrade``; an empty text is ``help``."""
    words = text.split()
    if not words:
        return HelpCommand()
    name, args = words[0].lower(), words[1:]
    if name == "plan":
        return _parse_plan(args)
    if name == "status":
        full = bool(args) and args[-1].lower() == "full"
        return StatusCommand(plan_id=_optional_id(args[:-1] if full else args, name), full=full)
    if name in ("tick", "untick"):
        return _parse_tick(args, name=name)
    if name == "check":
        return CheckCommand(plan_id=_optional_id(args, name))
    if name == "cancel":
        if not args:
            raise ParseError("`cancel` needs the plan id, e.g. `cancel 12`")
        return CancelCommand(plan_id=parse_plan_id(args[0]), reason=" ".join(args[1:]))
    if name == "history":
        if args:
            raise ParseError("`history` takes no arguments")
        return HistoryCommand()
    if name == "timeline":
        return TimelineCommand(plan_id=_optional_id(args, name))
    if name == "campaign":
        try:
            return CampaignCommand(request=parse_campaign(args))
        except UserError as exc:
            raise ParseError(exc.message) from None
    if name == "help":
        return HelpCommand()
    raise ParseError(f"Unknown subcommand `{words[0]}`")
