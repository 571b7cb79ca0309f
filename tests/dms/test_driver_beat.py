"""The drivers poll on a fixed beat: a round's reads take time, and that time is not added to every interval
(with a 10 s poll the last agent running was noticed up to 11 s late). A fake clock that the reads advance,
and the sleeps recorded instead of slept."""

from __future__ import annotations

import pytest

from dms import drivers
from dms.models import AgentState
from dms.versions import Version, parse_version


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


class SlowWatcher(drivers._Watching):
    """Agents that reach the target on the third read; each read takes 0.3 s of the clock."""

    def __init__(self, clock: FakeClock, target: Version) -> None:
        self._clock, self._target, self.reads = clock, target, 0

    async def observe(self) -> list[AgentState]:
        self.reads += 1
        self._clock.now += 0.3
        version = self._target if self.reads >= 3 else parse_version("10.4.0 CU3")
        return [AgentState(id=1, name="DMA1", status="Running", version=version)]


async def test_waiting_for_a_version_polls_on_a_fixed_beat(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr(drivers.time, "monotonic", clock.monotonic)
    monkeypatch.setattr(drivers.asyncio, "sleep", clock.sleep)
    target = parse_version("10.5.0 CU18")
    watcher = SlowWatcher(clock, target)
    states = await watcher.wait_for_version(version=target, timeout_s=60, poll_s=2.0)
    assert states[0].version == target and watcher.reads == 3
    assert clock.slept == [1.7, 1.7]  # 2 s between the starts of two rounds, not 2 s after each round
