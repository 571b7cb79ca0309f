"""Campaigns in the database (``workflow.store.campaigns``): stored from a dry plan, moved with an audit
row in the same transaction, an illegal or stale move refused with nothing changed, one active campaign per
DMS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from dms.catalog import load_catalog
from dms.planner import plan_path
from dms.versions import parse_spec, parse_version
from tests.support.store_helpers import fresh_engine
from tests.workflow.conftest import engine_settings
from workflow.campaigns import estimate_for
from workflow.model.campaign import CampaignDms as PlannedDms
from workflow.model.campaign import CampaignPlan, Wave
from workflow.model.campaign_states import CampaignState, CampaignStatus, IllegalCampaignMove, MemberState
from workflow.model.errors import NotFound, RuleViolation
from workflow.settings import SIMULATED
from workflow.store import campaigns
from workflow.store.database import session

NOW = datetime(2030, 5, 4, 10, 0, tzinfo=UTC)


def dry_plan(waves: list[dict[str, str]], *, soak_minutes: int = 60) -> CampaignPlan:
    settings = engine_settings(dms_url=SIMULATED, database_url="sqlite://")
    catalog = load_catalog()
    built = []
    start = NOW
    for number, wave in enumerate(waves, start=1):
        members = []
        for name, version in wave.items():
            path = plan_path(current=parse_version(version), target=parse_spec("10.5"), catalog=catalog,
                             today=NOW.date())
            estimate = estimate_for(path, agents=2, settings=settings)
            members.append(PlannedDms(name=name, agents=2, path=path, estimate=estimate, window_start=start,
                                      window_end=start + timedelta(hours=2)))
        built.append(Wave(number=number, dms=tuple(members)))
        start += timedelta(hours=2, minutes=soak_minutes)
    return CampaignPlan(target=built[0].dms[0].path.target, waves=tuple(built), soak_minutes=soak_minutes,
                        soak_given=True, planned_at=NOW)


@pytest.fixture
def db(tmp_path: Path) -> Engine:
    return fresh_engine(tmp_path)


def stored(db: Engine, plan: CampaignPlan | None = None) -> int:
    plan = plan or dry_plan([{"staging": "10.4.0 CU3"}, {"prod-eu": "10.3.0 CU5", "prod-us": "10.2.0 CU5"}])
    with session(db) as s:
        row = campaigns.create(s, plan=plan, requester="UREQ", channel="C1", now=NOW)
        assert row.id is not None
        return row.id


def test_a_campaign_is_stored_proposed_with_every_dms_in_its_wave(db: Engine) -> None:
    campaign_id = stored(db)
    with session(db) as s:
        view = campaigns.load_view(s, campaign_id=campaign_id)
        rows = campaigns.audit_rows(s, campaign_id=campaign_id)
    assert view.status == CampaignStatus(CampaignState.PROPOSED) and view.waves == 2
    assert view.target == "10.5.0 CU18" and view.soak_minutes == 60 and view.requester == "UREQ"
    assert [(m.name, m.wave, m.state, m.current_version) for m in view.members] == [
        ("staging", 1, MemberState.WAITING, "10.4.0 CU3"),
        ("prod-eu", 2, MemberState.WAITING, "10.3.0 CU5"),
        ("prod-us", 2, MemberState.WAITING, "10.2.0 CU5"),
    ]
    assert view.member("prod-us").window_start == NOW + timedelta(hours=3)
    assert [(r.actor, r.action, r.to_state) for r in rows] == [("UREQ", "campaign.created", "proposed")]
    assert rows[0].detail["waves"] == [["staging"], ["prod-eu", "prod-us"]]


def test_a_dms_belongs_to_one_active_campaign(db: Engine) -> None:
    first = stored(db)
    with pytest.raises(RuleViolation, match=rf"prod-eu \(campaign #{first}\)"), session(db) as s:
        campaigns.create(s, plan=dry_plan([{"prod-eu": "10.3.0 CU5"}]), requester="U2", channel="C1", now=NOW)
    with session(db) as s:
        campaigns.move(s, campaign_id=first, to=CampaignStatus(CampaignState.ABORTED), actor="U1",
                       reason="wrong target", now=NOW)
    assert stored(db, dry_plan([{"prod-eu": "10.3.0 CU5"}])) == first + 1  # an aborted one holds nothing


def test_moves_are_audited_and_a_refused_move_changes_nothing(db: Engine) -> None:
    campaign_id = stored(db)
    with session(db) as s:
        campaigns.move(s, campaign_id=campaign_id, to=CampaignStatus(CampaignState.APPROVED), actor="UAPP",
                       reason="ok", now=NOW)
        campaigns.move(s, campaign_id=campaign_id, to=CampaignStatus(CampaignState.WAVE_RUNNING, 1),
                       actor="bot", reason="approved", now=NOW)
        campaigns.move(s, campaign_id=campaign_id, to=CampaignStatus(CampaignState.HALTED, 1),
                       actor="UOPS", reason="look first", now=NOW)
    refused = "from halted in wave 1 to soaking wave 1: it resumes where"
    with pytest.raises(IllegalCampaignMove, match=refused), session(db) as s:
        campaigns.move(s, campaign_id=campaign_id, to=CampaignStatus(CampaignState.SOAKING, 1),
                       actor="UAPP", reason="x", now=NOW)
    with session(db) as s:
        view = campaigns.load_view(s, campaign_id=campaign_id)
        rows = campaigns.audit_rows(s, campaign_id=campaign_id)
    assert view.status == CampaignStatus(CampaignState.HALTED, 1)
    assert view.halted_from is CampaignState.WAVE_RUNNING
    assert [(r.actor, r.from_state, r.to_state, r.reason) for r in rows[1:]] == [
        ("UAPP", "proposed", "approved", "ok"),
        ("bot", "approved", "wave 1 running", "approved"),
        ("UOPS", "wave 1 running", "halted in wave 1", "look first"),
    ]


def test_a_move_from_a_status_that_is_gone_is_refused(db: Engine) -> None:
    """The poll decided on what it read; a person's halt in between wins."""
    campaign_id = stored(db)
    with session(db) as s:
        campaigns.move(s, campaign_id=campaign_id, to=CampaignStatus(CampaignState.APPROVED), actor="UAPP",
                       reason="ok", now=NOW)
    with pytest.raises(IllegalCampaignMove, match="expected it to be proposed"), session(db) as s:
        campaigns.move(s, campaign_id=campaign_id, to=CampaignStatus(CampaignState.APPROVED), actor="bot",
                       reason="x", now=NOW, expected=CampaignStatus(CampaignState.PROPOSED))


def test_unknown_campaigns_and_dmss(db: Engine) -> None:
    campaign_id = stored(db)
    with session(db) as s:
        for missing in (campaign_id + 1, 0, 2**70):
            with pytest.raises(NotFound, match=f"no campaign #{missing}"):
                campaigns.get(s, campaign_id=missing)
        with pytest.raises(NotFound, match="no DMS named 'lab'"):
            campaigns.member(s, campaign_id=campaign_id, dms_name="lab")
        assert campaigns.active_ids(s) == [campaign_id]
