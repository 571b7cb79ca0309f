"""Misbehaviour on demand for the fake Slack server: one-off failures and rate-limit storms.

Retries (429 with ``Retry-After``, 5xx, Slack error codes) are only worth something when tested against
real HTTP answers; this plan decides, call by call, which answer the fake gives instead of the real one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.console.fake_slack import FakeSlack
from bot.console.fake_slack_state import failure_answer

Answer = tuple[int, dict[str, str], dict[str, Any] | None]


@dataclass
class _Failure:
    status: int
    retry_after: int | None
    error: str | None
    remaining: int


@dataclass
class _Storm:
    methods: frozenset[str] | None
    failures_per_success: int
    retry_after: int
    counters: dict[str, int] = field(default_factory=dict)


class FailurePlan:
    """Queued failures per method (``"*"``: any) and an optional storm; ``take`` consumes one."""

    def __init__(self) -> None:
        self._failures: dict[str, list[_Failure]] = {}
        self._storm: _Storm | None = None

    def fail_next(
        self, method: str, *, status: int = 429, retry_after: int | None = 1, count: int = 1,
        error: str | None = None,
    ) -> None:
        """``status`` 429 sends ``Retry-After``; 5xx sends an error page; ``status=200`` with ``error``
        answers ``{"ok": false, "error": ...}`` like a Slack-side refusal."""
        if count < 1:
            raise ValueError("count must be at least 1")
        if status == 200 and not error:
            raise ValueError("a 200 failure needs an error code")
        self._failures.setdefault(method, []).append(
            _Failure(status=status, retry_after=retry_after, error=error, remaining=count)
        )

    def start_storm(self, *, methods: list[str] | None, failures_per_success: int, retry_after: int) -> None:
        if failures_per_success < 1:
            raise ValueError("failures_per_success must be at least 1")
        self._storm = _Storm(
            methods=frozenset(methods) if methods else None,
            failures_per_success=failures_per_success,
            retry_after=retry_after,
        )

    def stop_storm(self) -> None:
        self._storm = None

    def take(self, method: str) -> Answer | None:
        """The failure answer for this call of ``method``, or None to answer normally."""
        for key in (method, "*"):
            queue = self._failures.get(key)
            if queue:
                failure = queue[0]
                failure.remaining -= 1
                if failure.remaining == 0:
                    queue.pop(0)
                return failure_answer(failure.status, failure.retry_after, failure.error)
        storm = self._storm
        if storm is not None and (storm.methods is None or method in storm.methods):
            n = storm.counters.get(method, 0)
            storm.counters[method] = n + 1
            if n % (storm.failures_per_success + 1) != storm.failures_per_success:
                return failure_answer(429, storm.retry_after, None)
        return None


class FaultySlack(FakeSlack):
    """The console's fake Slack with failures on demand, for the retry and rate-limit tests."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.plan = FailurePlan()
        self.faults = self.plan

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: int | None = 1,
        count: int = 1,
        error: str | None = None,
    ) -> None:
        """Answer the next ``count`` calls of ``method`` (``"*"``: any method) with a failure."""
        self.plan.fail_next(method, status=status, retry_after=retry_after, count=count, error=error)

    def start_storm(
        self, *, methods: list[str] | None = None, failures_per_success: int = 2, retry_after: int = 1
    ) -> None:
        """Rate-limit storm: per method, ``failures_per_success`` calls get 429 before one goes through."""
        self.plan.start_storm(methods=methods, failures_per_success=failures_per_success,
                              retry_after=retry_after)

    def stop_storm(self) -> None:
        self.plan.stop_storm()
