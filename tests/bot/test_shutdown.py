"""Graceful shutdown between two ``dm-upgrade run`` processes sharing one database (HTTP mode, the fake Slack,
one simulated DMS): SIGTERM to the one running the scheduled jobs makes it say what it does, hand its leases
back and exit in bounded time, and the other takes the scheduler over at its next pass, long before the
lease would have expired. SQLite always; PostgreSQL too when DMU_TEST_POSTGRES_URL is set."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from bot.console.fake_slack import FakeSlack
from simulator import SimulatedDms
from tests.handlers.conftest import sim_config
from tests.support.polling import wait_until
from tests.support.postgres import SERVER, throwaway_database
from workflow.store import leases
from workflow.store.database import make_engine, migrate

ROOT = Path(__file__).resolve().parents[2]
SECRET = "shutdown-signing-secret-0123456789"
# Long enough that a takeover by expiry (at least two thirds of it after the last renewal) cannot pass the
# assertion below, short enough that the survivor's pass (every third of it) comes within a few seconds.
LEASE_SECONDS = 15.0
EXIT_WITHIN_S = 20.0


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shared.db'}"
        return
    if not SERVER:
        pytest.skip("DMU_TEST_POSTGRES_URL is not set")
    with throwaway_database("dmu_shutdown") as url:
        yield url


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedDms]:
    simulator = SimulatedDms(sim_config())
    await simulator.start()
    yield simulator
    await simulator.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _spawn(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DMS_", "DATABASE_", "OPS_"))}
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT, env={**clean, **env, "PYTHONUNBUFFERED": "1"}, stdout=out, stderr=subprocess.STDOUT,
        )


def _scheduler_pid(db: Engine) -> int | None:
    with Session(db) as session:
        row = leases.holder(session, name=leases.SCHEDULER)
    return None if row is None else int(row.owner.split(":")[1])


async def _healthy(port: int, log: Path, process: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient(timeout=5) as http:
        async def answers() -> bool:
            try:
                return (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200
            except httpx.HTTPError:
                return False

        try:
            await wait_until(answers, timeout_s=60, what=f"the process on {port}")
        except AssertionError as exc:
            tail = log.read_text(errors="replace")[-2000:]
            raise AssertionError(f"{exc}; exit code {process.poll()}; its log:\n{tail}") from None


async def test_sigterm_hands_the_scheduler_to_the_other_process_at_once(
    db_url: str, slack: FakeSlack, sim: SimulatedDms, tmp_path: Path
) -> None:
    db = make_engine(db_url)
    migrate(db)  # once, before both start
    assert slack.base_url is not None
    env = {"DATABASE_URL": db_url, "DMS_URL": sim.url, "SLACK_API_URL": slack.base_url,
           "SLACK_BOT_TOKEN": "xoxb-shutdown-test", "SLACK_SIGNING_SECRET": SECRET,
           "LEASE_SECONDS": str(LEASE_SECONDS), "LOG_LEVEL": "INFO"}
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    ports = [_free_port(), _free_port()]
    first = _spawn(env, ports[0], logs[0])
    processes = [first]
    try:
        await _healthy(ports[0], logs[0], first)
        await wait_until(lambda: _scheduler_pid(db) == first.pid, timeout_s=30, what="the first leading")
        second = _spawn(env, ports[1], logs[1])
        processes.append(second)
        await _healthy(ports[1], logs[1], second)
        assert _scheduler_pid(db) == first.pid

        signalled = time.monotonic()
        first.send_signal(signal.SIGTERM)
        await wait_until(lambda: first.poll() is not None, timeout_s=EXIT_WITHIN_S, what="the first exiting")
        said = logs[0].read_text(errors="replace")
        assert first.returncode == 0, said[-2000:]
        # Handed back before it exited, not left to expire.
        assert _scheduler_pid(db) != first.pid, said[-2000:]
        await wait_until(lambda: _scheduler_pid(db) == second.pid, timeout_s=LEASE_SECONDS,
                         what="the second taking the scheduler over")
        assert time.monotonic() - signalled < LEASE_SECONDS * 0.6
        assert "SIGTERM" in said and "stopping" in said, said[-2000:]
        assert "handed back" in said and "scheduler" in said, said[-2000:]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        db.dispose()
