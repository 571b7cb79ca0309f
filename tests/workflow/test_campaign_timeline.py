"""A campaign's timeline, read back from the audit of a whole campaign run against three simulated DMSs:
every DMS's window and upgrade, each wave's soak (the one a halt cut short apart), and the approval, the
halt, the resume and the end, each at the time it happened."""

from __future__ import annotations

from sqlalchemy import Engine

from tests.workflow import campaign_bench
from tests.workflow.campaign_bench import Bench, approved
from tests.workflow.conftest import APPROVER, APPROVER_2
from workflow.campaign_timeline import load_campaign_timeline, status_of
from workflow.model.campaign_states import CampaignState, CampaignStatus
from workflow.store.database import session

fleet, make_bench, bench = campaign_bench.fleet, campaign_bench.make_bench, campaign_bench.bench  # fixtures


def test_state_labels_read_back_to_their_status() -> None:
    assert status_of("soaking wave 2") == CampaignStatus(CampaignState.SOAKING, 2)
    assert status_of("wave 1 running") == CampaignStatus(CampaignState.WAVE_RUNNING, 1)
    assert status_of("halted in wave 3") == CampaignStatus(CampaignState.HALTED, 3)
    assert status_of("approved") == CampaignStatus(CampaignState.APPROVED)
    assert status_of("something else") is None and status_of(None) is None


async def test_a_whole_campaign_reads_back_as_it_ran(bench: Bench, db: Engine) -> None:
    campaign_id = await approved(bench)
    await bench.run_wave(campaign_id)
    await bench.soak_through(campaign_id)
    await bench.run_wave(campaign_id)
    bench.fleet.sims["prod-us"].inject("critical_alarms", agent=1, count=2)
    bench.clock.advance(minutes=61)
    await bench.campaigns.tick()  # halts
    await bench.campaigns.resume(campaign_id=campaign_id, actor=APPROVER_2, reason="known alarm, OPS-12")
    await bench.soak_through(campaign_id)
    with session(db) as s:
        timeline = load_campaign_timeline(s, campaign_id=campaign_id, now=bench.clock.now)
    assert timeline.state == "done"
    lanes = {lane.name: lane for lane in timeline.lanes}
    waves = [(lane.name, lane.wave) for lane in timeline.lanes]
    assert waves == [("staging", 1), ("prod-eu", 2), ("prod-us", 2)]
    assert all(lane.outcome == "done" and lane.upgrade is not None and lane.window is not None
               for lane in lanes.values())
    staging, prod_us = lanes["staging"].upgrade, lanes["prod-us"].upgrade
    assert staging is not None and prod_us is not None and staging[1] <= prod_us[0]  # waves in order
    soaks = [(soak.wave, soak.finished) for soak in timeline.soaks]
    assert soaks == [(1, True), (2, False), (2, True)]  # the halt cut the first soak of wave 2 short
    assert all(soak.start < soak.end for soak in timeline.soaks)
    kinds = [(marker.kind, marker.label) for marker in timeline.markers]
    assert kinds == [("approval", f"approved by {APPROVER}"), ("halt", "halted in wave 2"),
                     ("resume", f"resumed by {APPROVER_2}"), ("done", "done")]
    assert [m.at for m in timeline.markers] == sorted(m.at for m in timeline.markers)
