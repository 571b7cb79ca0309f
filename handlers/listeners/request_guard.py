"""The door of HTTP mode: every request to ``/slack/events`` is looked at here before Bolt sees it.

- **Malformed** (a timestamp that is not a number, a body that is not UTF-8, a ``payload`` that is not a JSON
  object, a JSON body that is not an object): ``400``, one log line, no traceback. Bolt would answer 500
  and log the traceback (it parses the body before it checks anything).
- **Not signed by Slack** (no or a wrong signature, a timestamp more than 5 minutes away): ``401`` and one
  log line without the body (Bolt logs the whole body at INFO; ``quiet_bolt_signature_log`` silences that).
- **Replayed**: the same signature and timestamp seen within the 5-minute window is acknowledged (``200``,
  empty) and ignored. Slack's own retries (``X-Slack-Retry-Num``) are re-sent requests with a timestamp and
  signature of their own, so they pass here and meet the listeners' dedupe (the slash command's
  ``trigger_id``). A request whose handling failed (5xx) is forgotten, so a retry is never the dropped copy.

The seen signatures live in this process (``SeenSignatures``, expiring with the window) and, given a
``shared`` memory (``workflow.replays.ReplayMemory``: a table every replica uses, kept across restarts),
in the database too: ``admit`` is ``check`` and then a claim there, off the loop and batched with the
claims of the requests arriving with it (one transaction for a burst), so a request
replayed after a restart or to another replica is ignored as well. The process's memory stays in front:
a replay to the same process never reaches the database, and it still holds while the database is busy.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import parse_qsl

from slack_sdk.signature import Clock, SignatureVerifier

log = logging.getLogger(__name__)

WINDOW_S = 300  # Slack's rule (SignatureVerifier's too): refuse a timestamp more than five minutes away
MAX_SEEN = 200_000  # ~ 650 signed requests a second for five minutes; beyond, the oldest are forgotten
_BOLT_VERIFIERS = ("slack_bolt.AsyncRequestVerification", "slack_bolt.RequestVerification")


class SharedMemory(Protocol):
    """The replay memory every replica shares (``workflow.replays.ReplayMemory``)."""

    async def claim(self, key: str, *, timestamp: int, now: float) -> bool: ...

    async def forget(self, key: str) -> None: ...


class SeenSignatures:
    """Signatures of accepted requests, each kept until its timestamp leaves the window."""

    def __init__(self, *, clock: Callable[[], float] = time.time, max_entries: int = MAX_SEEN) -> None:
        self._clock = clock
        self._max = max_entries
        self._expires: dict[str, float] = {}
        self._order: deque[tuple[float, str]] = deque()

    def __len__(self) -> int:
        return len(self._expires)

    def claim(self, key: str, *, timestamp: int) -> bool:
        """True the first time ``key`` is seen within the window; False for a replay."""
        now = self._clock()
        self._expire(now)
        if key in self._expires:
            return False
        expires = max(now, timestamp) + WINDOW_S + 1
        self._expires[key] = expires
        self._order.append((expires, key))
        while len(self._expires) > self._max:
            _, oldest = self._order.popleft()
            self._expires.pop(oldest, None)
        return True

    def forget(self, key: str) -> None:
        self._expires.pop(key, None)

    def _expire(self, now: float) -> None:
        while self._order and (self._order[0][0] <= now or self._order[0][1] not in self._expires):
            expires, key = self._order.popleft()
            if self._expires.get(key) == expires:
                del self._expires[key]


@dataclass(frozen=True)
class Verdict:
    """``status`` None: hand ``text`` to Bolt (and ``release(key)`` if its answer is 5xx); else answer it."""

    status: int | None
    text: str = ""
    key: str = ""
    body: str = ""
    timestamp: int = 0


class _Clock(Clock):
    """slack_sdk's clock reading the guard's, so the window and the replay memory share one time."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now()


