"""A step's attempt: created once per plan, hop and step (the hop's step marked started with it), its
outcome recorded once, and the step marked done in the same transaction when the caller says so."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.support.store_helpers import NOW, fresh_engine, new_plan
from workflow.store import plans, step_attempts
from workflow.store.database import session


@pytest.fixture
def db(tmp_path: Path) -> Engine:
    return fresh_engine(tmp_path)


def test_an_attempt_is_begun_once_and_keeps_its_first_outcome(db: Engine) -> None:
    plan_id = new_plan(db)
    with session(db) as s:
        hop = plans.hops(s, plan_id=plan_id)[0]
        assert hop.id is not None
        hop_id = hop.id
        row, fresh = step_attempts.begin(s, plan_id=plan_id, hop_id=hop_id, hop_index=0, step="upgrade",
                                         key="job-1", now=NOW)
        assert fresh and row.state == step_attempts.INTENT
        assert s.get(type(hop), hop_id).upgrade_started_at is not None  # type: ignore[union-attr]
    with session(db) as s:
        again, fresh = step_attempts.begin(s, plan_id=plan_id, hop_id=hop_id, hop_index=0, step="upgrade",
                                           key="job-2", now=NOW)
        assert not fresh and again.key == "job-1"  # the key to ask the DMS about is the first one
        step_attempts.finish(s, plan_id=plan_id, hop_id=hop_id, hop_index=0, step="upgrade",
                             outcome={"started": True}, step_done=True, now=NOW)
        step_attempts.finish(s, plan_id=plan_id, hop_id=hop_id, hop_index=0, step="upgrade",
                             outcome={"started": False}, step_done=True, now=NOW)
    with session(db) as s:
        found = step_attempts.find(s, plan_id=plan_id, hop_index=0, step="upgrade")
        assert found is not None and found.state == step_attempts.DONE and found.outcome == {"started": True}
        assert plans.hops(s, plan_id=plan_id)[0].upgrade_done_at is not None
        assert step_attempts.find(s, plan_id=plan_id, hop_index=0, step="upload") is None


def test_finishing_an_attempt_never_begun_is_a_bug(db: Engine) -> None:
    plan_id = new_plan(db)
    with session(db) as s, pytest.raises(LookupError):
        step_attempts.finish(s, plan_id=plan_id, hop_id=1, hop_index=0, step="upload", outcome={},
                             step_done=False, now=NOW)
