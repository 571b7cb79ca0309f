"""One simulated agent: its version, elements and the upgrade or restart it is going through.

State is computed lazily from timestamps on the simulated clock: a ``Transition`` records when the agent began
to stop and how long each phase lasts, and ``phase(now)`` says where it is (Stopping -> Upgrading ->
"Starting up (xx%)" -> Running). Nothing needs a background task, so a test's clock fully decides the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dms.versions import Version

RUNNING = "Running"
STARTING = "Starting"
DISCONNECTED = "Disconnected"
STUCK_AT = 0.4  # where a stuck startup hangs: "Starting up (40%)"


def agent_ip(agent_id: int) -> str:
    """Agent i (1-based) answers on 127.0.1.i; past 254 agents it continues in 127.0.2.x."""
    index = agent_id - 1
    return f"127.0.{1 + index // 254}.{index % 254 + 1}"


def build_string(version: Version) -> str:
    """The form ConnectAppAndInfo reports, e.g. 10.4.0.0-14772-CU3 (the build number is made up, stable)."""
    made_up = 9000 + 1000 * (version.minor + 10 * (version.major - 10)) + 60 * version.build
    number = version.build_number or made_up
    text = f"{version.major}.{version.minor}.{version.build}.0-{max(number, 1)}"
    return f"{text}-CU{version.cu}" if version.cu else text


@dataclass(frozen=True)
class Phase:
    status: str  # what GetDataMinerAgentsInfo reports: Running, Starting or Disconnected
    detail: str  # "Stopping", "Upgrading to 10.5.0", "Starting up (40%)", "Failed to start", ""
    progress: float = 1.0  # share of the elements that are up

    @property
    def answers(self) -> bool:
        """Whether the agent's own Web Services answer: from the start of its startup onwards."""
        return self.status in (RUNNING, STARTING)


@dataclass
class Transition:
    """An upgrade (or a plain restart when ``target`` is the current version) that began at ``started``."""

    started: datetime
    target: Version
    stop: timedelta
    install: timedelta
    startup: timedelta
    stuck: bool = False
    fails: bool = False

    @property
    def end(self) -> datetime:
        return self.started + self.stop + self.install + self.startup


@dataclass
class SimAgent:
    id: int
    name: str
    ip: str
    version: Version
    elements: int
    last_change: datetime
    partner: int | None = None
    transition: Transition | None = None
    failed: bool = False
    upgrade_started: datetime | None = None
    _last_stop: datetime | None = field(default=None, repr=False)

    def settle(self, now: datetime) -> None:
        """Apply a transition that has finished by ``now``."""
        move = self.transition
        if move is None or move.stuck or now < move.end:
            return
        self.version = move.target
        self.failed = move.fails
        self.last_change = move.end
        self._last_stop = move.started
        self.transition = None

    def phase(self, now: datetime) -> Phase:
        self.settle(now)
        move = self.transition
        if move is None or now < move.started:
            return Phase(DISCONNECTED, "Failed to start", 0.0) if self.failed else Phase(RUNNING, "")
        elapsed = now - move.started
        if elapsed < move.stop:
            return Phase(DISCONNECTED, "Stopping", 0.0)
        if elapsed < move.stop + move.install:
            what = "Restarting" if move.target == self.version else f"Upgrading to {move.target}"
            return Phase(DISCONNECTED, what, 0.0)
        done = (elapsed - move.stop - move.install) / move.startup if move.startup else 1.0
        if move.stuck:
            done = min(done, STUCK_AT)
        done = min(done, 0.99)
        return Phase(STARTING, f"Starting up ({int(done * 100)}%)", done)

    def phase_changed_at(self, now: datetime) -> datetime:
        """When the current phase began (LastChangeUTC)."""
        move = self.transition
        if move is None or now < move.started:
            return self.last_change
        for edge in (move.started + move.stop + move.install, move.started + move.stop):
            if now >= edge:
                return edge
        return move.started

    def last_stop(self, now: datetime) -> datetime | None:
        """When the agent last went down: its sessions from before then are gone."""
        if self.transition is not None and self.transition.started <= now:
            return self.transition.started
        return self._last_stop

    def running_version(self, now: datetime) -> Version:
        """What ConnectAppAndInfo reports: the installed files, new ones once the startup begins."""
        self.settle(now)
        move = self.transition
        if move is not None and now >= move.started + move.stop + move.install:
            return move.target
        return self.version

    def unstick(self, now: datetime) -> None:
        """Resume a startup hung at STUCK_AT from where it hung."""
        move = self.transition
        if move is None or not move.stuck:
            return
        begun = move.started + move.stop + move.install
        if now - begun > move.startup * STUCK_AT:
            move.started = now - move.stop - move.install - move.startup * STUCK_AT
        move.stuck = False
