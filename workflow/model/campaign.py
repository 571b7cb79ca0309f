"""A campaign: one target for a fleet of DMSs, upgraded in waves (staging first, then production), with a
soak between waves. What a campaign asks for (``parse_campaign``: the words after ``campaign``, read once for
the slash command, the console and the CLI) and what planning found (``CampaignPlan``), as every floor may
know them. Planning itself (reading each DMS, its path and estimate, the proposed windows) is
``workflow.campaigns``.

    campaign <target> on <dms> [<dms> ...] [at <YYYY-MM-DD HH:MM> [for <duration>]]
                     then <dms> [<dms> ...] [at ... [for ...]] [soak <duration>]

A wave's ``at`` (UTC) gives the window its DMSs start in, ``for`` its length (else each DMS's own
estimate); a wave without ``at`` gets windows proposed from each DMS's maintenance calendar, else the
earliest possible.

The target is read by ``workflow.model.target`` (the one parser of targets). Every refusal is a
``UserError`` whose message is one line saying what was wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from dms.upgrade_path import Estimate, Hop, PathWarning, UpgradePath
from dms.versions import Version
from workflow.model.errors import UserError
from workflow.model.target import parse_target
from workflow.model.text import duration_minutes

ON, THEN, SOAK, AT, FOR = "on", "then", "soak", "at", "for"
# Without `soak`: a day, the issue's own example and the usual "staging ran fine for a day" rule.
DEFAULT_SOAK_MINUTES = 24 * 60
MAX_SOAK_MINUTES = 30 * 24 * 60
# Every DMS is read at planning time and the card has one section per wave (Slack: 50 blocks a message).
MAX_WAVES = 10
MAX_DMS = 50
EXAMPLE = "`campaign 10.5 on staging then prod-eu prod-us soak 24h`"
MAX_WINDOW_MINUTES = 2 * 24 * 60  # a maintenance window, not a week


@dataclass(frozen=True)
class WaveWindow:
    """A wave's window as typed: its start (UTC) and length (None: each DMS's own estimate)."""

    start: datetime
    minutes: int | None = None


@dataclass(frozen=True)
class CampaignRequest:
    """The target as typed and the waves of DMS names, in order; nothing looked up yet."""

    target: str
    waves: tuple[tuple[str, ...], ...]
    soak_minutes: int = DEFAULT_SOAK_MINUTES
    soak_given: bool = False  # False: the default soak, which the card says
    windows: tuple[WaveWindow | None, ...] = ()  # per wave, where ``at`` gave one

    def window_of(self, wave: int) -> WaveWindow | None:
        """The typed window of wave ``wave`` (1-based), if any."""
        return self.windows[wave - 1] if wave - 1 < len(self.windows) else None

    @property
    def dms_names(self) -> tuple[str, ...]:
        return tuple(name for wave in self.waves for name in wave)


def _minutes(text: str, *, what: str) -> int:
    minutes = duration_minutes(text)
    if minutes is None:
        raise UserError(f"`{text}` is not a {what}: write it like `24h`, `2d` or `1d12h`")
    return minutes


def parse_soak(text: str) -> int:
    """``24h``, ``2d``, ``1d12h``, ``90m`` -> minutes: more than 0, at most 30 days."""
    minutes = _minutes(text, what="soak duration")
    if minutes <= 0:
        raise UserError("A soak must last longer than 0 minutes: the next wave waits for it")
    if minutes > MAX_SOAK_MINUTES:
        raise UserError(f"A soak lasts at most 30 days, not `{text}`")
    return minutes


def parse_window(words: Sequence[str], *, wave: int) -> WaveWindow:
    """The words after a wave's ``at``: ``YYYY-MM-DD HH:MM`` (UTC), then optionally ``for <duration>``."""
    example = "`at 2026-12-08 22:00 for 4h` (UTC)"
    if len(words) < 2:
        raise UserError(f"Wave {wave}: `at` needs a date and a time, e.g. {example}")
    try:
        start = datetime.strptime(f"{words[0]} {words[1]}", "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    except ValueError:
        raise UserError(f"Wave {wave}: `{words[0]} {words[1]}` is not a date and time, "
                        f"e.g. {example}") from None
    rest = list(words[2:])
    if not rest:
        return WaveWindow(start=start)
    if rest[0].lower() != FOR or len(rest) != 2:
        raise UserError(f"Wave {wave}: after `at <date> <time>` only `for <duration>` may follow, "
                        f"e.g. {example}")
    minutes = _minutes(rest[1], what="window length")
    if not 0 < minutes <= MAX_WINDOW_MINUTES:
        raise UserError(f"Wave {wave}: a window lasts more than 0 minutes and at most 2 days, "
                        f"not `{rest[1]}`")
    return WaveWindow(start=start, minutes=minutes)


def _split_window(group: list[str], *, wave: int) -> tuple[list[str], WaveWindow | None]:
    lowered = [word.lower() for word in group]
    if FOR in lowered and AT not in lowered:
        raise UserError(f"Wave {wave}: `for <duration>` comes after `at <YYYY-MM-DD HH:MM>`")
    if AT not in lowered:
        return group, None
    cut = lowered.index(AT)
    return group[:cut], parse_window(group[cut + 1:], wave=wave)


def _waves(words: Sequence[str]) -> tuple[tuple[tuple[str, ...], ...], tuple[WaveWindow | None, ...]]:
    """DMS names split at `then`, each wave's window where `at` gives one; refuses an empty wave and a DMS
    named twice."""
    groups: list[list[str]] = [[]]
    for word in words:
        if word.lower() == THEN:
            groups.append([])
        elif word.lower() == ON:
            raise UserError("`on` is given twice: separate the waves with `then`, e.g. " + EXAMPLE)
        else:
            groups[-1].append(word)
    seen: dict[str, int] = {}
    windows: list[WaveWindow | None] = []
    for number, words_of_wave in enumerate(groups, start=1):
        group, window = _split_window(words_of_wave, wave=number)
        groups[number - 1] = group
        windows.append(window)
        if not group:
            raise UserError(f"Wave {number} is empty: name at least one DMS before and after each `then`")
        for name in group:
            if name in seen:
                where = "wave" if seen[name] == number else f"waves {seen[name]} and"
                raise UserError(f"DMS `{name}` is named twice ({where} {number}): a DMS belongs to one wave")
            seen[name] = number
    if len(groups) > MAX_WAVES or len(seen) > MAX_DMS:
        raise UserError(f"A campaign has at most {MAX_WAVES} waves and {MAX_DMS} DMSs")
    return tuple(tuple(group) for group in groups), tuple(windows)


def parse_campaign(words: Sequence[str]) -> CampaignRequest:
    """The words after ``campaign``."""
    lowered = [word.lower() for word in words]
    if ON not in lowered:
        raise UserError(f"`campaign` needs a target and `on <dms>`, e.g. {EXAMPLE}")
    at = lowered.index(ON)
    # The target may contain spaces ("10.4.0 CU5", "latest feature"): it runs up to `on`.
    target = " ".join(words[:at])
    if not target:
        raise UserError(f"`campaign` needs the target version before `on`, e.g. {EXAMPLE}")
    parse_target(target)
    rest = list(words[at + 1:])
    soak_minutes, soak_given = DEFAULT_SOAK_MINUTES, False
    if SOAK in (word.lower() for word in rest):
        cut = [word.lower() for word in rest].index(SOAK)
        given = rest[cut + 1:]
        if not given:
            raise UserError("`soak` needs a duration, e.g. `soak 24h`")
        if len(given) > 1:
            raise UserError(f"`soak` comes last and takes one duration, not `{' '.join(given)}`")
        soak_minutes, soak_given, rest = parse_soak(given[0]), True, rest[:cut]
    waves, windows = _waves(rest)
    return CampaignRequest(target=target, waves=waves, soak_minutes=soak_minutes, soak_given=soak_given,
                           windows=windows if any(windows) else ())


# ------------------------------------------------------------------------------------------ the plan


@dataclass(frozen=True)
class CampaignDms:
    """One DMS of a campaign: its own path from its own version, its estimate and its proposed window."""

    name: str
    agents: int
    path: UpgradePath
    estimate: Estimate
    window_start: datetime
    window_end: datetime
    # Its own warnings (support life cycle, preview); known issues are the campaign's, catalog age too.
    warnings: tuple[PathWarning, ...] = ()

    @property
    def current(self) -> Version:
        return self.path.current

    @property
    def hops(self) -> tuple[Hop, ...]:
        return self.path.hops


@dataclass(frozen=True)
class Wave:
    """DMSs upgraded side by side; the next wave starts after this one's last window and the soak."""

    number: int
    dms: tuple[CampaignDms, ...]

    @property
    def start(self) -> datetime:
        return min(item.window_start for item in self.dms)

    @property
    def end(self) -> datetime:
        return max(item.window_end for item in self.dms)


@dataclass(frozen=True)
class KnownIssue:
    """A documented known issue on at least one DMS's path, with every place it is met."""

    text: str
    url: str
    where: tuple[str, ...]  # "staging hop 1", "prod-eu hops 1, 2"


@dataclass(frozen=True)
class CampaignPlan:
    """A dry run: nothing stored, approved or booked. Windows are proposals (earliest possible)."""

    target: Version
    waves: tuple[Wave, ...]
    soak_minutes: int
    soak_given: bool
    planned_at: datetime
    known_issues: tuple[KnownIssue, ...] = ()
    notes: tuple[PathWarning, ...] = ()  # said once for the whole campaign (catalog age, preview)

    @property
    def dms(self) -> tuple[CampaignDms, ...]:
        return tuple(item for wave in self.waves for item in wave.dms)

    @property
    def end(self) -> datetime:
        """The earliest end: the last wave's last window (the soak is what waits between waves)."""
        return self.waves[-1].end
