"""Every event the workflow tells of survives the trip through the outbox of domain events unchanged:
written as JSON in one process, read back (maybe in another) by the sender that draws it."""

from __future__ import annotations

import json

import pytest

from tests.support.polling import wait_until
from tests.workflow.conftest import APPROVER, Harness
from workflow.event_codec import _event_types, decode, encode
from workflow.events import CheckStarted, UpgradeFailed, UpgradeFinished
from workflow.model.snapshot import PlanHeader, PlanSnapshot


async def test_a_whole_upgrade_s_events_round_trip(harness: Harness) -> None:
    plan = await harness.ready_plan()
    await harness.engine.approve(plan_id=plan.id, actor=APPROVER)
    await harness.engine.settle()
    # The run's outcome does not matter here, only that it told of every kind of event on its way; on a busy
    # machine the simulated hop may outrun its deadline and fail, which is an event too.
    told = harness.notifier
    await wait_until(lambda: bool(told.of_type(UpgradeFinished) or told.of_type(UpgradeFailed)),
                     timeout_s=30, what="the upgrade's outcome")
    kinds = set()
    for event in harness.notifier.events:
        kind, body = encode(event)
        again = decode(kind, json.loads(json.dumps(body)))  # what the database keeps is JSON
        assert again == event, kind
        kinds.add(kind)
    # The run told of enough kinds for the round trip to mean something: snapshots, checks, agents, hops.
    assert {"PlanCreated", "CheckFinished", "ApprovalGranted", "HopStarted", "AgentProgress",
            "HopFinished"} <= kinds and kinds & {"UpgradeFinished", "UpgradeFailed"}, kinds


def test_every_event_type_can_be_read_back_by_name() -> None:
    assert len(_event_types()) >= 24
    with pytest.raises(ValueError, match="unknown event kind"):
        decode("NoSuchEvent", {})


async def test_a_note_written_with_a_whole_snapshot_before_the_upgrade_of_the_bot_still_reads(
        harness: Harness) -> None:
    """An outbox row from a version whose CheckStarted carried the whole plan: drawn from its row now."""
    plan = await harness.ready_plan()
    whole = harness.engine.status(plan_id=plan.id)
    assert isinstance(whole, PlanSnapshot)
    body = json.loads(json.dumps({"plan_id": plan.id, "snapshot": whole.model_dump(mode="json"),
                                  "kind": "pre", "actor": "U1"}))
    event = decode("CheckStarted", body)
    assert isinstance(event, CheckStarted) and type(event.snapshot) is PlanHeader
    assert event.snapshot.id == plan.id and event.snapshot.channel == whole.channel
