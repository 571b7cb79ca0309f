"""When will the upgrade be done? Per-hop expectations from the estimate, corrected by what we observe.

Two clocks meet here. The estimate speaks in *DMS minutes* (what a real DataMiner takes); the loop
measures *wall-clock minutes*. ``time_scale`` (``settings.dms_time_scale``) converts: wall = DMS / scale.
For a real DMS the scale is 1; against the simulator it is its speed factor.

The ETA starts from the estimate split over the hops, then follows the pace this DMS actually shows:
once a hop finishes, the remaining hops are scaled by observed / expected of the hops done so far.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from dms.upgrade_path import Estimate, PackageKind, UpgradePath

# A hop's deadline is this many times its high estimate: agents that start slower than twice the
# pessimistic figure are not "slow", something is wrong and a person must look.
DEADLINE_FACTOR = 2.0
# Never give a hop less than this (DMS minutes): a tiny estimate must not fail a healthy upgrade.
MIN_DEADLINE_MINUTES = 10.0
# Nor less than this in real seconds: the bot's polls and the DMS's answers take real time whatever the time
# scale, so a scaled run (a simulator at 2000x on a busy machine) must not fail a hop its own overhead
# made late. At scale 1 the minutes above are always longer.
MIN_DEADLINE_WALL_SECONDS = 15.0
# Verification after the last hop (DMS minutes): a few API reads per agent.
VERIFICATION_MINUTES = 2.0


@dataclass(frozen=True)
class HopExpectation:
    """Expected duration of one hop in DMS minutes."""

    low: float
    high: float

    @property
    def likely(self) -> float:
        return (self.low + self.high) / 2


def hop_expectations(*, path: UpgradePath, estimate: Estimate) -> list[HopExpectation]:
    """Split the estimate's execution phase over the hops: helpers take their documented minutes,
    DataMiner hops share the rest equally (each one uploads, restarts and starts every agent)."""
    execution = estimate.execution
    helpers = [hop for hop in path.hops if hop.package is PackageKind.HELPER]
    helper_minutes = sum(hop.minutes or 5.0 for hop in helpers)
    upgrades = max(1, len(path.hops) - len(helpers))
    low_each = max(0.0, execution.low_minutes - helper_minutes) / upgrades
    high_each = max(0.0, execution.high_minutes - helper_minutes) / upgrades
    result: list[HopExpectation] = []
    for hop in path.hops:
        if hop.package is PackageKind.HELPER:
            minutes = hop.minutes or 5.0
            result.append(HopExpectation(low=minutes, high=minutes * 1.5))
        else:
            result.append(HopExpectation(low=low_each, high=max(high_each, low_each)))
    return result


def hop_deadline_seconds(expectation: HopExpectation, *, time_scale: float) -> float:
    """Wall-clock seconds a hop may take before it is declared failed."""
    minutes = max(DEADLINE_FACTOR * expectation.high, MIN_DEADLINE_MINUTES)
    return max(minutes * 60.0 / time_scale, MIN_DEADLINE_WALL_SECONDS)


@dataclass(frozen=True)
class EtaInput:
    now: datetime
    expectations: Sequence[HopExpectation]  # every hop of the path, in order
    finished_wall_minutes: Sequence[float]  # wall-clock minutes of the hops finished so far, in order
    current_started_at: datetime | None  # when the hop in progress started (None: between hops)
    time_scale: float = 1.0


@dataclass(frozen=True)
class Eta:
    at: datetime
    remaining_minutes: float  # wall-clock


def compute_eta(data: EtaInput) -> Eta:
    """Remaining wall-clock time: hops not yet finished at the observed pace, plus verification."""
    scale = data.time_scale
    done = len(data.finished_wall_minutes)
    expected_done = sum(e.likely for e in data.expectations[:done]) / scale
    observed_done = sum(data.finished_wall_minutes)
    # The pace of this DMS so far; 1.0 until a hop has finished (the estimate already used learned data).
    pace = observed_done / expected_done if done and expected_done > 0 else 1.0
    remaining = 0.0
    for index, expectation in enumerate(data.expectations[done:], start=done):
        expected = expectation.likely / scale * pace
        if index == done and data.current_started_at is not None:
            elapsed = (data.now - data.current_started_at).total_seconds() / 60.0
            # Running late: assume at least a tenth of the hop is still ahead rather than "done now".
            expected = max(expected - elapsed, expected * 0.1)
        remaining += expected
    remaining += VERIFICATION_MINUTES / scale
    return Eta(at=data.now + timedelta(minutes=remaining), remaining_minutes=remaining)
