"""The Slack Web API client the bot uses, and a per-channel pacer for the messages it sends.

slack_sdk retries only connection errors by default; a bot that must never lose what it meant to say also
needs retries on 429 (honouring ``Retry-After``) and on 5xx. Slack allows about one message per second per
channel, so ``ChannelPacer`` spaces the calls of each channel and coalesces edits of the same message: while
an edit waits for its turn, a newer edit of that message replaces it, and only the latest content is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.jitter import Jitter
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]

DEFAULT_MAX_RETRIES = 8
_RETRIED_SERVER_STATUSES = frozenset({500, 502, 503, 504})

# Error codes after which the same call may succeed later (a limit, Slack's own trouble, a token an operator
# can fix): retried. Any other code is a refusal for good (set aside and audited); see ``classify``.
_TRANSIENT = frozenset({
    "ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable", "request_timeout",
    "team_added_to_org", "invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive",
})
# A call that never got an answer from Slack: worth trying again later.
NETWORK_ERRORS = (aiohttp.ClientError, OSError, TimeoutError, SlackClientError)


class SlackCallStats:
    """Web API calls this process made (by method and outcome) and the retries done (by reason), for
    ``/metrics``. Process-wide (``SLACK_STATS``): every client ``make_web_client`` builds counts into it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # read by /metrics, possibly from a worker thread
        self._calls: Counter[tuple[str, str]] = Counter()
        self._retries: Counter[str] = Counter()

    def call(self, method: str, *, outcome: str) -> None:
        with self._lock:
            self._calls[(method, outcome)] += 1

    def retry(self, reason: str) -> None:
        with self._lock:
            self._retries[reason] += 1

    def calls(self) -> dict[tuple[str, str], int]:
        with self._lock:
            return dict(sorted(self._calls.items()))

    def retries(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._retries.items()))


SLACK_STATS = SlackCallStats()
RETRY_RATE_LIMITED, RETRY_SERVER_ERROR, RETRY_CONNECTION = "rate_limited", "server_error", "connection_error"


class CountingWebClient(AsyncWebClient):
    """Counts every Web API call once, however many attempts its retries took: ``ok``, or ``error``
    when Slack refused it (``SlackApiError``) or it failed for good (connection, timeout)."""

    async def api_call(self, api_method: str, **options: Any) -> AsyncSlackResponse:
        try:
            response = await super().api_call(api_method, **options)
        except Exception:
            SLACK_STATS.call(api_method, outcome="error")
            raise
        SLACK_STATS.call(api_method, outcome="ok")
        return response


class RetryAfterHandler(AsyncRateLimitErrorRetryHandler):
    """429 handler: waits ``Retry-After`` seconds plus up to ``jitter`` seconds (slack_sdk's adds up to 1 s).

    slack_sdk's own handler truncates fractional values and cannot be told to skip the jitter, so tests
    that answer ``Retry-After: 0`` would still wait up to a second per retry.
    """

    def __init__(self, *, max_retry_count: int, jitter: float = 1.0, sleep: Sleep = asyncio.sleep) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self._jitter = jitter
        self._sleep = sleep

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        if response is None:
            raise error or RuntimeError("rate-limit retry without a response")
        state.next_attempt_requested = True
        await self._sleep(_retry_after_seconds(response.headers) + random.random() * self._jitter)
        state.increment_current_attempt()


class ServerErrorRetryHandler(AsyncServerErrorRetryHandler):
    """slack_sdk's 5xx handler retries only 500 and 503; gateways in front of Slack also answer 502/504."""

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and response.status_code in _RETRIED_SERVER_STATUSES


class CountedRetries(AsyncRetryHandler):
    """Any retry handler, each retry it decides on counted under ``reason`` (``dmu_slack_retries_total``),
    so no handler needs a subclass of its own to be counted."""

    def __init__(self, handler: AsyncRetryHandler, reason: str) -> None:
        super().__init__(handler.max_retry_count, handler.interval_calculator)
        self._handler, self._reason = handler, reason

    async def can_retry_async(self, **attempt: Any) -> bool:
        return await self._handler.can_retry_async(**attempt)

    async def prepare_for_next_attempt_async(self, **attempt: Any) -> None:
        SLACK_STATS.retry(self._reason)
        await self._handler.prepare_for_next_attempt_async(**attempt)


class _ScaledJitter(Jitter):
    def __init__(self, max_seconds: float) -> None:
        self._max = max_seconds

    def recalculate(self, duration: float) -> float:
        return duration + random.random() * self._max


def _retry_after_seconds(headers: dict[str, list[str] | str]) -> float:
    for name, values in headers.items():
        if name.lower() == "retry-after" and values:
            value = values if isinstance(values, str) else values[0]
            with contextlib.suppress(ValueError):
                return max(0.0, float(value))
    return 1.0


