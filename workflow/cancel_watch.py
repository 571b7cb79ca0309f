"""After a cancel during the execution: the bot stops driving, but a hop already running on the
DMS cannot be stopped. The plan is CANCELLING while the bot watches the agents until they settle (every
agent reachable and Running, all on one version), records where they ended in the audit (retrying until
the DMS answers), and only then moves to CANCELLED and tells the channel.

Exactly one process watches: the watch runs only while this process holds the plan's lease (the execution's
lease, ``workflow.leases``; the execution loop released it when the cancel stopped it), renewed while it
watches and checked again before the audit record. ``workflow.replicas`` starts the watch of every CANCELLING
plan that runs nowhere in this process, at start and every third of a lease: so it resumes after a restart
(actor and reason read back from the audited move to CANCELLING), and another replica takes it over once
the holder's lease expired.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from sqlmodel import Session

from dms.exceptions import DmsError
from dms.models import AgentState, AgentStatus
from workflow.context import WorkflowContext
from workflow.events import AgentProgress, UpgradeCancelled
from workflow.leases import HeldLease, LeaseLost, replica_owner
from workflow.store import audit, database, plans
from workflow.store.leases import plan_lease
from workflow.store.states import PlanState, get_plan

log = logging.getLogger(__name__)

BOT = "bot"
# DMS minutes to wait for the agents to settle: longer than any hop's restart of every agent. After it the
# plan is cancelled anyway, reporting the agents as not settled.
SETTLE_PATIENCE_MINUTES = 120.0
# Observations in a row that must agree before the agents count as settled (one could be a moment between
# an agent's restart steps).
SETTLED_OBSERVATIONS = 2


def settled(states: list[AgentState]) -> bool:
    """Every agent answers, runs, and all run one version: nothing is moving any more."""
    versions = {s.version for s in states}
    return (bool(states) and len(versions) == 1 and None not in versions
            and all(s.reachable and s.status == AgentStatus.RUNNING for s in states))


def cancel_request(context: WorkflowContext, plan_id: int) -> tuple[str, str]:
    """(actor, reason) of the audited move to CANCELLING, for a watch resumed after a restart."""
    with context.session() as session:
        rows = [row for row in audit.events(session, plan_id=plan_id)
                if row.action == "transition" and row.to_state == PlanState.CANCELLING.value]
    return (rows[-1].actor, rows[-1].reason or "") if rows else (BOT, "")


class CancelWatcher:
    def __init__(self, context: WorkflowContext, *, owner: str | None = None) -> None:
        self._context = context
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self.owner = owner or replica_owner()
        self.lease_refusals = 0  # watches not run because another process held the plan's lease (tests)

    def running(self, plan_id: int) -> bool:
        task = self._tasks.get(plan_id)
        return task is not None and not task.done()

    def start(self, plan_id: int, *, actor: str | None = None, reason: str | None = None) -> None:
        """Watch unless this process already does; it runs only if it gets the plan's lease. Without an
        actor (a resumed watch) the cancel's actor and reason are read back from the audit."""
        if self.running(plan_id):
            return
        self._tasks[plan_id] = self._context.spawn(self._leased(plan_id, actor=actor, reason=reason),
                                                   name=f"cancel-watch-{plan_id}")

    async def _leased(self, plan_id: int, *, actor: str | None, reason: str | None) -> None:
        with database.patience():  # background work: waits out a busy database longer than a listener
            await self._leased_patiently(plan_id, actor=actor, reason=reason)

    async def _leased_patiently(self, plan_id: int, *, actor: str | None, reason: str | None) -> None:
        context = self._context
        lease = HeldLease(context.db, name=plan_lease(plan_id), owner=self.owner,
                          ttl_s=context.settings.lease_seconds)
        try:
            async with lease.held() as (taken, previous):
                if not taken:
                    self.lease_refusals += 1
                    log.debug("plan #%s: another process holds its lease (it executes or watches)", plan_id)
                    return
                await self._watch_if_cancelling(plan_id, actor=actor, reason=reason, lease=lease,
                                                previous=previous)
        except LeaseLost as lost:
            log.warning("plan #%s: %s; the replica holding it now records the cancel", plan_id, lost)

    async def _watch_if_cancelling(self, plan_id: int, *, actor: str | None, reason: str | None,
                                   lease: HeldLease, previous: str | None) -> None:
        context = self._context
        if not await context.unit(lambda session: self._still_cancelling(session, plan_id, previous)):
            return  # recorded by another process while this one waited for the lease
        asked: tuple[str, str] = ((actor, reason or "") if actor is not None else
                                  await database.off_loop(cancel_request, context, plan_id))
        await self._watch(plan_id, actor=asked[0], reason=asked[1], lease=lease)

    def _still_cancelling(self, session: Session, plan_id: int, previous: str | None) -> bool:
        if get_plan(session, plan_id=plan_id).state != PlanState.CANCELLING:
            return False
        if previous is not None:
            audit.record(session, actor=BOT, action="lease.takeover", plan_id=plan_id,
                         reason="the previous owner's lease expired during the cancel",
                         detail={"previous": previous, "owner": self.owner}, now=self._context.now())
        return True

    async def _watch(self, plan_id: int, *, actor: str, reason: str, lease: HeldLease) -> None:
        context = self._context
        agents, is_settled, attempts = await self._until_settled(plan_id)
        detail: dict[str, Any] = {"agents": plans.agents_json(agents), "settled": is_settled,
                                  "attempts": attempts}
        why = ("where every agent ended after the cancel" if is_settled else
               f"the agents had not settled {SETTLE_PATIENCE_MINUTES:g} DMS minutes after the cancel")
        await database.off_loop(lease.check)  # one record: a lease lost meanwhile leaves it to the holder

        def record(session: Session) -> None:
            plans.update_progress(session, plan_id=plan_id, agents=detail["agents"], now=context.now())
            audit.record(session, actor=BOT, action="cancel.agents", plan_id=plan_id, reason=why,
                         detail=detail, now=context.now())

        await context.unit(record)
        ended = "the agents settled" if is_settled else "the agents had not settled"
        await context.move(plan_id, to=PlanState.CANCELLED, actor=actor,
                           reason=f"{reason or 'cancelled'}; {ended}", expected_from={PlanState.CANCELLING},
                           then=[(UpgradeCancelled, {"actor": actor, "reason": reason,
                                                     "agents": tuple(agents), "settled": is_settled})])

    async def _until_settled(self, plan_id: int) -> tuple[list[AgentState], bool, int]:
        """(last states, settled?, attempts). DMS errors are retried until the DMS answers, past the
        patience too: the record of where the agents ended is the point of the watch."""
        context = self._context
        scale = context.settings.dms_time_scale
        poll_s = context.settings.dms_poll_seconds / scale
        deadline = time.monotonic() + SETTLE_PATIENCE_MINUTES * 60.0 / scale
        dms_name = await context.unit(lambda session: get_plan(session, plan_id=plan_id).dms_name)
        last: list[AgentState] | None = None
        calm = attempts = 0
        # One driver for the whole watch: while the agent at DMS_URL does not answer (it may be orchestrating
        # the upgrade that goes on), it reads the agents through the others.
        known = await context.unit(lambda session: list(get_plan(session, plan_id=plan_id).agents or []))
        async with context.dms_access.open(dms_name) as conn:
            conn.driver.remember(known)
            while True:
                attempts += 1
                try:
                    states = await conn.driver.observe()
                except DmsError as exc:
                    log.info("plan #%s: the DMS did not answer after the cancel (%s); retrying", plan_id, exc)
                else:
                    if states != last:
                        await self._store_agents(plan_id, states)
                        await context.emit(AgentProgress, plan_id, hop_index=-1, agents=tuple(states))
                    calm = calm + 1 if settled(states) and states == last else int(settled(states))
                    last = states
                    if calm >= SETTLED_OBSERVATIONS or time.monotonic() >= deadline:
                        return states, calm >= SETTLED_OBSERVATIONS, attempts
                await asyncio.sleep(poll_s)

    async def _store_agents(self, plan_id: int, states: list[AgentState]) -> None:
        context = self._context
        await context.unit(lambda session: plans.update_progress(
            session, plan_id=plan_id, agents=plans.agents_json(states), now=context.now()))
