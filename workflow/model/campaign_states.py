"""A campaign's states and the moves between them: rules only, no database (``workflow.store.campaigns``
makes the moves, each with its audit row).

    PROPOSED --approve--> APPROVED --first wave starts--> WAVE_RUNNING(1) --every DMS done and verified-->
    SOAKING(1) --soaked, no regression--> WAVE_RUNNING(2) --> SOAKING(2) --> ... --> SOAKING(last) --> DONE
    WAVE_RUNNING(n) / SOAKING(n) --halt (a person, or a regression the bot found)--> HALTED(n)
    HALTED(n) --resume (with a reason)--> WAVE_RUNNING(n) or SOAKING(n), whichever it was halted from
    every state but DONE and ABORTED --abort--> ABORTED

A state carries the wave it is about (``CampaignStatus``), so "soaking wave 1 -> wave 3 running" is refused
as well as "proposed -> done". The last wave soaks too: the campaign is done only once production has
soaked, and a regression then still halts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from workflow.model.errors import UserError


class CampaignState(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    WAVE_RUNNING = "wave_running"
    SOAKING = "soaking"
    HALTED = "halted"
    DONE = "done"
    ABORTED = "aborted"

    @property
    def terminal(self) -> bool:
        return self in (CampaignState.DONE, CampaignState.ABORTED)


class MemberState(StrEnum):
    """One DMS of a campaign: waiting for its wave, its plan made and followed, then how it ended."""

    WAITING = "waiting"  # its wave has not started
    PLANNED = "planned"  # its plan exists and is followed (window, pre-check, approval, execution)
    UPGRADED = "upgraded"  # its plan is done: every agent on the target, verification passed
    STOPPED = "stopped"  # its plan ended without the upgrade (failed, expired, cancelled): halts the campaign
    SKIPPED = "skipped"  # a person took it out of the campaign, with a reason

    @property
    def settled(self) -> bool:
        """Nothing more to wait for in its wave."""
        return self in (MemberState.UPGRADED, MemberState.SKIPPED)


C = CampaignState
# The one table of allowed moves, by state; the wave rules on top of it are in ``check_move``.
ALLOWED: dict[CampaignState, frozenset[CampaignState]] = {
    C.PROPOSED: frozenset({C.APPROVED, C.ABORTED}),
    C.APPROVED: frozenset({C.WAVE_RUNNING, C.ABORTED}),
    C.WAVE_RUNNING: frozenset({C.SOAKING, C.HALTED, C.ABORTED}),
    C.SOAKING: frozenset({C.WAVE_RUNNING, C.DONE, C.HALTED, C.ABORTED}),
    C.HALTED: frozenset({C.WAVE_RUNNING, C.SOAKING, C.ABORTED}),
    C.DONE: frozenset(),
    C.ABORTED: frozenset(),
}
del C

# The states a wave number belongs to; the others carry none (0).
WITH_WAVE = frozenset({CampaignState.WAVE_RUNNING, CampaignState.SOAKING, CampaignState.HALTED})


@dataclass(frozen=True)
class CampaignStatus:
    """A state and the wave it is about (``wave`` 0 for the states without one)."""

    state: CampaignState
    wave: int = 0

    @property
    def label(self) -> str:
        if self.state is CampaignState.WAVE_RUNNING:
            return f"wave {self.wave} running"
        if self.state is CampaignState.SOAKING:
            return f"soaking wave {self.wave}"
        if self.state is CampaignState.HALTED:
            return f"halted in wave {self.wave}"
        return self.state.value


class IllegalCampaignMove(UserError):
    """A move the campaign's state machine does not allow; names the campaign and both states."""

    def __init__(self, *, campaign_id: int, before: CampaignStatus, after: CampaignStatus,
                 detail: str = "") -> None:
        text = f"Campaign #{campaign_id} cannot go from {before.label} to {after.label}"
        super().__init__(f"{text}: {detail}" if detail else text)
        self.before = before
        self.after = after


def _wave_problem(before: CampaignStatus, after: CampaignStatus, *, waves: int,
                  halted_from: CampaignState | None) -> str:
    """Why the wave numbers of an otherwise allowed move do not fit ("" when they do)."""
    if (after.state in WITH_WAVE) != (after.wave >= 1) or after.wave > waves:
        return f"the campaign has waves 1 to {waves}"
    if before.state is CampaignState.APPROVED and after.state is CampaignState.WAVE_RUNNING:
        return "" if after.wave == 1 else "the first wave starts first"
    if before.state is CampaignState.SOAKING and after.state is CampaignState.WAVE_RUNNING:
        return "" if after.wave == before.wave + 1 else "waves run in order, one after the other"
    if before.state is CampaignState.SOAKING and after.state is CampaignState.DONE:
        return "" if before.wave == waves else f"wave {before.wave} is not the last"
    resuming = before.state is CampaignState.HALTED and after.state is not CampaignState.ABORTED
    if resuming and halted_from is not None and after.state is not halted_from:
        return f"it resumes where it was halted ({halted_from.value.replace('_', ' ')})"
    next_wave = before.state is CampaignState.SOAKING and after.state is CampaignState.WAVE_RUNNING
    if after.state in WITH_WAVE and before.state in WITH_WAVE and after.wave != before.wave and not next_wave:
        return "the wave does not change"
    return ""


def check_move(campaign_id: int, before: CampaignStatus, after: CampaignStatus, *, waves: int,
               halted_from: CampaignState | None = None) -> None:
    """Refuse (``IllegalCampaignMove``) a move outside the table or with waves that do not follow."""
    if after.state not in ALLOWED[before.state]:
        detail = "it is finished" if before.state.terminal else ""
        raise IllegalCampaignMove(campaign_id=campaign_id, before=before, after=after, detail=detail)
    problem = _wave_problem(before, after, waves=waves, halted_from=halted_from)
    if problem:
        raise IllegalCampaignMove(campaign_id=campaign_id, before=before, after=after, detail=problem)


def allowed(before: CampaignStatus, after: CampaignStatus, *, waves: int,
            halted_from: CampaignState | None = None) -> bool:
    try:
        check_move(0, before, after, waves=waves, halted_from=halted_from)
    except IllegalCampaignMove:
        return False
    return True