def make_web_client(
    *,
    token: str,
    base_url: str = "https://slack.com/api/",
    max_retries: int = DEFAULT_MAX_RETRIES,
    backoff_factor: float = 0.5,
    jitter: float = 1.0,
    timeout: int = 30,
) -> AsyncWebClient:
    """An ``AsyncWebClient`` that retries 429 (after ``Retry-After``), 5xx and connection errors.

    ``max_retries`` bounds the attempts after the first, across all kinds of failure; ``backoff_factor`` is
    the base of the exponential backoff for 5xx and connection errors; every wait gets up to ``jitter``
    random seconds on top (slack_sdk's default is 1) so many clients do not retry in lockstep.
    """
    if max_retries < 0:
        raise ValueError("max_retries must not be negative")
    if not base_url.endswith("/"):
        base_url += "/"
    backoff = BackoffRetryIntervalCalculator(backoff_factor=backoff_factor, jitter=_ScaledJitter(jitter))
    handlers: list[AsyncRetryHandler] = [
        CountedRetries(AsyncConnectionErrorRetryHandler(max_retry_count=max_retries,
                                                        interval_calculator=backoff), RETRY_CONNECTION),
        CountedRetries(RetryAfterHandler(max_retry_count=max_retries, jitter=jitter), RETRY_RATE_LIMITED),
        CountedRetries(ServerErrorRetryHandler(max_retry_count=max_retries, interval_calculator=backoff),
                       RETRY_SERVER_ERROR),
    ]
    return CountingWebClient(token=token, base_url=base_url, timeout=timeout, retry_handlers=handlers)


@dataclass
class _Job(Generic[T]):
    factory: Callable[[], Awaitable[T]]
    key: str | None
    future: asyncio.Future[T] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


@dataclass
class _Lane:
    jobs: deque[_Job[Any]] = field(default_factory=deque)
    last_end: float | None = None
    worker: asyncio.Task[None] | None = None


class ChannelPacer:
    """At most one call per ``interval`` seconds per channel; posts queued in order, edits coalesced.

    The interval runs from the end of one call to the start of the next, so the retries a call makes
    internally (after a 429 or a 5xx) never bunch up with the following call.
    """

    def __init__(
        self,
        *,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if interval < 0:
            raise ValueError("interval must not be negative")
        self._interval = interval
        self._clock = clock
        self._sleep = sleep
        self._lanes: dict[str, _Lane] = {}
        self.calls_made = 0
        self.coalesced = 0

    async def post(self, channel: str, factory: Callable[[], Awaitable[T]]) -> T:
        """Run ``factory()`` in the channel's turn, after everything queued before it; never dropped."""
        job: _Job[T] = _Job(factory=factory, key=None)
        self._enqueue(channel, job)
        return await asyncio.shield(job.future)

    async def update(self, channel: str, key: str, factory: Callable[[], Awaitable[T]]) -> T:
        """Run ``factory()`` in the channel's turn unless a newer update for ``key`` replaces it first.

        Every caller whose update was replaced gets the result of the update that was finally sent.
        """
        lane = self._lanes.setdefault(channel, _Lane())
        for waiting in lane.jobs:
            if waiting.key == key:
                waiting.factory = factory
                self.coalesced += 1
                return await asyncio.shield(waiting.future)
        job: _Job[T] = _Job(factory=factory, key=key)
        self._enqueue(channel, job)
        return await asyncio.shield(job.future)

    async def drain(self) -> None:
        """Wait until every queued call has run."""
        while True:
            workers = [lane.worker for lane in self._lanes.values() if lane.worker is not None]
            if not workers:
                return
            await asyncio.gather(*workers, return_exceptions=True)

    async def aclose(self) -> None:
        """Stop: queued calls that have not started are cancelled."""
        for lane in self._lanes.values():
            while lane.jobs:
                lane.jobs.popleft().future.cancel()
            if lane.worker is not None:
                lane.worker.cancel()
        await asyncio.gather(
            *(lane.worker for lane in self._lanes.values() if lane.worker is not None), return_exceptions=True
        )
        self._lanes.clear()

    def pending(self, channel: str) -> int:
        lane = self._lanes.get(channel)
        return len(lane.jobs) if lane else 0

    def _enqueue(self, channel: str, job: _Job[Any]) -> None:
        lane = self._lanes.setdefault(channel, _Lane())
        lane.jobs.append(job)
        if lane.worker is None:
            lane.worker = asyncio.get_running_loop().create_task(self._run(lane), name=f"pacer:{channel}")

    async def _run(self, lane: _Lane) -> None:
        try:
            while lane.jobs:
                if lane.last_end is not None:
                    wait = lane.last_end + self._interval - self._clock()
                    if wait > 0:
                        await self._sleep(wait)
                # Taken off the queue only now, so updates arriving during the wait still coalesce into it.
                job = lane.jobs.popleft()
                try:
                    self.calls_made += 1
                    result = await job.factory()
                except Exception as err:  # the caller gets it; the channel goes on
                    if not job.future.done():
                        job.future.set_exception(err)
                else:
                    if not job.future.done():
                        job.future.set_result(result)
                finally:
                    lane.last_end = self._clock()
        finally:
            lane.worker = None


def classify(exc: SlackApiError) -> tuple[str, bool]:
    """The error's name, and whether the same call may succeed later: a 429 or 5xx (after the client's own
    retries) or a transient error code. An error page (not JSON) has no code: its HTTP status names it."""
    response = exc.response
    status = int(getattr(response, "status_code", 200) or 200)
    data = getattr(response, "data", None)
    code = str(data.get("error", "unknown")) if isinstance(data, dict) else f"HTTP {status}"
    return code, status == 429 or status >= 500 or code in _TRANSIENT
