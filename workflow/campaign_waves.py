"""The due work of a campaign, one pass at a time (``CampaignEngine.tick`` runs a pass over every active
campaign; its poll runs one every few seconds). A pass reads the campaign from the database, does what is
due, and writes what it did before it does the next thing, so a pass cut short (a restart, a SIGKILL) is
simply done again by the next one:

- APPROVED: the first wave starts.
- WAVE_RUNNING(n): every DMS of the wave gets its plan (``UpgradeEngine.create_plan`` with its window and a
  dedupe key, so a plan made just before a crash is found again, not made twice); each plan is followed: its
  pre-check and approval request come from the plan's own scheduled jobs, and when it awaits approval the
  bot approves it in the name of the campaign's approver (audited as the campaign's approval, on the plan);
  a plan that ends without the upgrade (failed, expired, cancelled) halts the campaign. Once every DMS is
  upgraded and verified (its plan DONE) or skipped, the wave soaks.
- SOAKING(n): at every interval the upgraded DMSs are checked again (``workflow.campaign_soak``); a
  regression halts the campaign with what was found; once the soak time has passed with a clean last check,
  the next wave starts, or the campaign is done.
- HALTED, DONE, ABORTED: nothing (a person resumes or aborts).
"""

from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlmodel import Session

from dms.models import Baseline
from dms.versions import parse_version
from workflow import campaign_soak
from workflow.campaign_outbox import CampaignNews
from workflow.campaigns import first_start
from workflow.model.campaign_events import (
    CampaignChanged,
    CampaignDone,
    CampaignEvent,
    CampaignHalted,
    SoakChecked,
    WaveDone,
    WaveStarted,
)
from workflow.model.campaign_states import CampaignState, CampaignStatus, MemberState
from workflow.model.campaign_view import CampaignView, MemberView
from workflow.model.errors import AlreadyDecided, DatabaseBusy, RuleViolation, UserError
from workflow.model.states import PlanState
from workflow.plan_requests import MIN_WINDOW_MINUTES
from workflow.store import campaigns
from workflow.store.states import ending_reason

if TYPE_CHECKING:
    from workflow.engine import UpgradeEngine

log = logging.getLogger(__name__)

BOT = "bot"
STOPPED_PLAN = frozenset({PlanState.FAILED, PlanState.EXPIRED, PlanState.CANCELLED})


@dataclass(frozen=True)
class SoakTiming:
    """How often a soak re-checks: every ``check_minutes``, and at its end."""

    check_minutes: int = 60

    def next_check(self, *, now: datetime, until: datetime) -> datetime:
        return min(now + timedelta(minutes=self.check_minutes), until)


