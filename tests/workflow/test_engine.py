"""The engine facade: input checks that change nothing, planning against a real (simulated) DMS,
checks in the background, checklist, approvals' rules, cancel, status and history."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, col, select

from dms.client import DmsClient
from dms.models import CheckStatus
from dms.versions import Version
from tests.support.polling import wait_until
from tests.workflow.conftest import APPROVER, APPROVER_2, REQUESTER, Harness
from workflow.events import ApprovalRejected, Event, ItemTicked, PlanCreated, StateChanged, WindowScheduled
from workflow.model.clock import as_utc
from workflow.model.errors import (
    ActiveUpgradeExists,
    AlreadyDecided,
    NotAuthorized,
    NotFound,
    RuleViolation,
    UserError,
)
from workflow.store.states import PlanState
from workflow.store.tables import Approval, AuditEvent, ChecklistItem, CheckRun, UpgradePlan


async def _plan(h: Harness, **overrides: object) -> int:
    values: dict[str, object] = {"target": "10.4", "track": None,
                                 "window_start": h.clock.now + timedelta(hours=30),
                                 "window_minutes": 240, "requester": REQUESTER, "channel": "C1"}
    values.update(overrides)
    snap = await h.engine.create_plan(**values)  # type: ignore[arg-type]
    return snap.id


async def test_create_plan_reads_the_dms_and_stores_path_estimate_and_window(harness: Harness) -> None:
    snap = await harness.engine.create_plan(target="10.4", track="main", window_start=None,
                                            window_minutes=None, requester=REQUESTER, channel="C1")
    assert snap.state is PlanState.PLANNED
    assert snap.current_version == "10.2.0 CU5" and snap.target_version == "10.4.0 CU21"
    assert len(snap.hops) == 2 and snap.estimate is not None
    assert [type(e) for e in harness.notifier.events] == [PlanCreated]
    moved = await harness.engine.set_window(plan_id=snap.id, start=harness.clock.now + timedelta(days=2),
                                            minutes=90, actor=REQUESTER)
    assert moved.state is PlanState.SCHEDULED
    assert moved.window_end is not None and moved.window_start is not None
    assert moved.window_end - moved.window_start == timedelta(minutes=90)
    assert harness.notifier.of_type(WindowScheduled)
    assert harness.notifier.of_type(StateChanged)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"target": "ten"}, "not a DataMiner version"),
        ({"track": "beta"}, "Track must be"),
        ({"target": "10.1"}, "older than the current"),
        ({"dms": "nowhere"}, "no DMS target named 'nowhere'"),
        ({"window_start": "past"}, "in the past"),
        ({"window_minutes": 5}, "between 15 minutes"),
        ({"window_start": "next year"}, "more than a year ahead"),
        ({"window_start": "end of time"}, "more than a year ahead"),  # was an OverflowError
    ],
)
async def test_bad_input_is_refused_and_changes_nothing(
    harness: Harness, overrides: dict[str, object], message: str
) -> None:
    if overrides.get("window_start") == "past":
        overrides["window_start"] = harness.clock.now - timedelta(minutes=3)
    if overrides.get("window_start") == "next year":
        overrides["window_start"] = harness.clock.now + timedelta(days=367)
    if overrides.get("window_start") == "end of time":
        overrides["window_start"] = datetime.max.replace(tzinfo=UTC) - timedelta(minutes=30)
    with pytest.raises(UserError, match=message):
        await _plan(harness, **overrides)
    assert harness.engine.history() == []
    assert harness.notifier.events == []


async def test_mixed_versions_are_refused_naming_the_agents(harness: Harness) -> None:
    # A person upgraded one agent alone in Cube (a rolling upgrade, which the docs call unsupported); the
    # orchestrator script itself refuses to upgrade part of a cluster.
    harness.sim.cluster.start_upgrade(Version(10, 3, 0, 22), [4], orchestrator=None)
    async with DmsClient(url=harness.sim.url, user="admin", password="admin") as client:
        async def agent_4_upgraded() -> bool:
            states = await client.agent_states()
            return any(s.id == 4 and s.status == "Running" and str(s.version) == "10.3.0 CU22"
                       for s in states)

        await wait_until(agent_4_upgraded, what="agent 4 on 10.3.0 CU22")
    with pytest.raises(UserError, match=r"do not all run one version.*10\.2\.0 CU5.*10\.3\.0 CU22"):
        await _plan(harness)
    assert harness.engine.history() == []


async def test_one_active_plan_per_dms_and_dedupe(harness: Harness) -> None:
    first = await _plan(harness, dedupe_key="slack-trigger-1")
    again = await _plan(harness, dedupe_key="slack-trigger-1")
    assert again == first
    with pytest.raises(ActiveUpgradeExists, match=f"plan #{first}"):
        await _plan(harness)
    assert len(harness.engine.history()) == 1


async def test_run_check_returns_at_once_and_refuses_a_second_concurrent_one(harness: Harness) -> None:
    plan_id = await _plan(harness)
    await harness.engine.run_check(plan_id=plan_id, actor=REQUESTER)
    assert harness.engine.status(plan_id=plan_id).precheck is None  # still running in the background
    with pytest.raises(RuleViolation, match="already running"):
        await harness.engine.run_check(plan_id=plan_id, actor=REQUESTER)
    await harness.engine.settle(timeout_s=10)
    snap = harness.engine.status(plan_id=plan_id)
    assert snap.state is PlanState.PRECHECKED and snap.precheck is not None and snap.precheck.passed
    ticked = {item.key for item in snap.checklist if item.checked and item.checked_by == "bot"}
    assert {"precheck.health", "details.no_problems", "precheck.connect"} <= ticked
    assert "precheck.upload" not in ticked, "Upload only is a person's step: the bot never ticks it"


async def test_run_check_without_an_id_uses_the_active_plan_and_refuses_when_none(harness: Harness) -> None:
    with pytest.raises(NotFound):
        await harness.engine.run_check(plan_id=None, actor=REQUESTER)
    plan_id = await _plan(harness)
    await harness.engine.run_check(plan_id=None, actor=REQUESTER)
    await harness.engine.settle(timeout_s=10)
    assert harness.engine.status().id == plan_id
    assert harness.engine.status(plan_id=plan_id).state is PlanState.PRECHECKED


async def test_tick_records_who_and_refuses_automatic_items(harness: Harness) -> None:
    plan_id = await _plan(harness)
    snap = await harness.engine.tick(plan_id=plan_id, key="details.backup", actor=REQUESTER, checked=True)
    item = next(i for i in snap.checklist if i.key == "details.backup")
    assert item.checked and item.checked_by == REQUESTER
    assert harness.notifier.of_type(ItemTicked)[0].key == "details.backup"
    with pytest.raises(RuleViolation, match="checked by the bot"):
        await harness.engine.tick(plan_id=plan_id, key="precheck.health", actor=REQUESTER, checked=True)
    with pytest.raises(NotFound):
        await harness.engine.tick(plan_id=plan_id, key="no.such", actor=REQUESTER, checked=True)


async def test_approval_rules(make_harness: Callable[..., Harness]) -> None:
    h = make_harness()
    snap = await h.ready_plan()
    with pytest.raises(NotAuthorized, match="not an upgrade approver"):
        await h.engine.approve(plan_id=snap.id, actor="USTRANGER")
    h.clock.advance(hours=5)  # the window closed
    with pytest.raises(RuleViolation, match="window is open"):
        await h.engine.approve(plan_id=snap.id, actor=APPROVER)
    assert h.engine.status(plan_id=snap.id).state is PlanState.AWAITING_APPROVAL


async def test_self_approval_is_refused(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(upgrade_approvers=[REQUESTER, APPROVER])
    snap = await h.ready_plan()
    with pytest.raises(NotAuthorized, match="another approver"):
        await h.engine.approve(plan_id=snap.id, actor=REQUESTER)
    assert h.engine.status(plan_id=snap.id).approval is None


async def test_open_required_items_need_an_override(harness: Harness) -> None:
    snap = await harness.ready_plan(tick=False)
    with pytest.raises(RuleViolation, match="required items are still open"):
        await harness.engine.approve(plan_id=snap.id, actor=APPROVER)
    approved = await harness.engine.approve(plan_id=snap.id, actor=APPROVER, override_reason="done by phone")
    assert approved.approval is not None and approved.approval.override
    await harness.engine.settle(timeout_s=20)
    assert harness.engine.status(plan_id=snap.id).state is PlanState.DONE


async def test_reject_cancels_with_a_reason(harness: Harness) -> None:
    snap = await harness.ready_plan()
    with pytest.raises(RuleViolation, match="reason"):
        await harness.engine.reject(plan_id=snap.id, actor=APPROVER, reason="  ")
    done = await harness.engine.reject(plan_id=snap.id, actor=APPROVER, reason="not this week")
    assert done.state is PlanState.CANCELLED
    assert harness.notifier.of_type(ApprovalRejected)[0].reason == "not this week"
    with pytest.raises(UserError, match="rejected by"):
        await harness.engine.approve(plan_id=snap.id, actor=APPROVER_2)


async def test_cancel_permissions_status_and_history(harness: Harness) -> None:
    plan_id = await _plan(harness)
    assert harness.engine.status().id == plan_id
    with pytest.raises(NotAuthorized):
        await harness.engine.cancel(plan_id=plan_id, actor="USTRANGER", reason="")
    snap = await harness.engine.cancel(plan_id=plan_id, actor=REQUESTER, reason="")
    assert snap.state is PlanState.CANCELLED
    with pytest.raises(NotFound):
        harness.engine.status()
    with pytest.raises(UserError, match="cannot go from"):
        await harness.engine.cancel(plan_id=plan_id, actor=REQUESTER, reason="again")
    second = await _plan(harness)
    assert [s.id for s in harness.engine.history()] == [second, plan_id]
    with pytest.raises(UserError):
        harness.engine.history(limit=0)


async def test_a_failing_notifier_does_not_break_the_engine(make_harness: Callable[..., Harness]) -> None:
    h = make_harness()

    class Broken:
        async def notify(self, event: Event) -> None:
            raise RuntimeError("slack is down")

    h.engine.context.notifier = Broken()
    plan_id = await _plan(h)
    assert h.engine.status(plan_id=plan_id).state is PlanState.SCHEDULED


async def test_a_simulated_target_uses_the_simulator_the_composition_root_started(
    harness: Harness,
) -> None:
    from tests.workflow.conftest import engine_settings
    from workflow.dms_access import DmsAccess

    settings = engine_settings(dms_url="simulated", database_url="sqlite://")
    without = DmsAccess(settings=settings)
    with pytest.raises(UserError, match="no simulator is running"):
        without.client(None)
    access = DmsAccess(settings=settings, simulated_url=harness.sim.url)
    async with access.open(None) as conn:
        assert conn.driver.name == "script"
        assert len(await conn.client.agent_states()) == 4
        assert "admin" not in repr(conn.client).replace("user='admin'", "")
    with pytest.raises(NotFound, match="known: default"):
        access.target("prod")


def _audit_rows(h: Harness, plan_id: int) -> list[AuditEvent]:
    with Session(h.engine.db) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.plan_id == plan_id)
                                 .order_by(col(AuditEvent.id))))


async def test_refused_approvals_and_rejections_are_audited_and_change_nothing(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness()
    snap = await h.ready_plan()
    before = len(_audit_rows(h, snap.id))
    with pytest.raises(NotAuthorized, match="not an upgrade approver"):
        await h.engine.approve(plan_id=snap.id, actor="USTRANGER")
    with pytest.raises(NotAuthorized):
        await h.engine.reject(plan_id=snap.id, actor="USTRANGER", reason="no")
    with pytest.raises(RuleViolation, match="needs a reason"):
        await h.engine.reject(plan_id=snap.id, actor=APPROVER, reason=" ")
    h.clock.advance(hours=5)  # the window closed
    with pytest.raises(RuleViolation, match="window is open"):
        await h.engine.approve(plan_id=snap.id, actor=APPROVER, override_reason="urgent")
    assert h.engine.status(plan_id=snap.id).state is PlanState.AWAITING_APPROVAL
    assert h.engine.status(plan_id=snap.id).approval is None
    refused = _audit_rows(h, snap.id)[before:]
    assert [(r.actor, r.action) for r in refused] == [
        ("USTRANGER", "approval.refused"), ("USTRANGER", "rejection.refused"),
        (APPROVER, "rejection.refused"), (APPROVER, "approval.refused"),
    ]
    assert "not an upgrade approver" in refused[0].reason and refused[0].detail["error"] == "NotAuthorized"
    assert "window is open" in refused[3].reason and refused[3].detail["attempted_reason"] == "urgent"
    assert refused[3].detail["reasons"] == ["approval is only possible while the upgrade window is open"]
    assert all(as_utc(r.at) == h.clock.now for r in refused[3:])  # the engine's clock


async def test_a_second_approval_is_refused_with_the_winner_and_audited(harness: Harness) -> None:
    snap = await harness.ready_plan()
    await harness.engine.approve(plan_id=snap.id, actor=APPROVER)
    with pytest.raises(AlreadyDecided):
        await harness.engine.approve(plan_id=snap.id, actor=APPROVER_2)
    await harness.engine.settle(timeout_s=20)
    rows = [r for r in _audit_rows(harness, snap.id) if r.action == "approval.refused"]
    assert len(rows) == 1 and rows[0].actor == APPROVER_2 and APPROVER in rows[0].reason


async def test_everything_the_engine_records_uses_its_clock(harness: Harness) -> None:
    """The fake clock runs years ahead of the wall clock, so any wall-clock timestamp stands out."""
    h = harness
    created_at = h.clock.now
    snap = await h.ready_plan()
    await h.engine.tick(plan_id=snap.id, key="details.hotfixes", actor=REQUESTER, checked=True)
    approved_at = h.clock.now
    await h.engine.approve(plan_id=snap.id, actor=APPROVER)
    await h.engine.settle(timeout_s=20)
    assert h.engine.status(plan_id=snap.id).state is PlanState.DONE
    with Session(h.engine.db) as session:
        approval = session.exec(select(Approval).where(Approval.plan_id == snap.id)).one()
        runs = list(session.exec(select(CheckRun).where(CheckRun.plan_id == snap.id)))
        items = list(session.exec(select(ChecklistItem).where(ChecklistItem.plan_id == snap.id)))
        plan = session.get(UpgradePlan, snap.id)
        assert plan is not None
        plan_created = as_utc(plan.created_at)
    assert as_utc(approval.decided_at) == approved_at
    assert [r.kind for r in runs] == ["precheck", "verify"]
    stamps = [as_utc(t) for r in runs for t in (r.started_at, r.finished_at)]
    stamps += [as_utc(i.checked_at) for i in items if i.checked_at is not None]
    stamps += [as_utc(r.at) for r in _audit_rows(h, snap.id)]
    stamps.append(plan_created)
    assert all(stamp is not None and created_at <= stamp <= approved_at for stamp in stamps), stamps


async def test_a_window_start_within_the_current_minute_counts_as_now(harness: Harness) -> None:
    picked = harness.clock.now.replace(second=0, microsecond=0) - timedelta(seconds=59)
    harness.clock.now = picked + timedelta(seconds=59, milliseconds=900)  # what a picker gives "now"
    snap = await harness.engine.create_plan(target="10.4", track=None, window_start=picked,
                                            window_minutes=60, requester=REQUESTER, channel="C1")
    assert snap.state is PlanState.SCHEDULED and snap.window_start == picked  # stored as given
    with pytest.raises(UserError, match=r"is in the past \(it is now"):
        too_old = harness.clock.now - timedelta(minutes=2, seconds=1)
        await harness.engine.set_window(plan_id=snap.id, start=too_old, minutes=60, actor=REQUESTER)
    assert harness.engine.status(plan_id=snap.id).window_start == picked


@pytest.mark.parametrize("plan_id", [0, -1, 2**63, 10**30])
async def test_out_of_range_plan_ids_are_not_found_and_change_nothing(harness: Harness, plan_id: int) -> None:
    # Ids too large for the INTEGER column used to reach the driver and raise OverflowError.
    existing = await _plan(harness)
    calls = [
        lambda: harness.engine.tick(plan_id=plan_id, key="details.backup", actor=REQUESTER, checked=True),
        lambda: harness.engine.approve(plan_id=plan_id, actor=APPROVER, override_reason="x"),
        lambda: harness.engine.reject(plan_id=plan_id, actor=APPROVER, reason="x"),
        lambda: harness.engine.cancel(plan_id=plan_id, actor=REQUESTER, reason="x"),
        lambda: harness.engine.run_check(plan_id=plan_id, actor=REQUESTER),
        lambda: harness.engine.set_window(plan_id=plan_id, start=harness.clock.now + timedelta(days=2),
                                          minutes=60, actor=REQUESTER),
    ]
    before = len(_audit_rows(harness, existing))
    for call in calls:
        with pytest.raises(NotFound, match=f"no upgrade plan #{plan_id}"):
            await call()
    with pytest.raises(NotFound):
        harness.engine.status(plan_id=plan_id)
    assert len(_audit_rows(harness, existing)) == before
    assert harness.engine.status(plan_id=existing).state is PlanState.SCHEDULED


async def test_items_confirmed_on_the_checklist_pass_the_pre_check(harness: Harness) -> None:
    plan_id = await _plan(harness)
    snap = harness.engine.status(plan_id=plan_id)
    requirement = next(i for i in snap.checklist if i.key.startswith("details.requirement."))
    await harness.engine.tick(plan_id=plan_id, key=requirement.key, actor=REQUESTER, checked=True)
    await harness.engine.run_check(plan_id=plan_id, actor=REQUESTER)
    await harness.engine.settle(timeout_s=10)
    results = harness.engine.status(plan_id=plan_id).precheck.results  # type: ignore[union-attr]
    text = requirement.title.removeprefix("Requirement met: ")
    confirmed = [r for r in results if r.name == "requirement" and text in r.detail]
    assert [r.status for r in confirmed] == [CheckStatus.PASS]
    assert f"confirmed by <@{REQUESTER}>" in confirmed[0].detail
    others = [r for r in results if r.name == "requirement" and text not in r.detail]
    assert others and all(r.status is CheckStatus.MANUAL for r in others)  # not ticked: still asked
    assert next(r for r in results if r.name == "backup").status is CheckStatus.MANUAL

    await harness.engine.tick(plan_id=plan_id, key="details.backup", actor=REQUESTER, checked=True)
    await harness.engine.run_check(plan_id=plan_id, actor=REQUESTER)
    await harness.engine.settle(timeout_s=10)
    results = harness.engine.status(plan_id=plan_id).precheck.results  # type: ignore[union-attr]
    assert next(r for r in results if r.name == "backup").status is CheckStatus.PASS


async def test_a_dmaversion_the_bot_cannot_read_asks_the_requester_and_is_audited(
    make_harness: Callable[..., Harness],
) -> None:
    """DMAVersion's format is not documented (DMAConnectAndInfo.md). A string we cannot map is
    shown as read and the requester states the version (`plan 10.5 from 10.2.0 CU5`); never "unreachable"."""
    from simulator import SimulatedDms
    from tests.workflow.conftest import sim_config

    odd = SimulatedDms(sim_config(reported_version="10.2.2617.1490"))
    await odd.start()
    try:
        h = make_harness(simulator=odd)
        unreadable = r"'10\.2\.2617\.1490', which is not recognised.*from 10\.4\.0 CU3"
        with pytest.raises(UserError, match=unreadable):
            await h.engine.create_plan(target="10.4", track=None, window_start=None, window_minutes=None,
                                       requester=REQUESTER, channel="C1")
        with pytest.raises(UserError, match=r"'ten'"):
            await h.engine.create_plan(target="10.4", track=None, window_start=None, window_minutes=None,
                                       requester=REQUESTER, channel="C1", confirmed_current="ten")
        snap = await h.engine.create_plan(target="10.4", track=None, window_start=None, window_minutes=None,
                                          requester=REQUESTER, channel="C1", confirmed_current="10.2.0 CU5")
        assert snap.current_version == "10.2.0 CU5"
        connect = next(item for item in snap.checklist if item.key == "details.connect")
        assert "'10.2.2617.1490', confirmed as 10.2.0 CU5" in connect.detail
        with h.engine.session() as session:
            rows = session.exec(select(AuditEvent).where(AuditEvent.action == "plan.current_confirmed")).all()
        assert [(row.actor, row.detail) for row in rows] == [
            (REQUESTER, {"read": "10.2.2617.1490", "confirmed": "10.2.0 CU5"})]
        await h.engine.stop()
    finally:
        await odd.stop()


async def test_from_is_refused_when_the_dms_version_is_known_and_differs(harness: Harness) -> None:
    with pytest.raises(UserError, match=r"runs 10\.2\.0 CU5; `from` is only for a version the bot cannot"):
        await harness.engine.create_plan(target="10.4", track=None, window_start=None, window_minutes=None,
                                         requester=REQUESTER, channel="C1", confirmed_current="10.1.0")
