"""Full upgrades against the simulated DMS at high speed: happy paths, faults, cancel, ETA, learning."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session, select

from dms.models import Source
from dms.packages import package_file
from simulator import SimulatedDms, cube
from tests.support.polling import wait_until
from tests.workflow.conftest import APPROVER, APPROVER_2, REQUESTER, Harness, sim_config
from workflow import execution
from workflow.events import (
    DOWNGRADE_GUIDANCE,
    UNTOUCHED_GUIDANCE,
    AgentProgress,
    CheckFinished,
    CubeStepConfirmed,
    CubeStepRequested,
    EtaChanged,
    HopFinished,
    HopStarted,
    UpgradeCancelled,
    UpgradeFailed,
    UpgradeFinished,
)
from workflow.model.errors import AlreadyDecided, NotAuthorized, RuleViolation
from workflow.store.states import PlanState
from workflow.store.tables import AuditEvent, ObservedDuration


async def test_full_multi_hop_upgrade_reaches_done(harness: Harness) -> None:
    snap = await harness.ready_plan(target="10.4")
    assert [str(hop.version) for hop in snap.hops] == ["10.3.0 CU22", "10.4.0 CU21"]
    assert snap.precheck is not None and snap.precheck.passed
    await harness.engine.approve(plan_id=snap.id, actor=APPROVER)
    await harness.engine.settle(timeout_s=20)
    final = harness.engine.status(plan_id=snap.id)
    assert final.state is PlanState.DONE, harness.notifier.types()
    state = harness.sim.state()
    assert {agent["version"] for agent in state["agents"]} == {"10.4.0 CU21"}
    assert state["upgrades_triggered"] == {"10.3.0 CU22": 1, "10.4.0 CU21": 1}
    n = harness.notifier
    assert [e.hop_index for e in n.of_type(HopStarted)] == [0, 1]
    assert all(e.instructions is None and not e.resumed for e in n.of_type(HopStarted))
    assert [e.hop_index for e in n.of_type(HopFinished)] == [0, 1]
    progress = n.of_type(AgentProgress)
    assert progress and all(len(e.agents) == 4 for e in progress)
    post = [e for e in n.of_type(CheckFinished) if e.kind == "post"]
    assert len(post) == 1 and post[0].passed
    assert Counter(n.types())["UpgradeFinished"] == 1
    assert all(hop.wait_done_at is not None for hop in final.hops)
    assert final.verification is not None and final.verification.passed
    checked = {item.key for item in final.checklist if item.checked}
    assert checked >= {"verify.agents_running", "execute.all_agents"}
    # Every step was recorded started before done, in order, in the audit log.
    with Session(harness.engine.db) as session:
        rows = session.exec(select(AuditEvent).where(AuditEvent.plan_id == snap.id))
        actions = [row.action for row in rows]
    steps = [a for a in actions if a.startswith("hop.")]
    assert steps == [f"hop.{s}.{e}" for _ in range(2) for s in ("upload", "upgrade", "wait")
                     for e in ("started", "done")]


async def test_eta_follows_progress_and_durations_feed_the_next_estimate(harness: Harness) -> None:
    snap = await harness.ready_plan(target="10.4")
    first_estimate = snap.estimate
    assert first_estimate is not None
    await harness.engine.approve(plan_id=snap.id, actor=APPROVER)
    await harness.engine.settle(timeout_s=20)
    etas = harness.notifier.of_type(EtaChanged)
    assert len(etas) >= 3
    assert etas[-1].remaining_minutes < etas[0].remaining_minutes
    assert harness.engine.status(plan_id=snap.id).eta is not None
    with Session(harness.engine.db) as session:
        learned = session.exec(select(ObservedDuration).where(ObservedDuration.kind == "agent_startup")).all()
    assert len(learned) == 2 and all(row.minutes > 0 for row in learned)
    # The next plan on this DMS uses what was observed, not the setting.
    nxt = await harness.engine.create_plan(target="10.5", track=None, window_start=None, window_minutes=None,
                                           requester=REQUESTER, channel="C1")
    assert nxt.estimate is not None
    assert any("learned" in factor for factor in nxt.estimate.execution.factors)


async def test_helper_hop_runs_without_restart(make_harness: Callable[..., Harness]) -> None:
    async with SimulatedDms(sim_config(version="10.0.0 CU19")) as sim:
        h = make_harness(simulator=sim)
        snap = await h.ready_plan(target="10.2")
        assert [hop.package for hop in snap.hops] == ["helper", "full"]
        await h.engine.approve(plan_id=snap.id, actor=APPROVER)
        await h.engine.settle(timeout_s=20)
        assert h.engine.status(plan_id=snap.id).state is PlanState.DONE, h.notifier.types()
        assert sim.state()["upgrades_triggered"] == {"VerifyClusterPorts.dmupgrade": 1, "10.2.0 CU21": 1}
        await h.engine.stop()


async def test_a_prerequisite_check_failing_when_the_upgrade_starts_fails_the_hop_with_its_exit_code(
    harness: Harness,
) -> None:
    # The bot cannot run Upload only, so a failing prerequisite check shows where DataMiner runs it again:
    # when the upgrade starts (Preparing_to_upgrade_a_DataMiner_Agent.md), reported by the utility's exit
    # code. Before, the bot reported the checks passed the day before and saw the refusal only as a timeout.
    harness.sim.inject("prerequisite_check_fails")
    snap = await harness.ready_plan(target="10.4")
    assert snap.precheck is not None and snap.precheck.passed
    upload = [r for r in snap.precheck.results if r.name == "prerequisites"]
    assert upload and all(r.source is Source.PERSON for r in upload), "only a person's tick, never the bot"
    await harness.engine.approve(plan_id=snap.id, actor=APPROVER)
    await harness.engine.settle(timeout_s=20)
    final = harness.engine.status(plan_id=snap.id)
    assert final.state is PlanState.FAILED
    (failed,) = harness.notifier.of_type(UpgradeFailed)
    assert "hop 1" in failed.reason and "exited with code" in failed.reason
    assert failed.guidance == UNTOUCHED_GUIDANCE, "no agent moved: no snapshot to restore"
    assert {agent["version"] for agent in harness.sim.state()["agents"]} == {"10.2.0 CU5"}


async def test_agent_that_fails_to_start_fails_the_plan_with_guidance(harness: Harness) -> None:
    snap = await harness.ready_plan(target="10.4")
    harness.sim.inject("agent_fails_to_start", agent=4)
    await harness.engine.approve(plan_id=snap.id, actor=APPROVER)
    await harness.engine.settle(timeout_s=20)
    final = harness.engine.status(plan_id=snap.id)
    assert final.state is PlanState.FAILED
    failed = harness.notifier.of_type(UpgradeFailed)
    assert len(failed) == 1
    assert failed[0].guidance == DOWNGRADE_GUIDANCE and "snapshot" in failed[0].guidance
    assert "hop 1" in failed[0].reason and "10.3.0 CU22" in failed[0].reason
    assert any(a.id == 4 and a.status != "Running" for a in failed[0].agents)
    # The second hop was never triggered.
    assert harness.sim.state()["upgrades_triggered"] == {"10.3.0 CU22": 1}


async def test_cancel_mid_execution_watches_the_agents_settle_and_records_them(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """A cancel cannot stop the hop running on the DMS. The plan is CANCELLING until every agent
    settled, the DMS is asked again until it answers, and the audit says where the agents ended."""
    snap = await harness.ready_plan(target="10.4")
    harness.sim.inject("agent_stuck_starting", agent=2)  # keeps the first hop in progress

    await harness.engine.approve(plan_id=snap.id, actor=APPROVER)

    def upgrading() -> bool:
        hops = harness.engine.status(plan_id=snap.id).hops
        return hops[0].wait_started_at is not None

    await wait_until(upgrading, what="the first hop to be upgrading")
    caplog.set_level(logging.INFO, logger="workflow.cancel_watch")
    for agent in (1, 2, 3, 4):  # no agent answers for a while (the watch also asks the others)
        harness.sim.inject("agent_unreachable", agent=agent)
    cancelled = await harness.engine.cancel(plan_id=snap.id, actor=APPROVER_2, reason="change freeze")
    assert cancelled.state is PlanState.CANCELLING
    with pytest.raises(RuleViolation, match="already being cancelled"):
        await harness.engine.cancel(plan_id=snap.id, actor=APPROVER_2, reason="again")
    await wait_until(lambda: "did not answer after the cancel" in caplog.text, what="a retried observation")
    assert harness.engine.status(plan_id=snap.id).state is PlanState.CANCELLING
    assert not harness.notifier.of_type(UpgradeCancelled)

    harness.sim.clear("agent_unreachable")
    harness.sim.clear("agent_stuck_starting")
    await harness.engine.settle(timeout_s=20)
    events = harness.notifier.of_type(UpgradeCancelled)
    assert len(events) == 1 and events[0].reason == "change freeze" and events[0].settled
    assert sorted(a.id for a in events[0].agents) == [1, 2, 3, 4]
    assert {str(a.version) for a in events[0].agents} == {"10.3.0 CU22"}  # where the running hop ended
    assert harness.engine.status(plan_id=snap.id).state is PlanState.CANCELLED
    assert not harness.notifier.of_type(UpgradeFailed)
    with Session(harness.engine.db) as session:
        rows = session.exec(select(AuditEvent).where(AuditEvent.action == "cancel.agents")).all()
    assert len(rows) == 1 and len(rows[0].detail["agents"]) == 4
    assert rows[0].detail["settled"] is True and rows[0].detail["attempts"] >= 3
    assert harness.sim.state()["upgrades_triggered"] == {"10.3.0 CU22": 1}


async def test_two_approvals_at_once_give_one_execution(harness: Harness) -> None:
    snap = await harness.ready_plan(target="10.4")
    results = await asyncio.gather(
        harness.engine.approve(plan_id=snap.id, actor=APPROVER),
        harness.engine.approve(plan_id=snap.id, actor=APPROVER_2),
        return_exceptions=True,
    )
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(losers) == 1 and isinstance(losers[0], AlreadyDecided)
    winner = next(r for r in results if not isinstance(r, BaseException))
    assert losers[0].decided_by in (APPROVER, APPROVER_2)
    assert winner.approval is not None and winner.approval.actor == losers[0].decided_by
    await harness.engine.settle(timeout_s=20)
    assert harness.engine.status(plan_id=snap.id).state is PlanState.DONE
    assert harness.sim.state()["upgrades_triggered"] == {"10.3.0 CU22": 1, "10.4.0 CU21": 1}
    assert len(harness.notifier.of_type(UpgradeFinished)) == 1


async def test_watch_driver_asks_one_step_at_a_time_and_each_done_in_cube_confirms_it(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(dms_driver="watch")
    snap = await h.ready_plan(target="10.3")
    assert snap.precheck is not None and snap.precheck.passed
    assert all(r.source is Source.PERSON for r in snap.precheck.results if r.name == "prerequisites")
    # No checklist item (optional or not) stands in for the confirmation any more.
    assert "execute.upload_confirmed" not in {item.key for item in snap.checklist}
    await h.engine.approve(plan_id=snap.id, actor=APPROVER)
    upload = await h.notifier.wait_for(CubeStepRequested, plan_id=snap.id)
    assert upload.step == "upload" and upload.hop_index == 0
    assert any("Upload only" in line for line in upload.instructions)
    assert any("Upgrade main and backup Agent simultaneously" in line for line in upload.instructions)
    assert not any("Click Upgrade" in line for line in upload.instructions)  # one step at a time
    await h.engine.settle(timeout_s=5)  # waiting for a person is idle: settle returns
    assert h.sim.state()["upgrades_triggered"] == {}  # the bot triggers nothing itself
    # The person uploads in "Cube" (here: the simulator playing that person), then clicks.
    package = package_file(snap.hops[0])
    assert await cube.play_step(h.sim.cluster, step="upload", package=package) is None
    with pytest.raises(NotAuthorized):
        await h.engine.confirm_cube_step(plan_id=snap.id, hop_index=0, step="upload", actor="UOTHER")
    with pytest.raises(RuleViolation, match="not asked"):
        await h.engine.confirm_cube_step(plan_id=snap.id, hop_index=0, step="upgrade", actor=REQUESTER)
    await h.engine.confirm_cube_step(plan_id=snap.id, hop_index=0, step="upload", actor=REQUESTER)
    upgrade = await wait_for_step(h, snap.id, "upgrade")
    assert any("Click Upgrade" in line for line in upgrade.instructions)
    assert await cube.play_step(h.sim.cluster, step="upgrade", package=package) is None
    await h.engine.confirm_cube_step(plan_id=snap.id, hop_index=0, step="upgrade", actor=APPROVER)
    with pytest.raises(RuleViolation, match="already confirmed"):
        await h.engine.confirm_cube_step(plan_id=snap.id, hop_index=0, step="upgrade", actor=APPROVER)
    await h.engine.settle(timeout_s=20)
    assert h.engine.status(plan_id=snap.id).state is PlanState.DONE, h.notifier.types()
    assert h.sim.state()["upgrades_triggered"] == {"10.3.0 CU22": 1}
    confirmed = [(e.step, e.actor) for e in h.notifier.of_type(CubeStepConfirmed)]
    assert confirmed == [("upload", REQUESTER), ("upgrade", APPROVER)]
    with Session(h.engine.db) as session:
        rows = session.exec(select(AuditEvent).where(AuditEvent.action == "cube.confirmed")).all()
    assert [row.actor for row in rows] == [REQUESTER, APPROVER]
    # The checklist credits the people who clicked, never "the bot drove every hop".
    items = {item.key: item for item in h.engine.status(plan_id=snap.id).checklist}
    assert items["execute.upload_only"].checked_by == REQUESTER
    upgraded = items["execute.upgrade"]
    assert upgraded.checked_by == APPROVER and f"<@{APPROVER}>" in upgraded.detail
    assert "bot drove" not in items["execute.open"].detail and "by <@" in items["execute.open"].detail


async def wait_for_step(h: Harness, plan_id: int, step: str) -> CubeStepRequested:
    await wait_until(lambda: any(e.step == step for e in h.notifier.of_type(CubeStepRequested)),
                     what=f"the bot to ask for {step}")
    return next(e for e in h.notifier.of_type(CubeStepRequested) if e.step == step)


async def test_watch_driver_deadline_is_in_real_minutes_from_the_estimate(
    make_harness: Callable[..., Harness],
) -> None:
    # At x2000 the agents' deadline is seconds; a person's is the estimate's minutes, unscaled.
    h = make_harness(dms_driver="watch")
    snap = await h.ready_plan(target="10.3")
    await h.engine.approve(plan_id=snap.id, actor=APPROVER)
    upload = await h.notifier.wait_for(CubeStepRequested, plan_id=snap.id)
    minutes = (upload.deadline - datetime.now(UTC)).total_seconds() / 60
    assert minutes >= 20, upload.deadline  # the estimate's hop, never divided by the DMS time scale
    await h.engine.cancel(plan_id=snap.id, actor=REQUESTER, reason="enough")
    await h.engine.settle(timeout_s=5)


async def test_watch_story_end_to_end_with_the_simulator_playing_cube(
    make_harness: Callable[..., Harness],
) -> None:
    simulator = SimulatedDms(sim_config(play_cube=True))
    await simulator.start()
    try:
        h = make_harness(simulator=simulator, dms_driver="watch", sim_play_cube=True)
        snap = await h.ready_plan(target="10.4")
        await h.engine.approve(plan_id=snap.id, actor=APPROVER)
        for hop in (0, 1):
            for step in ("upload", "upgrade"):
                await wait_until(lambda hop=hop, step=step: any(
                    (e.hop_index, e.step) == (hop, step) for e in h.notifier.of_type(CubeStepRequested)),
                    what=f"hop {hop} {step}")
                await h.engine.settle(timeout_s=10)
                await h.engine.confirm_cube_step(plan_id=snap.id, hop_index=hop, step=step, actor=REQUESTER)
        await h.engine.settle(timeout_s=20)
        assert h.engine.status(plan_id=snap.id).state is PlanState.DONE, h.notifier.types()
        assert h.sim.state()["upgrades_triggered"] == {"10.3.0 CU22": 1, "10.4.0 CU21": 1}
    finally:
        await h.engine.stop()
        await simulator.stop()


def test_eta_follows_the_observed_pace_and_deadlines_have_a_floor() -> None:
    from datetime import UTC, datetime, timedelta

    from workflow.eta import EtaInput, HopExpectation, compute_eta, hop_deadline_seconds

    now = datetime(2030, 1, 1, tzinfo=UTC)
    hops = [HopExpectation(low=20, high=40)] * 3  # 30 DMS minutes likely per hop
    fresh = compute_eta(EtaInput(now=now, expectations=hops, finished_wall_minutes=[],
                                 current_started_at=None))
    assert fresh.remaining_minutes == 3 * 30 + 2
    # The first hop took twice as long as expected: the two left are expected twice as long too.
    slow = compute_eta(EtaInput(now=now, expectations=hops, finished_wall_minutes=[60.0],
                                current_started_at=None))
    assert slow.remaining_minutes == 2 * 60 + 2
    assert slow.at == now + timedelta(minutes=122)
    # Ten minutes into the second hop at that pace: fifty of its sixty minutes are left.
    running = compute_eta(EtaInput(now=now, expectations=hops, finished_wall_minutes=[60.0],
                                   current_started_at=now - timedelta(minutes=10)))
    assert running.remaining_minutes == 50 + 60 + 2
    # The simulator runs 600 times faster: wall minutes shrink accordingly.
    fast = compute_eta(EtaInput(now=now, expectations=hops, finished_wall_minutes=[], current_started_at=None,
                                time_scale=600))
    assert abs(fast.remaining_minutes - 92 / 600) < 1e-9
    assert hop_deadline_seconds(HopExpectation(low=20, high=40), time_scale=1) == 80 * 60
    assert hop_deadline_seconds(HopExpectation(low=1, high=2), time_scale=10) == 10 * 60 / 10
    # A scaled run's hop gets at least 15 real seconds: the bot's own polling takes real time (CI found a
    # 2000x hop declared failed after 1 s on a loaded machine).
    assert hop_deadline_seconds(HopExpectation(low=20, high=40), time_scale=2000) == 15.0


async def test_a_dms_answering_html_is_a_protocol_error_the_plan_records(harness: Harness) -> None:
    """Bad input: an HTML page with status 200 (a misconfigured IIS) gives a protocol error naming
    the agent and method, never a traceback; the pre-check records it and the execution fails with it."""
    snap = await harness.engine.create_plan(
        target="10.4", track="main", window_start=harness.clock.now.replace(year=2031), window_minutes=120,
        requester=REQUESTER, channel="C1")
    harness.sim.inject("html_answers")
    await harness.engine.run_check(plan_id=snap.id, actor=REQUESTER)
    await harness.engine.settle(timeout_s=10)
    blocked = harness.engine.status(plan_id=snap.id)
    assert blocked.state is PlanState.BLOCKED and blocked.precheck is not None
    (failure,) = [r for r in blocked.precheck.failed if r.name == "dms_reachable"]
    assert failure.detail == "the answer is not JSON (HTML or XML) (agent 127.0.0.1 ConnectApp)"

    harness.sim.clear()
    await harness.engine.cancel(plan_id=snap.id, actor=REQUESTER, reason="retry on a fresh plan")
    plan = await harness.ready_plan()
    await harness.engine.approve(plan_id=plan.id, actor=APPROVER)
    harness.sim.inject("html_answers")
    await harness.engine.settle(timeout_s=20)
    failed = harness.engine.status(plan_id=plan.id)
    assert failed.state is PlanState.FAILED
    assert harness.sim.state()["upgrades_triggered"] == {}
    reason = harness.notifier.of_type(UpgradeFailed, plan_id=plan.id)[-1].reason
    assert reason == "the DMS failed: the answer is not JSON (HTML or XML) (agent 127.0.0.1 ConnectApp)"


async def test_a_cancel_watch_resumes_after_a_restart(make_harness: Callable[..., Harness]) -> None:
    """CANCELLING survives the process: the next engine watches on, with the cancel's actor and reason."""
    first = make_harness()
    await first.engine.start()
    snap = await first.ready_plan(target="10.4")
    first.sim.inject("agent_stuck_starting", agent=2)
    await first.engine.approve(plan_id=snap.id, actor=APPROVER)
    await wait_until(lambda: first.engine.status(plan_id=snap.id).hops[0].wait_started_at is not None,
                     what="the first hop to be upgrading")
    await first.engine.cancel(plan_id=snap.id, actor=APPROVER_2, reason="change freeze")
    await first.engine.stop()  # the process ends while the agents are still moving
    assert first.engine.status(plan_id=snap.id).state is PlanState.CANCELLING

    second = make_harness()
    await second.engine.start()
    second.sim.clear("agent_stuck_starting")
    await wait_until(lambda: second.engine.status(plan_id=snap.id).state is PlanState.CANCELLED,
                     timeout_s=20, what="the resumed watch to finish")
    await second.engine.settle(timeout_s=10)
    events = second.notifier.of_type(UpgradeCancelled)
    assert len(events) == 1 and events[0].actor == APPROVER_2 and events[0].reason == "change freeze"
    await second.engine.stop()