class WaveDriver:
    """One pass of one campaign; the engine's ``UpgradeEngine`` makes and approves the DMSs' plans."""

    def __init__(self, engine: UpgradeEngine, *, soak: SoakTiming, news: CampaignNews) -> None:
        self._engine = engine
        self._context = engine.context
        self._soak = soak
        self._news = news

    @property
    def soak_timing(self) -> SoakTiming:
        return self._soak

    def _now(self) -> datetime:
        return self._context.now()

    async def view(self, campaign_id: int) -> CampaignView:
        return await self._context.unit(lambda session: campaigns.load_view(session, campaign_id=campaign_id))

    async def move(self, view: CampaignView, to: CampaignStatus, *, reason: str, actor: str = BOT,
                   then: dict[str, object] | None = None,
                   tell: tuple[type[CampaignEvent], dict[str, object]] | None = None) -> bool:
        """Move from the status ``view`` was read in (False when a person moved it meanwhile); ``tell``: the
        event that tells of the move, written with it."""
        def unit(session: Session) -> None:
            row = campaigns.move(session, campaign_id=view.id, to=to, actor=actor, reason=reason,
                                 now=self._now(), expected=view.status)
            for name, value in (then or {}).items():
                setattr(row, name, value)
            session.add(row)
            if tell is not None:
                session.flush()
                self._news.record(session, tell[0], view.id, **tell[1])

        try:
            await self._context.unit(unit)
        except DatabaseBusy:
            raise
        except UserError as exc:
            log.info("campaign #%s not moved to %s: %s", view.id, to.label, exc)
            return False
        self._news.wake()
        return True

    async def halt(self, view: CampaignView, *, reason: str) -> bool:
        """The bot halts the campaign with what it found (a person's halt is the engine's ``halt``)."""
        return await self.move(view, CampaignStatus(CampaignState.HALTED, view.wave), reason=reason,
                               then={"halt_reason": reason},
                               tell=(CampaignHalted, {"actor": BOT, "reason": reason}))

    async def run_pass(self, campaign_id: int) -> None:
        view = await self.view(campaign_id)
        if view.state is CampaignState.APPROVED:
            await self.start_wave(view, 1)
        elif view.state is CampaignState.WAVE_RUNNING:
            await self.follow_wave(view)
        elif view.state is CampaignState.SOAKING:
            await self.soak(view)
        elif view.state is CampaignState.HALTED:
            # Halted: nothing is approved or started, but the card keeps saying how each plan ended.
            for member in view.wave_members(view.wave):
                if member.state is MemberState.PLANNED and member.plan_id is not None:
                    await self._follow(view, member, approve=False)

    # ------------------------------------------------------------------ a wave

    async def start_wave(self, view: CampaignView, wave: int) -> None:
        """Move to WAVE_RUNNING(wave) with each waiting DMS's window moved to now if it has passed; the
        plans are made by ``follow_wave`` (this pass's and, after a crash, the next one's)."""
        now = self._now()
        windows = {member.name: _window(member, now=now) for member in view.wave_members(wave)
                   if member.state is MemberState.WAITING}

        def unit(session: Session) -> None:
            campaigns.move(session, campaign_id=view.id, to=CampaignStatus(CampaignState.WAVE_RUNNING, wave),
                           actor=BOT, now=now, expected=view.status, reason=(
                               "the campaign was approved" if wave == 1 else
                               f"wave {wave - 1} is upgraded, verified and soaked"))
            for row in campaigns.members(session, campaign_id=view.id, wave=wave):
                if row.dms_name in windows:
                    start, end = windows[row.dms_name]
                    campaigns.set_member(session, row, now=now, window_start=start, window_end=end)
            campaign = campaigns.get(session, campaign_id=view.id)
            campaign.soak_until = campaign.next_check_at = None
            session.add(campaign)
            session.flush()
            self._news.record(session, WaveStarted, view.id, wave=wave, reason=(
                "the campaign was approved" if wave == 1 else
                f"wave {wave - 1} is upgraded, verified and soaked, as the bot checked"))

        try:
            await self._context.unit(unit)
        except DatabaseBusy:
            raise
        except UserError as exc:
            log.info("campaign #%s: wave %s not started: %s", view.id, wave, exc)
            return
        self._news.wake()
        await self.follow_wave(await self.view(view.id))

    async def follow_wave(self, view: CampaignView) -> None:
        for member in view.wave_members(view.wave):
            if member.state is MemberState.WAITING:
                member = await self._plan(view, member)
            if member.state is MemberState.PLANNED and member.plan_id is not None:
                await self._follow(view, member)
        view = await self.view(view.id)
        if view.state is not CampaignState.WAVE_RUNNING:
            return
        stopped = [m for m in view.wave_members(view.wave) if m.state is MemberState.STOPPED]
        if stopped:
            await self.halt(view, reason="; ".join(f"{m.name}: {m.note}" for m in stopped))
        elif all(m.state.settled for m in view.wave_members(view.wave)):
            await self._start_soak(view)

    async def _plan(self, view: CampaignView, member: MemberView) -> MemberView:
        start, end = member.window_start, member.window_end
        assert start is not None and end is not None
        try:
            snap = await self._engine.create_plan(
                target=view.target, track=None, window_start=start,
                window_minutes=max(MIN_WINDOW_MINUTES, math.ceil((end - start).total_seconds() / 60)),
                requester=view.requester, channel=view.channel, dms=member.name,
                dedupe_key=f"campaign:{view.id}:{member.name}:{member.attempt}")
        except DatabaseBusy:
            raise
        except UserError as exc:
            await self._set(view.id, member.name, was=MemberState.WAITING, state=MemberState.STOPPED,
                            note=f"could not be planned: {exc.message}")
            return member
        await self._set(view.id, member.name, was=MemberState.WAITING, state=MemberState.PLANNED,
                        plan_id=snap.id, note=f"plan #{snap.id} made by the bot for its window")
        return (await self.view(view.id)).member(member.name)

    async def _follow(self, view: CampaignView, member: MemberView, *, approve: bool = True) -> None:
        """Note how the DMS's plan ended; approve it when it waits for approval (not while halted)."""
        assert member.plan_id is not None
        state = await self._context.read_state(member.plan_id)
        if state is PlanState.DONE:
            await self._set(view.id, member.name, was=MemberState.PLANNED, state=MemberState.UPGRADED,
                            note=f"plan #{member.plan_id} done: upgraded and verified (checked by the bot)")
        elif state in STOPPED_PLAN:
            plan_id = member.plan_id
            why = await self._context.unit(lambda session: ending_reason(session, plan_id=plan_id))
            await self._set(view.id, member.name, was=MemberState.PLANNED, state=MemberState.STOPPED,
                            note=f"plan #{plan_id} ended {state.label}" + (f": {why}" if why else ""))
        elif state is PlanState.AWAITING_APPROVAL and approve:
            await self._approve(view, member, member.plan_id)

    async def _approve(self, view: CampaignView, member: MemberView, plan_id: int) -> None:
        """The plan's approval in the campaign approver's name: the plan's own rules still apply (window
        open, pre-check passed, required items ticked); what refuses is noted and tried again next pass."""
        approver = view.approved_by
        assert approver is not None
        try:
            await self._engine.approve(plan_id=plan_id, actor=approver)
        except AlreadyDecided:
            return  # a person approved (or rejected) it by hand: the plan's state says what comes next
        except RuleViolation as exc:
            await self._set(view.id, member.name, note=f"waiting: {exc.message}")
            return
        except DatabaseBusy:
            raise
        except UserError as exc:  # not an approver any more, ...: a person must look
            await self._set(view.id, member.name, was=MemberState.PLANNED, state=MemberState.STOPPED,
                            note=f"the campaign's approval could not approve plan #{plan_id}: {exc.message}")
            return
        await self._context.unit(lambda session: campaigns.record(
            session, campaign_id=view.id, actor=approver, action="plan_approved", now=self._now(),
            plan_id=plan_id, reason=f"approved with campaign #{view.id} (approved by {approver} at "
                                    f"{view.approved_at:%Y-%m-%d %H:%M} UTC)",
            detail={"dms": member.name}))
        await self._set(view.id, member.name, note=f"plan #{plan_id} approved with the campaign's approval")

    async def _set(self, campaign_id: int, name: str, *, was: MemberState | None = None,
                   **fields: object) -> None:
        """Change a DMS's row; with ``was``, only while it still stands as this pass read it (a person's
        skip in between is not overwritten by what the pass concluded before it)."""
        def unit(session: Session) -> bool:
            row = campaigns.member(session, campaign_id=campaign_id, dms_name=name)
            if was is not None and row.state != was.value:
                return False
            changed = any(getattr(row, key) != (value.value if isinstance(value, MemberState) else value)
                          for key, value in fields.items())
            campaigns.set_member(session, row, now=self._now(), **fields)
            if changed:  # the card is drawn again; a note repeated at every pass is not news
                self._news.record(session, CampaignChanged, campaign_id)
            return changed

        if await self._context.unit(unit):
            self._news.wake()

    # ------------------------------------------------------------------ the soak

    async def _start_soak(self, view: CampaignView) -> None:
        now = self._now()
        baselines: dict[str, Baseline] = {}
        for member in view.wave_members(view.wave):
            if member.state is MemberState.UPGRADED and member.plan_id is not None:
                read = functools.partial(campaign_soak.plan_baseline, plan_id=member.plan_id,
                                         now=self._context.now)
                baselines[member.name] = await self._context.unit(read)
        # A wave whose every DMS was skipped has nothing to soak: the next wave starts at the next pass.
        until = now + timedelta(minutes=view.soak_minutes) if baselines else now
        moved = await self.move(view, CampaignStatus(CampaignState.SOAKING, view.wave),
                                reason=f"every DMS of wave {view.wave} is upgraded and verified or skipped",
                                then={"soak_until": until,
                                      "next_check_at": self._soak.next_check(now=now, until=until)},
                                tell=(WaveDone, {"wave": view.wave}))
        if moved:
            for name, baseline in baselines.items():
                await self._set(view.id, name, baseline=baseline.model_dump(mode="json"), findings=[])

    async def soak(self, view: CampaignView) -> None:
        now = self._now()
        assert view.soak_until is not None and view.next_check_at is not None
        if now < view.next_check_at and now < view.soak_until:
            return
        target = parse_version(view.target)
        found: list[str] = []
        for member in view.wave_members(view.wave):
            if member.state is not MemberState.UPGRADED:
                continue
            baseline = await self._baseline(view.id, member.name)
            results = await campaign_soak.recheck(self._context.dms_access, dms_name=member.name,
                                                  target=target, baseline=baseline)
            await self._set(view.id, member.name, findings=[r.model_dump(mode="json") for r in results])
            bad = campaign_soak.regressions(results)
            if bad:
                found.append(campaign_soak.describe(member.name, bad))
        if found:
            await self.halt(view, reason=f"the soak of wave {view.wave} found a regression: "
                                         + " | ".join(found))
            return
        checked = tuple(m.name for m in view.wave_members(view.wave) if m.state is MemberState.UPGRADED)
        last = now >= view.soak_until
        next_at = self._soak.next_check(now=now, until=view.soak_until)

        def unit(session: Session) -> None:
            if not last:
                campaigns.set_next_check(session, campaign_id=view.id, at=next_at)
            self._news.record(session, SoakChecked, view.id, wave=view.wave, checked=checked, last=last)

        await self._context.unit(unit)
        self._news.wake()
        if last:
            await self._soaked(view)

    async def _soaked(self, view: CampaignView) -> None:
        if view.wave < view.waves:
            await self.start_wave(view, view.wave + 1)
        else:
            await self.move(view, CampaignStatus(CampaignState.DONE),
                            reason=f"every wave is upgraded, verified and soaked on {view.target}",
                            then={"soak_until": None, "next_check_at": None}, tell=(CampaignDone, {}))

    async def _baseline(self, campaign_id: int, name: str) -> Baseline:
        row = await self._context.unit(
            lambda session: campaigns.member(session, campaign_id=campaign_id, dms_name=name).baseline)
        return Baseline.model_validate(row) if row else Baseline(taken_at=self._now())


def _window(member: MemberView, *, now: datetime) -> tuple[datetime, datetime]:
    """The proposed window, or one as long starting now (to the minute) when its start has passed."""
    start, end = member.window_start, member.window_end
    assert start is not None and end is not None
    if start >= now:
        return start, end
    begin = first_start(now)
    return begin, begin + (end - start)
