"""Shared helpers for the data-layer tests: a fresh migrated SQLite file per test, and plans."""

from __future__ import annotations

import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session

from dms.upgrade_path import Estimate, Hop, PackageKind, PhaseEstimate, UpgradePath
from dms.versions import Track, parse_version
from workflow.store.database import make_engine, migrate, session
from workflow.store.plans import create_plan
from workflow.store.states import PlanState
from workflow.store.tables import ActiveUpgrade, UpgradePlan

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


_TEMPLATE: list[Path] = []


def fresh_engine(tmp_path: Path) -> Engine:
    """A new SQLite file with the migrated schema. The migration runs once per test process into a
    template file (tests/bot/test_db.py runs it on empty databases); each test gets a copy."""
    if not _TEMPLATE:
        template = Path(tempfile.mkdtemp(prefix="dmu-schema-")) / "template.db"
        template_engine = make_engine(f"sqlite:///{template}")
        migrate(template_engine)
        template_engine.dispose()  # closing the last connection checkpoints the WAL into the file
        _TEMPLATE.append(template)
    shutil.copyfile(_TEMPLATE[0], tmp_path / "workflow.store.database")
    return make_engine(f"sqlite:///{tmp_path / 'workflow.store.database'}")


def sample_path(*, requirements: tuple[str, ...] = (".NET Framework 4.8",)) -> UpgradePath:
    return UpgradePath(
        current=parse_version("10.3.0 CU2"),
        target=parse_version("10.5.0 CU1"),
        track=Track.MAIN,
        hops=(
            Hop(
                version=parse_version("10.4.0"),
                package=PackageKind.FULL,
                name="DataMiner 10.4.0.dmupgrade",
                rule="A main release at a time",
                rule_url="https://docs.dataminer.services/upgrade",
                checks=("VerifyClusterPorts",),
                requirements=requirements,
            ),
            Hop(
                version=parse_version("10.5.0 CU1"),
                package=PackageKind.FULL,
                name="DataMiner 10.5.0 CU1.dmupgrade",
                rule="Full package across main releases",
                rule_url="https://docs.dataminer.services/upgrade",
            ),
        ),
    )


def sample_estimate() -> Estimate:
    return Estimate(
        phases=(
            PhaseEstimate(
                phase="Determine the upgrade version and time slot", low_minutes=30, high_minutes=30
            ),
            PhaseEstimate(phase="Execute the DataMiner upgrade", low_minutes=60, high_minutes=120,
                          factors=("2 hops",)),
        )
    )


def new_plan(
    engine: Engine,
    *,
    dms_name: str = "default",
    requester: str = "U_REQ",
    window: bool = False,
    dedupe_key: str | None = None,
) -> int:
    with session(engine) as s:
        plan = create_plan(
            s,
            dms_name=dms_name,
            path=sample_path(),
            estimate=sample_estimate(),
            requester=requester,
            channel="C1",
            window_start=NOW if window else None,
            window_end=NOW + timedelta(hours=4) if window else None,
            dedupe_key=dedupe_key,
        )
        assert plan.id is not None
        return plan.id


def force_state(engine: Engine, *, plan_id: int, state: PlanState) -> None:
    """Put a plan in a state directly (test setup only; the real way is workflow.store.states.transition)."""
    with session(engine) as s:
        plan = s.get(UpgradePlan, plan_id)
        assert plan is not None
        plan.state = state.value
        s.add(plan)
        if state.terminal:
            lock = s.get(ActiveUpgrade, plan.dms_name)
            if lock is not None:
                s.delete(lock)


def get(s: Session, plan_id: int) -> UpgradePlan:
    plan = s.get(UpgradePlan, plan_id)
    assert plan is not None
    return plan
