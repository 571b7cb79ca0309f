"""The shared replay memory: one winner per request, expiry with Slack's window (plus a margin), pruning
in bounded batches, and forgetting a request that failed on our side. On SQLite and, when a server is
given, PostgreSQL (the same upsert, another dialect)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from tests.support.postgres import SERVER, throwaway_database
from tests.support.store_helpers import NOW, fresh_engine
from workflow.store import seen_requests
from workflow.store.database import make_engine, migrate, session
from workflow.store.tables import SeenRequest

STAMP = int(NOW.timestamp())
LIFE = timedelta(seconds=seen_requests.WINDOW_S + seen_requests.MARGIN_S)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = fresh_engine(tmp_path)
        yield engine
        engine.dispose()
        return
    if not SERVER:
        pytest.skip("DMU_TEST_POSTGRES_URL is not set")
    with throwaway_database("dmu_seen") as url:
        engine = make_engine(url)
        try:
            migrate(engine)
            yield engine
        finally:
            engine.dispose()


def claim(db: Engine, key: str, *, at: timedelta = timedelta(0), stamp: int = STAMP) -> bool:
    with session(db) as s:
        return seen_requests.claim(s, key=key, timestamp=stamp, now=NOW + at)


def count(db: Engine) -> int:
    with session(db) as s:
        return seen_requests.count(s)


def test_a_request_is_claimed_once_within_its_window(db: Engine) -> None:
    assert claim(db, "1:v0=a")
    assert not claim(db, "1:v0=a", at=timedelta(seconds=13))
    assert not claim(db, "1:v0=a", at=LIFE - timedelta(seconds=1))
    assert claim(db, "1:v0=b", at=timedelta(seconds=60))  # another signature is another request
    assert claim(db, "1:v0=a", at=LIFE)  # its window is over: no longer a replay
    assert count(db) == 2


def test_an_expired_row_not_pruned_yet_is_taken_over(db: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(seen_requests, "prune", lambda session, now: 0)  # another replica prunes later
    assert claim(db, "k")
    later = LIFE + timedelta(seconds=10)
    assert claim(db, "k", at=later, stamp=STAMP + int(later.total_seconds()))  # a new window, a new claim
    assert not claim(db, "k", at=later + timedelta(seconds=1), stamp=STAMP + int(later.total_seconds()))
    assert count(db) == 1


def test_a_request_signed_ahead_of_our_clock_lives_from_its_timestamp(db: Engine) -> None:
    assert claim(db, "k", stamp=STAMP + 200)
    assert not claim(db, "k", at=LIFE + timedelta(seconds=100), stamp=STAMP + 200)


def test_a_forgotten_request_can_be_served_again(db: Engine) -> None:
    assert claim(db, "k")
    with session(db) as s:
        seen_requests.forget(s, key="k")
    assert claim(db, "k")


def test_the_signature_itself_is_not_stored(db: Engine) -> None:
    claim(db, "1800000000:v0=secret-signature")
    with session(db) as s:
        digests = list(s.exec(select(SeenRequest.digest)))
    assert digests == [seen_requests.digest("1800000000:v0=secret-signature")]
    assert "secret" not in digests[0]


def test_expired_rows_are_pruned_in_bounded_batches(db: Engine) -> None:
    with session(db) as s:
        for n in range(seen_requests.PRUNE_BATCH + 30):
            seen_requests.claim(s, key=f"old-{n}", timestamp=STAMP, now=NOW)
    assert count(db) == seen_requests.PRUNE_BATCH + 30
    later = LIFE + timedelta(seconds=1)
    assert claim(db, "new", at=later)  # one claim deletes one batch, never the whole backlog
    assert count(db) == 30 + 1
    assert claim(db, "newer", at=later)
    assert count(db) == 2