class RequestGuard:
    def __init__(self, *, signing_secret: str, clock: Callable[[], float] = time.time,
                 seen: SeenSignatures | None = None, shared: SharedMemory | None = None) -> None:
        self._verifier = SignatureVerifier(signing_secret, clock=_Clock(clock))
        self._clock = clock
        self.seen = seen or SeenSignatures(clock=clock)
        self.shared = shared

    async def admit(self, raw: bytes, headers: Mapping[str, str]) -> Verdict:
        """``check``, then the replay memory every replica shares: a request first seen elsewhere (another
        replica, or this one before a restart) is acknowledged and ignored like any replay."""
        verdict = self.check(raw, headers)
        if verdict.status is not None or self.shared is None:
            return verdict
        if await self.shared.claim(verdict.key, timestamp=verdict.timestamp, now=self._clock()):
            return verdict
        _replayed(verdict.timestamp, raw, where="seen by another replica or before a restart")
        return Verdict(status=200)

    async def unclaim(self, key: str) -> None:
        """``release`` in this process and in the shared memory."""
        self.release(key)
        if self.shared is not None:
            await self.shared.forget(key)

    def check(self, raw: bytes, headers: Mapping[str, str]) -> Verdict:
        stamp = headers.get("X-Slack-Request-Timestamp")
        signature = headers.get("X-Slack-Signature")
        if not stamp or not signature:
            return _refuse(401, "unsigned request", raw)
        if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
            return _refuse(400, "X-Slack-Request-Timestamp is not a number", raw)
        timestamp = int(stamp)
        try:
            # The verifier signs the body as text: one not UTF-8 cannot be checked (and Slack never sends it).
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return _refuse(400, "body is not UTF-8", raw)
        # compare_digest raises on a non-ASCII str: such a signature is simply not Slack's.
        if not (signature.isascii() and self._verifier.is_valid(text, stamp, signature)):
            stale = abs(self._clock() - timestamp) > WINDOW_S
            return _refuse(401, f"stale timestamp {timestamp}" if stale else "invalid signature", raw)
        problem = _shape_problem(text, headers.get("Content-Type"))
        if problem is not None:
            return _refuse(400, problem, raw)
        key = f"{timestamp}:{signature}"
        if not self.seen.claim(key, timestamp=timestamp):
            _replayed(timestamp, raw, where="seen by this process")
            return Verdict(status=200)
        return Verdict(status=None, text=text, key=key, timestamp=timestamp)

    def release(self, key: str) -> None:
        """The request failed on our side (5xx): a retry of it must be served, not ignored as a replay."""
        self.seen.forget(key)


def _replayed(timestamp: int, raw: bytes, *, where: str) -> None:
    log.info("ignored a replayed Slack request (timestamp %s, %d bytes, %s)", timestamp, len(raw), where)


def _refuse(status: int, why: str, raw: bytes) -> Verdict:
    # One line, never the body: it can carry user text, and Slack signs it for us alone.
    log.warning("refused a request to the Slack endpoint: %s (%d bytes)", why, len(raw))
    return Verdict(status=status, body="" if status == 401 else f"bad request: {why}")


def _shape_problem(text: str, content_type: str | None) -> str | None:
    """What Bolt would trip over when it parses the body (``slack_bolt.request.internals.parse_body``)."""
    if not text:
        return None
    if (content_type or "").split(";")[0].strip() == "application/json" or text.startswith("{"):
        return _json_object_problem(text, "the JSON body")
    if "payload" in text:
        payload = dict(parse_qsl(text, keep_blank_values=True)).get("payload")
        if payload is not None:
            return _json_object_problem(payload, "payload")
    return None


# What Bolt's extractors (team, user, channel, action, view) take for granted in an interaction payload.
_OBJECTS = ("user", "team", "channel", "container", "enterprise", "view", "message", "event",
            "authorizations")
_NAMED = frozenset({"user", "team", "channel"})  # an id alone is fine too


def _json_object_problem(text: str, what: str) -> str | None:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return f"{what} is not JSON"
    if not isinstance(value, dict):
        return f"{what} is not a JSON object"
    for key in _OBJECTS:
        part = value.get(key)
        if key == "authorizations":
            if part is not None and not (isinstance(part, list) and all(isinstance(a, dict) for a in part)):
                return f"{what}: authorizations is not a list of objects"
        elif part is not None and not isinstance(part, dict | str if key in _NAMED else dict):
            return f"{what}: {key} is not an object"
    actions = value.get("actions")
    if actions is not None and not (isinstance(actions, list) and all(isinstance(a, dict) for a in actions)):
        return f"{what}: actions is not a list of objects"
    if not isinstance(value.get("type", ""), str):
        return f"{what}: type is not a string"
    return None


class _NoSignatureBodies(logging.Filter):
    """Bolt logs "Invalid request signature detected (... body: ...)" at INFO: the whole body, user text
    included. The guard has logged its one line already."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Invalid request signature detected")


def quiet_bolt_signature_log() -> None:
    for name in _BOLT_VERIFIERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _NoSignatureBodies) for f in logger.filters):
            logger.addFilter(_NoSignatureBodies())
