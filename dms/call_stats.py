"""Counts and latencies of the requests made to DMSs, for ``/metrics`` (rendered by ``bot.metrics_calls``).

Every HTTP request ``dms.caller.HttpCaller`` sends (each attempt of a retried call counts on its own) is
recorded under the DMS it went to, the Web Services method and how it ended:

* ``ok``: the DMS answered the call (an ASMX fault such as a refused script is still an answer: ``fault``);
* ``http_error``: an HTTP status the API does not promise (5xx without a message, 401, 404 ...);
* ``timeout`` and ``connection_error``: no answer;
* ``protocol_error``: an answer the API does not promise (not JSON, no ``{"d": ...}``, too large, ...).

Latencies go into cumulative buckets (Prometheus histogram style). Pure Python, no I/O: the process-wide
``CALL_STATS`` is shared by every ``DmsClient`` unless one is given another (tests).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

# Upper bounds in seconds: a DMS answers most calls in tens of milliseconds, a busy one in seconds.
BUCKETS_S: tuple[float, ...] = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
OUTCOMES = ("ok", "fault", "http_error", "timeout", "connection_error", "protocol_error")


@dataclass
class Series:
    """One (dms, method, outcome): how many calls, their total seconds, and how many per bucket."""

    count: int = 0
    total_s: float = 0.0
    buckets: list[int] = field(default_factory=lambda: [0] * len(BUCKETS_S))  # not cumulative

    def add(self, seconds: float) -> None:
        self.count += 1
        self.total_s += seconds
        for index, bound in enumerate(BUCKETS_S):
            if seconds <= bound:
                self.buckets[index] += 1
                break

    def cumulative(self) -> list[tuple[float, int]]:
        """(upper bound, calls at or under it) for each bucket, then (inf, all calls)."""
        running, result = 0, []
        for bound, hits in zip(BUCKETS_S, self.buckets, strict=True):
            running += hits
            result.append((bound, running))
        result.append((float("inf"), self.count))
        return result


Key = tuple[str, str, str]  # (dms, method, outcome)


class CallStats:
    """Thread-safe: clients live on the event loop, but ``/metrics`` may read from a worker thread."""

    def __init__(self) -> None:
        self._series: dict[Key, Series] = {}
        self._lock = threading.Lock()

    def record(self, *, dms: str, method: str, outcome: str, seconds: float) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        with self._lock:
            self._series.setdefault((dms, method, outcome), Series()).add(max(0.0, seconds))

    def snapshot(self) -> dict[Key, Series]:
        """A copy, sorted by key, that later calls do not change."""
        with self._lock:
            return {key: Series(count=series.count, total_s=series.total_s, buckets=list(series.buckets))
                    for key, series in sorted(self._series.items())}

    def calls(self, *, dms: str | None = None, outcome: str | None = None) -> int:
        """How many calls were recorded (of one DMS, with one outcome)."""
        with self._lock:
            return sum(series.count for (name, _, result), series in self._series.items()
                       if (dms is None or name == dms) and (outcome is None or result == outcome))

    def clear(self) -> None:
        with self._lock:
            self._series.clear()


CALL_STATS = CallStats()
