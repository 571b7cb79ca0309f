"""Upload only is a person's step in Cube: the day-before check asks for it and reports what a person said.

The script driver cannot run Upload only (it exists only in Cube: Upgrading_a_DataMiner_Agent_in_System_Center
.md; the Taskbar Utility command line has none), so no pre-check may say it passed unless a person confirmed
it. Before, the check posted "uploaded to every agent; checks: Verify Cluster Ports, …" as a pass.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, col, select

from dms.models import CheckStatus, Source
from tests.workflow.conftest import APPROVER, REQUESTER, Harness, tick_manual
from workflow.events import UploadOnlyReported, UploadOnlyRequested
from workflow.model.errors import NotAuthorized, RuleViolation
from workflow.store.states import PlanState
from workflow.store.tables import AuditEvent


async def _prechecked(h: Harness) -> int:
    snap = await h.engine.create_plan(target="10.4", track=None, window_minutes=240, requester=REQUESTER,
                                      window_start=h.clock.now + timedelta(hours=30), channel="C1")
    for item in h.engine.status(plan_id=snap.id).open_required_manual:
        if item.key != "precheck.upload":
            await h.engine.tick(plan_id=snap.id, key=item.key, actor=REQUESTER, checked=True)
    await h.engine.run_check(plan_id=snap.id, actor=REQUESTER)
    await h.engine.settle(timeout_s=10)
    return snap.id


async def test_the_pre_check_never_claims_upload_only_and_asks_a_person_for_it(harness: Harness) -> None:
    plan_id = await _prechecked(harness)
    snap = harness.engine.status(plan_id=plan_id)
    assert snap.precheck is not None
    upload = [r for r in snap.precheck.results if r.name == "prerequisites"]
    assert [(r.status, r.source) for r in upload] == [(CheckStatus.MANUAL, Source.NOT_CHECKED)]
    assert "uploaded to every agent" not in str(snap.precheck.results)
    files = [r for r in snap.precheck.results if r.name == "package_file"]
    assert files and all(r.status is CheckStatus.PASS and r.source is Source.BOT for r in files)
    item = next(i for i in snap.checklist if i.key == "precheck.upload")
    assert not item.checked and item.kind == "manual"
    asked = harness.notifier.of_type(UploadOnlyRequested, plan_id=plan_id)
    assert asked and asked[-1].file.endswith(".dmupgrade")
    assert "Upload only" in " ".join(asked[-1].instructions)
    assert harness.sim.state()["uploads"] == {}, "the bot uploaded nothing"


async def test_a_confirmation_ticks_the_item_with_who_and_passes_the_next_check(harness: Harness) -> None:
    plan_id = await _prechecked(harness)
    await harness.engine.report_upload_only(plan_id=plan_id, actor=APPROVER, passed=True)
    item = next(i for i in harness.engine.status(plan_id=plan_id).checklist if i.key == "precheck.upload")
    assert item.checked and item.checked_by == APPROVER and f"<@{APPROVER}>" in item.detail
    assert "passed" in item.detail
    await harness.engine.run_check(plan_id=plan_id, actor=REQUESTER)
    await harness.engine.settle(timeout_s=10)
    upload = next(r for r in harness.engine.status(plan_id=plan_id).precheck.results  # type: ignore[union-attr]
                  if r.name == "prerequisites")
    assert (upload.status, upload.source) == (CheckStatus.PASS, Source.PERSON)
    with Session(harness.engine.context.db) as session:
        rows = session.exec(select(AuditEvent).where(col(AuditEvent.action) == "upload_only.reported")).all()
    assert [(r.actor, r.detail["passed"]) for r in rows] == [(APPROVER, True)]


async def test_a_failure_report_needs_its_text_blocks_the_plan_and_shows_as_a_persons_failure(
    harness: Harness,
) -> None:
    plan_id = await _prechecked(harness)
    assert harness.engine.status(plan_id=plan_id).state is PlanState.PRECHECKED
    with pytest.raises(RuleViolation, match="what Cube reported"):
        await harness.engine.report_upload_only(plan_id=plan_id, actor=REQUESTER, passed=False, report="  ")
    assert harness.engine.status(plan_id=plan_id).state is PlanState.PRECHECKED  # nothing changed
    await harness.engine.report_upload_only(plan_id=plan_id, actor=REQUESTER, passed=False,
                                            report="Verify NATS Cluster failed on DMA02")
    snap = harness.engine.status(plan_id=plan_id)
    assert snap.state is PlanState.BLOCKED
    reported = harness.notifier.of_type(UploadOnlyReported, plan_id=plan_id)[-1]
    assert not reported.passed and "Verify NATS Cluster" in reported.report
    await harness.engine.run_check(plan_id=plan_id, actor=REQUESTER)
    await harness.engine.settle(timeout_s=10)
    upload = next(r for r in harness.engine.status(plan_id=plan_id).precheck.results  # type: ignore[union-attr]
                  if r.name == "prerequisites")
    assert (upload.status, upload.source) == (CheckStatus.FAIL, Source.PERSON)
    assert "Verify NATS Cluster failed on DMA02" in upload.detail


async def test_only_people_with_a_role_on_the_plan_may_report(make_harness: object) -> None:
    harness = make_harness(upgrade_operators=["UOPERATOR"], upgrade_approvers=[APPROVER])  # type: ignore[operator]
    try:
        plan_id = await _prechecked(harness)
        with pytest.raises(NotAuthorized):
            await harness.engine.report_upload_only(plan_id=plan_id, actor="UBYSTANDER", passed=True)
        item = next(i for i in harness.engine.status(plan_id=plan_id).checklist if i.key == "precheck.upload")
        assert not item.checked
    finally:
        await harness.engine.stop()


async def test_approval_waits_for_the_confirmation_or_an_override(harness: Harness) -> None:
    snap = await harness.engine.create_plan(
        target="10.4", track=None, window_start=harness.clock.now + timedelta(hours=30), window_minutes=240,
        requester=REQUESTER, channel="C1")
    for item in harness.engine.status(plan_id=snap.id).open_required_manual:
        if item.key != "precheck.upload":
            await harness.engine.tick(plan_id=snap.id, key=item.key, actor=REQUESTER, checked=True)
    harness.clock.advance(hours=6)
    await harness.engine.on_precheck_due(snap.id)
    harness.clock.advance(hours=24, minutes=1)
    await harness.engine.on_approval_due(snap.id)
    assert harness.engine.status(plan_id=snap.id).state is PlanState.AWAITING_APPROVAL
    with pytest.raises(RuleViolation, match="Upload only"):
        await harness.engine.approve(plan_id=snap.id, actor=APPROVER)
    await harness.engine.report_upload_only(plan_id=snap.id, actor=REQUESTER, passed=True)
    await tick_manual(harness.engine, snap.id)
    await harness.engine.approve(plan_id=snap.id, actor=APPROVER)
    assert harness.engine.status(plan_id=snap.id).state in (PlanState.EXECUTING, PlanState.VERIFYING,
                                                            PlanState.DONE)
