"""The leases this process holds (see ``workflow.store.leases``): taken before acting, renewed in the
background, and checked again right before every DMS call that changes something.

Why a lease row rather than PostgreSQL advisory locks: it works the same on SQLite and PostgreSQL (one
code path, tested everywhere), it says who holds what (``lease`` table, /healthz, the audit of a takeover),
and it expires on time. An advisory lock lives as long as its connection: it needs one dedicated connection
per plan held open for hours, disappears on a network blip while the old owner may still be calling the
DMS, and cannot be seen from SQLite. The price of a lease is a takeover delay of at most one lease length.

Holders in one process: the execution and, after a cancel, the cancel watch of the same plan take its lease
under one owner name, so the watch continues where the execution stopped. The row is released only when
the last of them lets go; released earlier, another replica could take it while this one still watches.

Fencing: the owner renews the lease right before each DMS call that changes something, and stops acting
when a renewal finds another owner, or when it could not renew for a whole lease length (the database
being unreachable), since from then on another replica may have taken over.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import Engine

from workflow.store import database, leases

log = logging.getLogger(__name__)

# (lease name, owner) -> how many ``HeldLease`` objects of this process hold it.
_holders: dict[tuple[str, str], int] = {}
_holders_lock = threading.Lock()  # acquire/release run on the database's worker threads


def held_here() -> list[str]:
    """The leases some ``HeldLease`` of this process holds now (what a clean stop hands back)."""
    with _holders_lock:
        return sorted({name for name, _owner in _holders})


class LeaseLost(Exception):
    """Another process holds the lease now (or it could not be renewed in time): stop acting."""


def replica_owner() -> str:
    """This process's name in the lease table: host, pid, and a nonce (a pid is reused after a restart)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class HeldLease:
    def __init__(self, db: Engine, *, name: str, owner: str, ttl_s: float) -> None:
        self.db = db
        self.name = name
        self.owner = owner
        self.ttl_s = ttl_s
        self._valid_until = 0.0  # time.monotonic() until which nobody else can have taken it
        self._counted = False  # counted among this process's holders of (name, owner)

    def acquire(self) -> tuple[bool, str | None]:
        """``(taken, previous owner whose expired lease was taken over)``."""
        started = time.monotonic()
        with database.session(self.db) as session:
            taken, previous = leases.acquire(session, name=self.name, owner=self.owner, ttl_s=self.ttl_s)
        if taken:
            self._valid_until = started + self.ttl_s
            with _holders_lock:
                if not self._counted:
                    self._counted = True
                    _holders[(self.name, self.owner)] = _holders.get((self.name, self.owner), 0) + 1
        return taken, previous

    def renew(self) -> bool:
        """True while held. A database error is not a loss while the last renewal is still valid."""
        started = time.monotonic()
        try:
            with database.session(self.db) as session:
                held = leases.renew(session, name=self.name, owner=self.owner, ttl_s=self.ttl_s)
        except Exception as exc:
            if time.monotonic() < self._valid_until:
                log.warning("renewing lease %s failed (%s); still valid", self.name, type(exc).__name__)
                return True
            log.error("lease %s could not be renewed within its length: giving it up", self.name)
            self._uncount()
            return False
        if held:
            self._valid_until = started + self.ttl_s
        else:
            self._uncount()  # another owner's now: nothing of this process holds it any more
        return held

    def _uncount(self) -> int:
        """Stop counting this object among the process's holders; how many still hold it."""
        with _holders_lock:
            key = (self.name, self.owner)
            if not self._counted:
                return _holders.get(key, 0)
            self._counted = False
            _holders[key] -= 1
            if _holders[key] == 0:
                del _holders[key]
            return _holders.get(key, 0)

    def check(self) -> None:
        """Right before a DMS call that changes something: renew, or raise ``LeaseLost``."""
        if not self.renew():
            raise LeaseLost(f"lease {self.name} is no longer held by {self.owner}")

    async def keep(self, task: asyncio.Task[None]) -> None:
        """Renew every third of the lease length while ``task`` runs; cancel it once the lease is lost."""
        while not task.done():
            await asyncio.sleep(self.ttl_s / 3)
            if not task.done() and not await database.off_loop(self.renew):
                log.warning("lease %s lost; stopping %s", self.name, task.get_name())
                task.cancel()
                return

    @asynccontextmanager
    async def held(self) -> AsyncIterator[tuple[bool, str | None]]:
        """``acquire`` (``(taken, previous owner)`` for the block), renew in the background while the block
        runs if taken (the block's task is cancelled if the lease is lost), then release. A lease taken while
        the task was being cancelled is released too: left counted, it would keep the row of this process's
        other holders from ever being released."""
        keeper: asyncio.Task[None] | None = None
        try:
            taken, previous = await database.off_loop(self.acquire)
            if taken:
                current = asyncio.current_task()
                assert current is not None
                keeper = asyncio.get_running_loop().create_task(self.keep(current), name=f"lease-{self.name}")
            yield taken, previous
        finally:
            if keeper is not None:
                keeper.cancel()
            if self._counted:
                await database.off_loop(self.release)

    def release(self) -> None:
        """Give the lease up, unless another holder of this process still holds it under the same owner."""
        if self._uncount() > 0:
            return
        try:
            with database.session(self.db) as session:
                leases.release(session, name=self.name, owner=self.owner)
        except Exception:
            # It expires by itself; another replica takes over after at most one lease length.
            log.exception("releasing lease %s failed", self.name)
