"""The campaign engine: campaigns of several DMSs upgraded in waves, stored and run.

One facade, beside ``UpgradeEngine`` and using only its public methods: ``create`` plans a campaign dry
(``workflow.campaigns``) and stores it PROPOSED; ``approve`` is a plan's approval for the whole campaign
(approvers, no self-approval unless ALLOW_SELF_APPROVAL); ``halt``, ``resume`` (a reason), ``skip`` a DMS (a
reason) and ``abort`` are a person's, each checked through the campaign's roles table
(``workflow.campaign_roles``) and audited with its move in one transaction. The state machine is
``workflow.model.campaign_states``; the rows are ``workflow.store.campaigns``.

The due work (a wave's start, its plans followed and approved, the soak's re-checks) is a **poll** the engine
runs (``start``: one pass every ``poll_seconds``, ``tick``: one pass now), not APScheduler jobs: every fact a
pass needs is a campaign row (state, wave, ``soak_until``, ``next_check_at``), so a pass after a restart, or
on another replica, does exactly what was due, and nothing is scheduled that could be lost or run twice.
Across replicas the poll runs where the ``campaigns`` lease is held: one executor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlmodel import Session

from workflow import campaign_soak, campaign_windows
from workflow.campaign_outbox import CampaignNews
from workflow.campaign_roles import WHO_MAY, CampaignAction, CampaignPermissions
from workflow.campaign_timeline import CampaignTimeline, load_campaign_timeline
from workflow.campaign_waves import SoakTiming, WaveDriver
from workflow.engine import UpgradeEngine
from workflow.home import HomeCampaign
from workflow.leases import HeldLease
from workflow.model import text
from workflow.model.campaign import CampaignRequest
from workflow.model.campaign_events import (
    CampaignAborted,
    CampaignApproved,
    CampaignCreated,
    CampaignHalted,
    CampaignResumed,
    DmsSkipped,
)
from workflow.model.campaign_states import CampaignState, CampaignStatus, MemberState
from workflow.model.campaign_view import CampaignView
from workflow.model.errors import RuleViolation, UserError
from workflow.model.states import IN_FLIGHT, PlanState
from workflow.store import campaigns, database
from workflow.store.tables import CampaignDms

log = logging.getLogger(__name__)

LEASE = "campaigns"


class CampaignEngine:
    def __init__(self, engine: UpgradeEngine, *, poll_seconds: float = 30.0, soak_check_minutes: int = 60,
                 wake: Callable[[], None] | None = None) -> None:
        """``wake``: called once a change and the events telling of it are committed (the Slack sender's
        ``wake``, so it draws them now rather than at its next poll)."""
        self.engine = engine
        self.context = engine.context
        self.news = CampaignNews(notifier=engine.context.notifier, clock=engine.context.clock, wake=wake)
        self.driver = WaveDriver(engine, soak=SoakTiming(check_minutes=soak_check_minutes), news=self.news)
        self.permissions = CampaignPermissions(db=engine.db, permissions=engine.permissions,
                                               clock=engine.context.clock)
        self._poll_s = poll_seconds
        self._lease = HeldLease(engine.db, name=LEASE, owner=engine.executions.owner,
                                ttl_s=max(engine.settings.lease_seconds, poll_seconds * 3))
        self._pass_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ reading

    async def timeline(self, campaign_id: int) -> CampaignTimeline:
        """The campaign as it ran so far, for its picture (``workflow.campaign_timeline``)."""
        return await self.context.unit(lambda session: load_campaign_timeline(
            session, campaign_id=campaign_id, now=self.context.now()))

    async def view(self, campaign_id: int) -> CampaignView:
        return await self.driver.view(campaign_id)

    async def audit(self, campaign_id: int) -> list[tuple[str, str, str]]:
        """The campaign's audit as (actor, action, reason), in order."""
        rows = await self.context.unit(lambda session: campaigns.audit_rows(session, campaign_id=campaign_id))
        return [(row.actor, row.action, row.reason) for row in rows]

    async def home(self, *, user: str) -> tuple[HomeCampaign, ...]:
        """Every campaign under way for ``user``'s App Home, each saying whether it waits on them."""
        views = await self.context.unit(lambda session: [campaigns.load_view(session, campaign_id=found)
                                                         for found in campaigns.active_ids(session)])
        found = []
        for view in views:
            held = await self.engine.permissions.roles_of(user, requester=view.requester)
            if view.state is CampaignState.PROPOSED:
                yours = bool(WHO_MAY[CampaignAction.APPROVE] & held) and (
                    user != view.requester or self.engine.settings.allow_self_approval)
            else:
                yours = view.state is CampaignState.HALTED and bool(WHO_MAY[CampaignAction.RESUME] & held)
            found.append(HomeCampaign(view=view, yours=yours))
        return tuple(found)

    # ------------------------------------------------------------------ a person's actions

    async def authorize(self, *, campaign_id: int, action: CampaignAction, actor: str) -> None:
        """Refuse (NotAuthorized, audited) before a form opens, e.g. the "Resume…" button's reason form."""
        await self.permissions.require(campaign_id=campaign_id, action=action, actor=actor,
                                       allow_self_approval=self.engine.settings.allow_self_approval)

    async def create(self, request: CampaignRequest, *, requester: str, channel: str) -> CampaignView:
        """Plan every DMS (dry, as ``UpgradeEngine.plan_campaign``) and store the campaign PROPOSED."""
        plan = await self.engine.plan_campaign(request)

        def unit(session: Session) -> int:
            row = campaigns.create(session, plan=plan, requester=requester, channel=channel,
                                   now=self.context.now())
            assert row.id is not None
            self.news.record(session, CampaignCreated, row.id, actor=requester, plan=plan)
            return row.id

        campaign_id = await self.context.unit(unit)
        self.news.wake()
        return await self.view(campaign_id)

    async def approve(self, *, campaign_id: int, actor: str) -> CampaignView:
        await self.permissions.require(campaign_id=campaign_id, action=CampaignAction.APPROVE, actor=actor,
                                       allow_self_approval=self.engine.settings.allow_self_approval)

        def unit(session: Session) -> None:
            now = self.context.now()
            row = campaigns.move(session, campaign_id=campaign_id, to=CampaignStatus(CampaignState.APPROVED),
                                 actor=actor, now=now, reason="approved: each DMS's plan is approved with it "
                                 "once its window opens and its pre-check passed")
            row.approved_by, row.approved_at = actor, now
            session.add(row)
            session.flush()
            self.news.record(session, CampaignApproved, campaign_id, actor=actor)

        await self.context.unit(unit)
        self.news.wake()
        self._wake.set()
        return await self.view(campaign_id)

    async def halt(self, *, campaign_id: int, actor: str, reason: str = "") -> CampaignView:
        """Stop starting anything: no plan is approved, no wave starts; plans already executing go on."""
        await self.permissions.require(campaign_id=campaign_id, action=CampaignAction.HALT, actor=actor)
        why = text.reason(reason) or "no reason given"

        def unit(session: Session) -> None:
            row = campaigns.get(session, campaign_id=campaign_id)
            to = CampaignStatus(CampaignState.HALTED, row.wave)
            campaigns.move(session, campaign_id=campaign_id, to=to, actor=actor, reason=why,
                           now=self.context.now())
            row.halt_reason = f"halted by {actor}: {why}"
            session.add(row)
            session.flush()
            self.news.record(session, CampaignHalted, campaign_id, actor=actor, reason=why)

        await self.context.unit(unit)
        self.news.wake()
        return await self.view(campaign_id)

    async def resume(self, *, campaign_id: int, actor: str, reason: str) -> CampaignView:
        """Back to where it was halted. From a soak: what the soak found is accepted (the DMSs as they are
        now become its baseline) and the soak starts again; a DMS whose plan ended without the upgrade is
        planned again (a new plan, a window from now)."""
        why = _required(reason, "resume")
        await self.permissions.require(campaign_id=campaign_id, action=CampaignAction.RESUME, actor=actor)
        view = await self.view(campaign_id)
        if view.state is not CampaignState.HALTED:
            raise RuleViolation(f"Campaign #{campaign_id} is {view.status.label}, not halted: "
                                "nothing to resume")
        back = view.halted_from or CampaignState.WAVE_RUNNING
        baselines = {}
        if back is CampaignState.SOAKING:
            for member in view.wave_members(view.wave):
                if member.state is MemberState.UPGRADED:
                    baselines[member.name] = await campaign_soak.fresh_baseline(
                        self.context.dms_access, dms_name=member.name, now=self.context.now)
        now = self.context.now()

        def unit(session: Session) -> None:
            row = campaigns.move(session, campaign_id=campaign_id, to=CampaignStatus(back, view.wave),
                                 actor=actor, reason=why, now=now, expected=view.status)
            row.halt_reason = ""
            if back is CampaignState.SOAKING:
                row.soak_until = now + timedelta(minutes=row.soak_minutes)
                row.next_check_at = self.driver.soak_timing.next_check(now=now, until=row.soak_until)
            session.add(row)
            for member in campaigns.members(session, campaign_id=campaign_id, wave=view.wave):
                if member.dms_name in baselines:
                    campaigns.set_member(session, member, now=now, findings=[],
                                         baseline=baselines[member.dms_name].model_dump(mode="json"))
                elif member.state == MemberState.STOPPED.value:
                    campaigns.set_member(session, member, now=now, state=MemberState.WAITING, plan_id=None,
                                         attempt=member.attempt + 1, window_start=now,
                                         window_end=now + _length(member), note="planned again on resume")
            self.news.record(session, CampaignResumed, campaign_id, actor=actor, reason=why)

        await self.context.unit(unit)
        self.news.wake()
        self._wake.set()
        return await self.view(campaign_id)

    async def move_window(self, *, campaign_id: int, dms: str, start: datetime, length: timedelta | None,
                          actor: str, reason: str = "") -> CampaignView:
        """Move a waiting DMS's window (``workflow.campaign_windows``); ``length`` None keeps its length."""
        await self.permissions.require(campaign_id=campaign_id, action=CampaignAction.MOVE_WINDOW,
                                       actor=actor)
        await campaign_windows.move_window(self.context, self.news, await self.view(campaign_id), dms=dms,
                                           start=start, length=length, actor=actor,
                                           reason=text.reason(reason))
        self._wake.set()
        return await self.view(campaign_id)

    async def skip(self, *, campaign_id: int, dms: str, actor: str, reason: str) -> CampaignView:
        """Take one DMS out of the campaign; its plan, if it waits, is cancelled. One whose upgrade runs
        cannot be skipped (cancel its plan), nor one already upgraded."""
        why = _required(reason, "skip a DMS")
        await self.permissions.require(campaign_id=campaign_id, action=CampaignAction.SKIP, actor=actor)
        view = await self.view(campaign_id)
        try:
            member = view.member(dms)
        except KeyError:
            raise UserError(f"Campaign #{campaign_id} has no DMS named {dms!r}") from None
        if view.state.terminal or member.state in (MemberState.UPGRADED, MemberState.SKIPPED):
            where = view.status.label if view.state.terminal else member.state.value
            raise RuleViolation(f"{dms} cannot be skipped: it is {where}")
        if member.plan_id is not None:
            state = await self.context.read_state(member.plan_id)
            if state in IN_FLIGHT or state is PlanState.CANCELLING:
                raise RuleViolation(f"{dms} cannot be skipped: its upgrade runs (plan #{member.plan_id}, "
                                    f"{state.label}); cancel that plan to stop it")
            if not state.terminal:
                await self.engine.cancel(plan_id=member.plan_id, actor=actor,
                                         reason=f"skipped in campaign #{campaign_id}: {why}")

        def unit(session: Session) -> None:
            row = campaigns.member(session, campaign_id=campaign_id, dms_name=dms)
            campaigns.set_member(session, row, now=self.context.now(), state=MemberState.SKIPPED,
                                 skip_reason=why, note=f"skipped by {actor}")
            campaigns.record(session, campaign_id=campaign_id, actor=actor, action="skip", reason=why,
                             now=self.context.now(), plan_id=member.plan_id, detail={"dms": dms})
            self.news.record(session, DmsSkipped, campaign_id, actor=actor, dms=dms, reason=why)

        await self.context.unit(unit)
        self.news.wake()
        self._wake.set()
        return await self.view(campaign_id)

    async def abort(self, *, campaign_id: int, actor: str, reason: str = "") -> CampaignView:
        """End the campaign. Every plan of it that still waits is cancelled; one whose upgrade runs goes on
        to its end (cancelling mid-hop stops nothing on the DMS) and the audit names it."""
        await self.permissions.require(campaign_id=campaign_id, action=CampaignAction.ABORT, actor=actor)
        why = text.reason(reason) or "no reason given"
        view = await self.view(campaign_id)
        running: list[str] = []
        for member in view.members:
            if member.plan_id is None or member.state is not MemberState.PLANNED:
                continue
            state = await self.context.read_state(member.plan_id)
            if state in IN_FLIGHT or state is PlanState.CANCELLING:
                running.append(f"{member.name} (plan #{member.plan_id})")
            elif not state.terminal:
                await self.engine.cancel(plan_id=member.plan_id, actor=actor,
                                         reason=f"campaign #{campaign_id} aborted: {why}")

        def unit(session: Session) -> None:
            campaigns.move(session, campaign_id=campaign_id, to=CampaignStatus(CampaignState.ABORTED),
                           actor=actor, reason=why, now=self.context.now(),
                           detail={"still_upgrading": running})
            self.news.record(session, CampaignAborted, campaign_id, actor=actor, reason=why,
                             still_upgrading=tuple(running))

        await self.context.unit(unit)
        self.news.wake()
        return await self.view(campaign_id)

    # ------------------------------------------------------------------ the due work

    async def tick(self) -> None:
        """One pass over every active campaign, in this process (the poll calls it with the lease held)."""
        async with self._pass_lock:
            with database.patience():
                ids = await self.context.unit(campaigns.active_ids)
                for campaign_id in ids:
                    try:
                        await self.driver.run_pass(campaign_id)
                    except Exception:  # one campaign's trouble must not stop the others'
                        log.exception("campaign #%s: pass failed; trying again at the next", campaign_id)

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._poll(), name="campaigns")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await database.off_loop(self._lease.release)

    async def _poll(self) -> None:
        while True:
            try:
                taken, _ = await database.off_loop(self._lease.acquire)
                if taken:
                    await self.tick()
            except Exception:  # a database hiccup must not end the poll for good
                log.exception("campaign poll failed; trying again")
            self._wake.clear()
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancel that arrives as the
            # event is set, and a stopped poll would run one more pass.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_s):
                    await self._wake.wait()


def _required(reason: str, what: str) -> str:
    given = text.reason(reason)
    if not given:
        raise UserError(f"A reason is required to {what}: it goes into the audit and the campaign's thread")
    return given


def _length(member: CampaignDms) -> timedelta:
    """A DMS's window length as planned (its estimate's high end), for the window of a second plan."""
    start, end = member.window_start, member.window_end
    return (end - start) if start is not None and end is not None else timedelta(hours=4)
