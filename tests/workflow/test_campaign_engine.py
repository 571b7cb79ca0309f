"""Campaigns stored and run (``workflow.campaign_engine``) against three simulated DMSs on different
versions, over real HTTP, with a clock the test moves by hand: waves in order, each DMS's plan approved with
the campaign's approval, the soak's re-checks, a regression that halts, resume, skip, abort, the roles, and
a restart during a soak that resumes it from the database."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from tests.workflow import campaign_bench
from tests.workflow.campaign_bench import STORY, VERSIONS, Bench, approved
from tests.workflow.conftest import APPROVER, APPROVER_2, REQUESTER
from workflow.campaign_engine import LEASE
from workflow.model.campaign import parse_campaign
from workflow.model.campaign_states import CampaignState, CampaignStatus, IllegalCampaignMove, MemberState
from workflow.model.errors import NotAuthorized, RuleViolation, UserError
from workflow.model.states import PlanState
from workflow.store.database import session
from workflow.store.tables import Approval, AuditEvent, Lease

S = CampaignState
fleet, make_bench, bench = campaign_bench.fleet, campaign_bench.make_bench, campaign_bench.bench  # fixtures


def audit_of(db: Engine, plan_id: int) -> list[tuple[str, str]]:
    with session(db) as s:
        rows = s.exec(select(AuditEvent).where(AuditEvent.plan_id == plan_id))
        return [(row.actor, row.action) for row in rows]


async def test_a_campaign_runs_its_waves_halts_on_a_soak_regression_and_resumes(
    bench: Bench, db: Engine
) -> None:
    campaign_id = await approved(bench)
    view = await bench.run_wave(campaign_id)
    staging = view.member("staging")
    assert view.status == CampaignStatus(S.SOAKING, 1) and staging.state is MemberState.UPGRADED
    assert [m.state for m in view.wave_members(2)] == [MemberState.WAITING] * 2  # wave 2 waits for the soak
    assert staging.plan_id is not None and bench.engine.plan_state(staging.plan_id) is PlanState.DONE
    with session(db) as s:
        approval = s.exec(select(Approval).where(Approval.plan_id == staging.plan_id)).one()
    assert approval.actor == APPROVER and approval.decision == "approved" and not approval.override
    assert (APPROVER, "campaign.plan_approved") in audit_of(db, staging.plan_id)

    view = await bench.soak_through(campaign_id)  # clean re-checks every hour, then wave 2 starts
    assert view.status == CampaignStatus(S.WAVE_RUNNING, 2)
    assert all(r.status.value == "pass" for r in view.member("staging").findings)
    view = await bench.run_wave(campaign_id)
    assert view.status == CampaignStatus(S.SOAKING, 2)
    assert {m.name: m.state for m in view.members} == dict.fromkeys(VERSIONS, MemberState.UPGRADED)

    bench.fleet.sims["prod-us"].inject("critical_alarms", agent=1, count=2)  # a fault mid-soak
    bench.clock.advance(minutes=61)
    await bench.campaigns.tick()
    view = await bench.view(campaign_id)
    assert view.status == CampaignStatus(S.HALTED, 2) and view.halted_from is S.SOAKING
    assert "prod-us: No new Critical alarms: new Critical alarm" in view.halt_reason
    assert view.member("prod-us").regressions and not view.member("prod-eu").regressions

    with pytest.raises(UserError, match="A reason is required to resume"):
        await bench.campaigns.resume(campaign_id=campaign_id, actor=APPROVER, reason="  ")
    view = await bench.campaigns.resume(campaign_id=campaign_id, actor=APPROVER_2,
                                        reason="known alarm on a test element, ticket OPS-12")
    assert view.status == CampaignStatus(S.SOAKING, 2)
    assert view.soak_until == bench.clock.now + timedelta(hours=4)
    view = await bench.soak_through(campaign_id)  # the accepted alarm is the soak's baseline now
    assert view.status == CampaignStatus(S.DONE)
    actions = [(actor, action, reason) for actor, action, reason in await bench.campaigns.audit(campaign_id)]
    assert (APPROVER_2, "campaign.transition", "known alarm on a test element, ticket OPS-12") in actions
    assert sum(1 for _, action, _ in actions if action == "campaign.plan_approved") == 3


async def test_only_another_approver_approves_and_refusals_are_audited(
    make_bench: Callable[..., Bench]
) -> None:
    bench = make_bench()
    view = await bench.campaigns.create(parse_campaign(STORY.split()), requester=APPROVER, channel="C1")
    with pytest.raises(NotAuthorized, match="another approver must approve it"):
        await bench.campaigns.approve(campaign_id=view.id, actor=APPROVER)
    with pytest.raises(NotAuthorized, match="Only an upgrade approver may approve campaign"):
        await bench.campaigns.approve(campaign_id=view.id, actor="USTRANGER")
    assert (await bench.view(view.id)).state is S.PROPOSED
    refused = [(actor, action) for actor, action, _ in await bench.campaigns.audit(view.id)][1:]
    assert refused == [(APPROVER, "campaign.approve.refused"), ("USTRANGER", "campaign.approve.refused")]
    self_approving = make_bench(allow_self_approval=True)
    approved_view = await self_approving.campaigns.approve(campaign_id=view.id, actor=APPROVER)
    assert approved_view.state is S.APPROVED and approved_view.approved_by == APPROVER
    with pytest.raises(IllegalCampaignMove, match=f"Campaign #{view.id} cannot go from approved to approved"):
        await bench.campaigns.approve(campaign_id=view.id, actor=APPROVER_2)


async def test_person_actions_are_checked_through_the_roles(bench: Bench) -> None:
    campaign_id = await approved(bench)
    with pytest.raises(IllegalCampaignMove, match="cannot go from approved to halted"):
        await bench.campaigns.halt(campaign_id=campaign_id, actor=REQUESTER)
    with pytest.raises(RuleViolation, match="is approved, not halted: nothing to resume"):
        await bench.campaigns.resume(campaign_id=campaign_id, actor=APPROVER, reason="why not")
    with pytest.raises(NotAuthorized, match="Only an upgrade approver may skip"):
        await bench.campaigns.skip(campaign_id=campaign_id, dms="prod-us", actor=REQUESTER, reason="lab")
    with pytest.raises(UserError, match="A reason is required to skip a DMS"):
        await bench.campaigns.skip(campaign_id=campaign_id, dms="prod-us", actor=APPROVER, reason="")
    with pytest.raises(NotAuthorized, match="may halt"):
        await bench.campaigns.halt(campaign_id=campaign_id, actor="USTRANGER")
    await bench.campaigns.tick()
    view = await bench.campaigns.halt(campaign_id=campaign_id, actor=REQUESTER, reason="change freeze")
    assert view.status == CampaignStatus(S.HALTED, 1)
    assert view.halt_reason == f"halted by {REQUESTER}: change freeze"
    with pytest.raises(NotAuthorized, match="Only an upgrade approver may resume"):
        await bench.campaigns.resume(campaign_id=campaign_id, actor=REQUESTER, reason="freeze over")
    actions = [action for _, action, _ in await bench.campaigns.audit(campaign_id)]
    assert actions.count("campaign.skip.refused") == 1 and actions.count("campaign.resume.refused") == 1
    assert actions.count("campaign.halt.refused") == 1


async def test_a_halt_while_a_wave_executes_stops_approving_until_resumed(bench: Bench) -> None:
    campaign_id = await approved(bench)
    await bench.campaigns.tick()
    await bench.open_windows(campaign_id)
    plan_id = (await bench.view(campaign_id)).member("staging").plan_id
    assert plan_id is not None and bench.engine.plan_state(plan_id) is PlanState.AWAITING_APPROVAL
    await bench.campaigns.halt(campaign_id=campaign_id, actor=REQUESTER, reason="wait")
    await bench.campaigns.tick()
    assert bench.engine.plan_state(plan_id) is PlanState.AWAITING_APPROVAL  # not approved while halted
    await bench.campaigns.resume(campaign_id=campaign_id, actor=APPROVER, reason="go")
    await bench.campaigns.tick()
    await bench.engine.settle()
    await bench.campaigns.tick()
    assert bench.engine.plan_state(plan_id) is PlanState.DONE
    assert (await bench.view(campaign_id)).status == CampaignStatus(S.SOAKING, 1)


async def test_an_expired_plan_halts_and_a_resume_plans_that_dms_again(bench: Bench) -> None:
    campaign_id = await approved(bench)
    await bench.campaigns.tick()
    first = (await bench.view(campaign_id)).member("staging")
    assert first.plan_id is not None and first.window_end is not None
    bench.clock.now = first.window_end + timedelta(minutes=1)
    await bench.engine.on_window_closed(first.plan_id)
    await bench.campaigns.tick()
    view = await bench.view(campaign_id)
    assert view.status == CampaignStatus(S.HALTED, 1)
    # The halt says why the plan stopped, as its last transition was audited.
    assert view.halt_reason.startswith(f"staging: plan #{first.plan_id} ended expired: ")
    assert "window" in view.halt_reason
    await bench.campaigns.resume(campaign_id=campaign_id, actor=APPROVER, reason="missed the window, again")
    view = await bench.run_wave(campaign_id)
    again = view.member("staging")
    assert again.attempt == 2 and again.plan_id not in (None, first.plan_id)
    assert view.status == CampaignStatus(S.SOAKING, 1)


async def test_skipping_a_dms_cancels_its_waiting_plan_and_the_wave_moves_on(bench: Bench) -> None:
    campaign_id = await approved(bench)
    await bench.campaigns.tick()
    plan_id = (await bench.view(campaign_id)).member("staging").plan_id
    assert plan_id is not None
    view = await bench.campaigns.skip(campaign_id=campaign_id, dms="staging", actor=APPROVER,
                                      reason="staging is being rebuilt")
    staging = view.member("staging")
    assert staging.state is MemberState.SKIPPED and staging.skip_reason == "staging is being rebuilt"
    assert bench.engine.plan_state(plan_id) is PlanState.CANCELLED
    await bench.campaigns.tick()  # nothing upgraded in wave 1: nothing to soak
    await bench.campaigns.tick()
    view = await bench.view(campaign_id)
    assert view.status == CampaignStatus(S.WAVE_RUNNING, 2)
    assert all(m.plan_id is not None for m in view.wave_members(2))
    with pytest.raises(RuleViolation, match="staging cannot be skipped: it is skipped"):
        await bench.campaigns.skip(campaign_id=campaign_id, dms="staging", actor=APPROVER, reason="again")
    with pytest.raises(UserError, match="has no DMS named 'lab'"):
        await bench.campaigns.skip(campaign_id=campaign_id, dms="lab", actor=APPROVER, reason="x")


async def test_abort_cancels_waiting_plans_and_ends_the_campaign(bench: Bench) -> None:
    campaign_id = await approved(bench)
    await bench.campaigns.tick()
    plan_id = (await bench.view(campaign_id)).member("staging").plan_id
    assert plan_id is not None
    view = await bench.campaigns.abort(campaign_id=campaign_id, actor=REQUESTER, reason="wrong target")
    assert view.state is S.ABORTED and bench.engine.plan_state(plan_id) is PlanState.CANCELLED
    with pytest.raises(IllegalCampaignMove, match="from aborted to halted in wave 0: it is finished"):
        await bench.campaigns.halt(campaign_id=campaign_id, actor=REQUESTER)
    await bench.campaigns.tick()
    assert (await bench.view(campaign_id)).state is S.ABORTED


async def test_a_restart_during_a_soak_resumes_it_from_the_database(make_bench: Callable[..., Bench]) -> None:
    first = make_bench()
    campaign_id = await approved(first)
    view = await first.run_wave(campaign_id)
    assert view.status == CampaignStatus(S.SOAKING, 1)
    first.clock.advance(minutes=61)
    await first.campaigns.tick()  # one clean check; then the process dies (nothing of it is used again)
    checked_until = (await first.view(campaign_id)).next_check_at
    first.engine.scheduler.stop()

    second = make_bench()  # a new process on the same database
    assert (await second.view(campaign_id)).next_check_at == checked_until
    second.fleet.sims["staging"].inject("critical_alarms", agent=2, count=1)
    second.clock.advance(minutes=61)
    await second.campaigns.tick()
    view = await second.view(campaign_id)
    assert view.status == CampaignStatus(S.HALTED, 1)
    assert "staging: No new Critical alarms" in view.halt_reason
    second.fleet.sims["staging"].clear()
    await second.campaigns.resume(campaign_id=campaign_id, actor=APPROVER, reason="alarm cleared")
    assert (await second.soak_through(campaign_id)).status == CampaignStatus(S.WAVE_RUNNING, 2)
    await second.campaigns.stop()
    await second.engine.stop()


async def test_the_poll_runs_the_due_work_under_one_lease(bench: Bench, db: Engine) -> None:
    campaign_id = await approved(bench)
    await bench.campaigns.start()  # its first pass runs at once
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while (await bench.view(campaign_id)).state is not S.WAVE_RUNNING and loop.time() < deadline:
        await asyncio.sleep(0.02)  # polling with a deadline, not waiting a guessed time
    assert (await bench.view(campaign_id)).status == CampaignStatus(S.WAVE_RUNNING, 1)
    with session(db) as s:
        lease = s.get(Lease, LEASE)
    assert lease is not None and lease.owner == bench.engine.executions.owner
    await bench.campaigns.stop()
    with session(db) as s:
        assert s.get(Lease, LEASE) is None  # handed back at a clean stop


async def test_a_halt_while_a_plan_executes_lets_it_finish_and_keeps_following(bench: Bench) -> None:
    campaign_id = await approved(bench)
    await bench.campaigns.tick()
    await bench.open_windows(campaign_id)
    await bench.campaigns.tick()  # approved with the campaign: the execution starts
    plan_id = (await bench.view(campaign_id)).member("staging").plan_id
    assert plan_id is not None
    assert bench.engine.plan_state(plan_id) in (PlanState.EXECUTING, PlanState.VERIFYING)
    await bench.campaigns.halt(campaign_id=campaign_id, actor=REQUESTER, reason="someone said stop")
    await bench.engine.settle()
    await bench.campaigns.tick()
    view = await bench.view(campaign_id)
    assert bench.engine.plan_state(plan_id) is PlanState.DONE  # a halt stops nothing on the DMS
    assert view.status == CampaignStatus(S.HALTED, 1) and view.member("staging").state is MemberState.UPGRADED
    await bench.campaigns.resume(campaign_id=campaign_id, actor=APPROVER, reason="it went fine")
    await bench.campaigns.tick()
    assert (await bench.view(campaign_id)).status == CampaignStatus(S.SOAKING, 1)


async def test_a_dms_that_stops_answering_mid_soak_halts_and_resume_needs_it_back(bench: Bench) -> None:
    campaign_id = await approved(bench)
    await bench.run_wave(campaign_id)
    bench.fleet.sims["staging"].inject("html_answers")
    bench.clock.advance(minutes=61)
    await bench.campaigns.tick()
    view = await bench.view(campaign_id)
    assert view.status == CampaignStatus(S.HALTED, 1)
    assert "staging: The DMS answers: staging did not answer" in view.halt_reason
    with pytest.raises(UserError, match="staging did not answer"):
        await bench.campaigns.resume(campaign_id=campaign_id, actor=APPROVER, reason="network blip")
    assert (await bench.view(campaign_id)).state is S.HALTED  # nothing changed
    bench.fleet.sims["staging"].clear()
    view = await bench.campaigns.resume(campaign_id=campaign_id, actor=APPROVER, reason="network blip")
    assert view.status == CampaignStatus(S.SOAKING, 1)
