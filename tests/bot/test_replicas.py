"""Two replicas on one PostgreSQL database: two ``dm-upgrade run`` processes (HTTP mode, the fake Slack, one
simulated DMS). The one executing the upgrade is killed mid-hop; the other takes the execution over once its
lease expired; the plan ends done with each package uploaded and triggered exactly once, one plan message,
and the audit intact. Runs when DMU_TEST_POSTGRES_URL is set (``.ci/run`` sets it); skipped otherwise."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.console.fake_slack import FakeSlack
from dms.catalog import load_catalog
from handlers.ids import ActionId
from simulator import SimulatedDms
from tests.support import slack_requests as sr
from tests.support.approvers import StaticApprovers
from tests.support.clock import FakeClock
from tests.support.notifier import RecordingNotifier
from tests.support.polling import wait_until
from tests.support.postgres import SERVER, throwaway_database
from tests.workflow.conftest import APPROVER, Harness, engine_settings, sim_config
from tests.workflow.test_recovery import _assert_audit_intact
from workflow.dms_access import DmsAccess
from workflow.engine import UpgradeEngine
from workflow.model.clock import utc_now
from workflow.store import leases
from workflow.store.database import make_engine, migrate
from workflow.store.states import PlanState
from workflow.store.tables import AuditEvent, PlanHop, UpgradePlan

pytestmark = pytest.mark.skipif(not SERVER, reason="DMU_TEST_POSTGRES_URL is not set")

ROOT = Path(__file__).resolve().parents[2]
SECRET = "replica-signing-secret-0123456789"
CHANNEL = "C0REPLICAS"  # where the click comes from: an id as Slack makes them (the request guard checks)
PLAN_CHANNEL = "C1"  # where the harness's plan posts
SPEED = 300.0  # slow enough to kill a replica in the middle of a hop
LEASE_SECONDS = 3.0


@pytest.fixture
def pg_url() -> Iterator[str]:
    with throwaway_database("dmu_replicas") as url:
        yield url


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedDms]:
    simulator = SimulatedDms(sim_config(speed=SPEED))
    await simulator.start()
    yield simulator
    await simulator.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _settings_env(*, db_url: str, dms_url: str, slack_url: str) -> dict[str, str]:
    # The same settings as engine_settings(), as the environment of `dm-upgrade run`.
    return {
        "DATABASE_URL": db_url, "DMS_URL": dms_url, "SLACK_API_URL": slack_url,
        "SLACK_BOT_TOKEN": "xoxb-replica-test", "SLACK_SIGNING_SECRET": SECRET,
        "DMS_TIME_SCALE": str(SPEED), "DMS_POLL_SECONDS": str(0.03 * SPEED), "DMS_TIMEOUT_SECONDS": "5",
        "DMS_RETRIES": "1", "AGENT_STARTUP_MINUTES": "2", "UPGRADE_APPROVERS": "UAPP1,UAPP2",
        "BLOCKING_ALARM_SEVERITIES": "Critical", "LEASE_SECONDS": str(LEASE_SECONDS), "LOG_LEVEL": "INFO",
    }


def _spawn(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DMS_", "DATABASE_"))}
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT, env={**clean, **env, "PYTHONUNBUFFERED": "1"}, stdout=out, stderr=subprocess.STDOUT,
        )


async def _awaiting_approval(db: Engine, *, db_url: str, dms_url: str) -> int:
    """A plan pre-checked and awaiting approval, its window open now (by the replicas' real clock)."""
    clock = FakeClock(utc_now() - timedelta(hours=30, minutes=1))
    settings = engine_settings(dms_url=dms_url, database_url=db_url, dms_time_scale=SPEED,
                               dms_poll_seconds=0.03 * SPEED)
    engine = UpgradeEngine(
        settings=settings, db=db, catalog=load_catalog(), notifier=RecordingNotifier(),
        approvers=StaticApprovers(settings.upgrade_approvers), dms_access=DmsAccess(settings=settings),
        clock=clock,
    )
    harness = Harness(engine=engine, notifier=RecordingNotifier(), clock=clock, sim=None,  # type: ignore[arg-type]
                      settings=settings)
    try:
        return (await harness.ready_plan(target="10.4")).id
    finally:
        engine.scheduler.stop()


def _hop_in_progress(db: Engine, plan_id: int) -> bool:
    with Session(db) as session:
        hops = session.exec(select(PlanHop).where(PlanHop.plan_id == plan_id)).all()
    return any(h.upgrade_done_at is not None and h.wait_done_at is None for h in hops)


def _state(db: Engine, plan_id: int) -> str:
    with Session(db) as session:
        plan = session.get(UpgradePlan, plan_id)
        assert plan is not None
        return plan.state


def _lease_pid(db: Engine, plan_id: int) -> int | None:
    with Session(db) as session:
        row = leases.holder(session, name=leases.plan_lease(plan_id))
    return None if row is None else int(row.owner.split(":")[1])


def _said(slack: FakeSlack, text: str) -> int:
    return sum(1 for (channel, _), m in slack.messages.items() if channel == PLAN_CHANNEL and text in m.text)


def hops_of(db: Engine, plan_id: int) -> int:
    with Session(db) as session:
        return len(session.exec(select(PlanHop).where(PlanHop.plan_id == plan_id)).all())


async def test_the_executing_replica_dies_and_the_other_finishes_exactly_once(
    pg_url: str, slack: FakeSlack, sim: SimulatedDms, tmp_path: Path
) -> None:
    db = make_engine(pg_url)
    migrate(db)
    plan_id = await _awaiting_approval(db, db_url=pg_url, dms_url=sim.url)
    uploads_before = dict(sim.state()["uploads"])
    # One agent's startup hangs until the kill, so the replica dies in the middle of a hop however slow the
    # machine: a hop of about a second could end, and with it the plan, between the test's look and its kill
    # (once with both cores busy).
    sim.inject("agent_stuck_starting", agent=2)
    assert slack.base_url is not None
    env = _settings_env(db_url=pg_url, dms_url=sim.url, slack_url=slack.base_url)
    ports = [_free_port(), _free_port()]
    replicas = [_spawn(env, port, tmp_path / f"replica{n}.log") for n, port in enumerate(ports)]
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            async def healthy(port: int) -> bool:
                try:
                    return (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200
                except httpx.HTTPError:
                    return False

            for n, port in enumerate(ports):
                try:
                    await wait_until(lambda p=port: healthy(p), timeout_s=60, what=f"replica on {port}")
                except AssertionError as exc:  # say what the replica did, not only that it did not answer
                    log = (tmp_path / f"replica{n}.log").read_text(errors="replace")[-2000:]
                    raise AssertionError(f"{exc}; exit code {replicas[n].poll()}; its log:\n{log}") from None
            body, headers = sr.block_actions(
                signing_secret=SECRET, action_id=ActionId.APPROVE.value, block_id="b", value=str(plan_id),
                message_ts="1700000000.000100", user_id=APPROVER, channel_id=CHANNEL)
            events = f"http://127.0.0.1:{ports[0]}/slack/events"
            answer = await http.post(events, content=body, headers=headers)
            assert answer.status_code == 200
        await wait_until(lambda: _hop_in_progress(db, plan_id), timeout_s=60, what="a hop in progress")
        victim = _lease_pid(db, plan_id)
        pids = [r.pid for r in replicas]
        assert victim in pids, (victim, pids)
        killed_at = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        sim.clear("agent_stuck_starting")  # the agent comes up while nobody watches; the survivor sees it
        survivor = replicas[1 - pids.index(victim)]

        await wait_until(lambda: _lease_pid(db, plan_id) == survivor.pid, timeout_s=30, what="the takeover")
        assert time.monotonic() - killed_at >= LEASE_SECONDS * 0.5  # not before the lease ran out
        await wait_until(lambda: _state(db, plan_id) == PlanState.DONE.value, timeout_s=90,
                         what="the plan done")
        state = sim.state()
        assert state["upgrades_triggered"] == {"10.3.0 CU22": 1, "10.4.0 CU21": 1}
        uploads = {k: v - uploads_before.get(k, 0) for k, v in state["uploads"].items()}
        assert set(uploads.values()) == {1}, uploads
        assert len([m for m in slack.channel_messages(PLAN_CHANNEL) if m.thread_ts is None]) == 1
        # What the dead replica had still to say went out from the outbox; the outcome is told once.
        await wait_until(lambda: _said(slack, "Upgrade done") == 1, timeout_s=30, what="the final result")
        assert _said(slack, "Hop 1/") >= 1 and _said(slack, f"Hop {hops_of(db, plan_id)}/") >= 1
        with Session(db) as session:
            hops = len(session.exec(select(PlanHop).where(PlanHop.plan_id == plan_id)).all())
            takeovers = session.exec(select(AuditEvent).where(AuditEvent.action == "lease.takeover")
                                     .order_by(col(AuditEvent.id))).all()
        _assert_audit_intact(db, plan_id, hops=hops)
        assert len(takeovers) == 1 and takeovers[0].detail["previous"].split(":")[1] == str(victim)
    finally:
        for replica in replicas:
            if replica.poll() is None:
                replica.send_signal(signal.SIGTERM)
        for replica in replicas:
            try:
                replica.wait(timeout=20)
            except subprocess.TimeoutExpired:
                replica.kill()
                replica.wait(timeout=10)
        db.dispose()