async def test_a_later_hops_prerequisite_check_fails_that_hop_when_it_starts(harness: Harness) -> None:
    # The second hop's package checks the DMS it will be installed on: its checks run when its upgrade
    # starts, and the utility's exit code fails that hop alone.
    harness.sim.inject("prerequisite_check_fails", check="Verify NATS Cluster", package="10.4.0 CU21")
    snap = await harness.ready_plan(target="10.4")
    assert snap.precheck is not None and snap.precheck.passed, snap.precheck
    assert harness.sim.state()["uploads"] == {}, "the day-before check uploads nothing"
    await harness.engine.approve(plan_id=snap.id, actor=APPROVER)
    await harness.engine.settle(timeout_s=20)
    final = harness.engine.status(plan_id=snap.id)
    assert final.state is PlanState.FAILED
    (failed,) = harness.notifier.of_type(UpgradeFailed)
    assert "hop 2" in failed.reason and "exited with code" in failed.reason
    assert sum(harness.sim.state()["upgrades_triggered"].values()) <= 2
    assert {agent["version"] for agent in harness.sim.state()["agents"]} == {"10.3.0 CU22"}


def test_the_loop_never_asks_which_driver_it_runs() -> None:
    """Each driver performs its steps through ``run_step``; a branch on the driver's kind in the loop would
    bring back what a new driver could not plug into."""
    source = Path(execution.__file__).read_text(encoding="utf-8")
    assert "needs_person" not in source and "isinstance(self.driver" not in source
    assert "ScriptDriver" not in source and "WatchDriver" not in source
