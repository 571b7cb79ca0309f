"""A stored campaign as every floor may read it (``workflow.store.campaigns.load_view`` draws it): its
status, approval and soak, and each DMS with its wave, plan and findings. What a card or a test reads; it
never changes anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dms.models import CheckResult, CheckStatus
from workflow.model.campaign_states import CampaignState, CampaignStatus, MemberState


@dataclass(frozen=True)
class MemberView:
    """One DMS of a campaign as stored."""

    name: str
    wave: int
    state: MemberState
    plan_id: int | None
    attempt: int
    current_version: str
    window_start: datetime | None
    window_end: datetime | None
    skip_reason: str = ""
    note: str = ""
    findings: tuple[CheckResult, ...] = ()

    @property
    def regressions(self) -> tuple[CheckResult, ...]:
        """What the last soak check found wrong."""
        return tuple(result for result in self.findings if result.status is CheckStatus.FAIL)


@dataclass(frozen=True)
class CampaignView:
    id: int
    status: CampaignStatus
    waves: int
    target: str
    requester: str
    channel: str
    soak_minutes: int
    members: tuple[MemberView, ...]
    created_at: datetime
    halted_from: CampaignState | None = None
    approved_by: str | None = None
    approved_at: datetime | None = None
    soak_until: datetime | None = None
    next_check_at: datetime | None = None
    halt_reason: str = ""

    @property
    def state(self) -> CampaignState:
        return self.status.state

    @property
    def wave(self) -> int:
        return self.status.wave

    def member(self, name: str) -> MemberView:
        for member in self.members:
            if member.name == name:
                return member
        raise KeyError(name)

    def wave_members(self, wave: int) -> tuple[MemberView, ...]:
        return tuple(member for member in self.members if member.wave == wave)
