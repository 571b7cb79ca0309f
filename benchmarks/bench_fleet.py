"""A fleet of DMSs whose scheduled pre-checks fall due in the same minute, against one DMS's alone.

``--dms`` simulated DMSs of ``--agents`` agents each (every one on its own port, all served by one child
process: they are other machines in real life, so their CPU is not the bot's) are the named targets of one
bot engine (a DMS_TARGETS_FILE, a SQLite database). Each round:

1. *one DMS alone*: a plan on the first DMS gets a window whose pre-check is due a moment later; the
   scheduler (APScheduler, as in production) fires the pre-check job and the engine runs it; the time
   from the due instant to its CheckFinished event is measured; then the plan is cancelled;
2. *the fleet*: one plan per DMS, all with the same window, so every pre-check is due at the same
   instant; the time from that instant to the last CheckFinished is measured; then all are cancelled.

Both go through the same code path (scheduled job -> ``on_precheck_due`` -> ``PrecheckRunner``: the
health checks of ``dms.prechecks``, the package inventory and each package file's check through the script
driver; *Upload only* is a person's step, asked for and not run).
``--trigger direct`` calls the engine's ``on_precheck_due`` for every plan at the due instant instead of
letting APScheduler's clock fire the jobs. The medians are compared: the fleet must take at most 1.5x the
single DMS. Peak memory of this (the bot's) process is printed from ``ru_maxrss``; ``--tracemalloc`` runs one
more fleet round under tracemalloc for the peak of Python allocations (slower, so not timed).

Also printed, to tell a serialising bottleneck from plain work: how long after the due instant the last
pre-check started, the bot's CPU seconds for the fleet against 50x one DMS's, and DMS requests per pre-check
(and the bot's CPU and database statements per pre-check). With ``--trigger direct`` the pre-checks all
start within a second and the CPU is linear: 23-28 ms per pre-check on a 2-core machine with the bot on
uvloop (``--loop``), 26-30 ms on asyncio's own (31-35 ms at the end of the session before; 36-41 ms when a
run took 35 statements in three units; 52-55 ms when it took 59 in four and SQLite's background units ran
on four threads; 75-80 ms before the DMS requests went to aiohttp without httpx's layers). A run is 19
statements in two units now (CheckStarted drawn on the plan's row, the plan held by its unit, results and
audit rows in one INSERT each, the job's question in the run's first unit, the outcome's snapshot taking the
results from its unit). Sampled with py-spy (``py-spy record --gil``;
``--profile`` is cProfile, which inflates call-heavy code): the 28 DMS requests (aiohttp, our caller and
client, the loop's callbacks for them) are about half of the bot's CPU, a new TCP connection, a
ConnectAppAndInfo and a LogOut per agent the larger part; the event loop's own work about a tenth; the
database units a fifth, CheckFinished's snapshot the largest part of that. So the fleet is bound by one core:
one DMS's pre-check waits on latency (0.75 s), 50 of them on CPU.
Fired by APScheduler, the pre-checks start only as fast as its executor hands them out (compare the last
start against ``--trigger direct``).

    python benchmarks/bench_fleet.py [--dms 50] [--agents 10] [--latency-ms 100] [--upload-s 0.5]
                                     [--rounds 2] [--trigger scheduler|direct] [--tracemalloc]
                                     [--profile PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
from datetime import datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from a checkout without installing

from sqlalchemy import Engine, event

from bot import event_loop
from bot.event_loop import LoopChoice
from dms.call_stats import CALL_STATS
from dms.catalog import load_catalog
from simulator import SimulatedDms, SimulatorConfig
from workflow.dms_access import DmsAccess
from workflow.engine import UpgradeEngine
from workflow.events import CheckFinished, CheckStarted, Event
from workflow.model.clock import utc_now
from workflow.settings import WorkflowSettings
from workflow.store import database
from workflow.store.database import make_engine, migrate
from workflow.store.states import PlanState

TARGET_RATIO = 1.5
USER, PASSWORD = "admin", "bench-password"
REQUESTER, CHANNEL = "U0BENCH", "C0BENCH"
LEAD_HOURS = 24.0
# The pre-checks fall due this long after the first plan gets its window (and each plan more adds a little:
# every window must be set before the instant, or its pre-check would start late and be timed from it).
DUE_AFTER_S, DUE_AFTER_PER_PLAN_S = 1.0, 0.2
START_VERSION, TARGET = "10.2.0 CU5", "10.4"


# ---------------------------------------------------------------------------------------- the simulators


def serve_fleet(configs: list[SimulatorConfig], pipe: Connection) -> None:
    """Every simulated DMS in this (child) process, each on a port of its own, until told to stop."""

    async def run() -> None:
        simulators = [SimulatedDms(config) for config in configs]
        urls = [await simulator.start() for simulator in simulators]
        pipe.send(urls)
        await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
        await asyncio.gather(*(simulator.stop() for simulator in simulators))

    asyncio.run(run())


def sim_config(*, agents: int, latency_ms: float, upload_s: float) -> SimulatorConfig:
    # At speed 60 a simulated minute is a real second. The default upload with its prerequisite checks
    # (0.5 s, where a real one takes minutes) is polled a few times and leaves the bot's own work to compare.
    return SimulatorConfig(agents=agents, failover_pairs=1, version=START_VERSION, elements_per_agent=5,
                           alarms=2, latency_ms=latency_ms, upload_minutes=upload_s, speed=60.0, user=USER,
                           password=PASSWORD)


# ---------------------------------------------------------------------------------------- the bot


class FinishTimes:
    """The engine's notifier: when each plan's pre-check started and finished (monotonic clock)."""

    def __init__(self) -> None:
        self.started: dict[int, float] = {}
        self.finished: dict[int, float] = {}
        self.passed: dict[int, bool] = {}
        self.changed = asyncio.Event()
        self.last_start = 0.0  # of the last round: seconds from the due instant to the last CheckStarted
        self.simulator_cpu = 0.0  # of the last round: the simulators' CPU seconds from the due instant on

    async def notify(self, event: Event) -> None:
        if isinstance(event, CheckStarted) and event.kind == "pre":
            self.started[event.plan_id] = time.monotonic()
        if isinstance(event, CheckFinished) and event.kind == "pre":
            self.finished[event.plan_id] = time.monotonic()
            self.passed[event.plan_id] = event.passed
            self.changed.set()

    async def all_of(self, plan_ids: set[int], *, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not plan_ids <= self.finished.keys():
            self.changed.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                missing = sorted(plan_ids - self.finished.keys())
                raise TimeoutError(f"{len(missing)} pre-check(s) not finished after {timeout_s:g} s")
            try:
                await asyncio.wait_for(self.changed.wait(), timeout=remaining)
            except TimeoutError:
                continue


class Statements:
    """SQL statements the bot's database ran while ``counting`` (from the due instant to the last result,
    the job store's included): unlike CPU time, a count a busy machine hardly moves (only the job store's
    reads follow APScheduler's wake-ups: 22.0 and 22.1 a pre-check in two runs)."""

    def __init__(self, db: Engine) -> None:
        self.counting = False
        self.count = 0
        self._lock = threading.Lock()  # the database thread and APScheduler's both run statements
        event.listen(db, "before_cursor_execute", self._seen)

    def _seen(self, *args: object) -> None:
        if self.counting:
            with self._lock:
                self.count += 1


class NoApprovers:
    async def is_approver(self, user_id: str) -> bool:
        return False

    async def is_member(self, user_id: str) -> bool:
        return False


def targets_file(folder: Path, urls: list[str]) -> Path:
    path = folder / "targets.toml"
    path.write_text("".join(f'[[targets]]\nname = "dms-{index:03d}"\nurl = "{url}"\n\n'
                            for index, url in enumerate(urls, start=1)), encoding="utf-8")
    return path


def build_engine(folder: Path, urls: list[str]) -> tuple[UpgradeEngine, FinishTimes]:
    settings = WorkflowSettings(
        _env_file=None, dms_targets_file=targets_file(folder, urls), dms_user=USER, dms_password=PASSWORD,
        dms_driver="script", dms_timeout_seconds=30.0, dms_retries=1, precheck_lead_hours=LEAD_HOURS,
        blocking_alarm_severities=["Critical"], dms_time_scale=60.0,
    )
    db = make_engine(f"sqlite:///{folder / 'fleet.db'}")
    migrate(db)
    notifier = FinishTimes()
    engine = UpgradeEngine(settings=settings, db=db, catalog=load_catalog(), notifier=notifier,
                           approvers=NoApprovers(), dms_access=DmsAccess(settings=settings),
                           operators=NoApprovers())
    return engine, notifier


async def plans_for(engine: UpgradeEngine, names: list[str]) -> list[int]:
    """A plan without a window on each DMS (reading its agents), created concurrently. Not what is measured,
    so ``measure`` runs it with a background task's patience for the database."""
    snapshots = await asyncio.gather(*(
        engine.create_plan(target=TARGET, track=None, window_start=None, window_minutes=None,
                           requester=REQUESTER, channel=CHANNEL, dms=name) for name in names))
    return [snapshot.id for snapshot in snapshots]


async def prechecks_due_together(
    engine: UpgradeEngine, notifier: FinishTimes, plan_ids: list[int], *, trigger: str,
    profile: cProfile.Profile | None = None, statements: Statements | None = None,
) -> tuple[float, float]:
    """Give every plan the same window, so that their pre-checks are due at one instant a moment later;
    seconds from that instant until the last of them finished, and the CPU seconds this process spent."""
    due: datetime = utc_now() + timedelta(seconds=DUE_AFTER_S + DUE_AFTER_PER_PLAN_S * len(plan_ids))
    for plan_id in plan_ids:
        await engine.set_window(plan_id=plan_id, start=due + timedelta(hours=LEAD_HOURS), minutes=240,
                                actor=REQUESTER)
    ahead = (due - utc_now()).total_seconds()
    if ahead <= 0:
        raise RuntimeError(f"setting the windows took {-ahead:.1f} s past the due instant: raise DUE_AFTER_S")
    due_monotonic = time.monotonic() + ahead
    cpu_at_due: list[float] = []
    sim_at_due: list[float] = []

    def at_due() -> None:
        cpu_at_due.append(time.process_time())
        sim_at_due.append(simulator_cpu_s())
        if statements is not None:
            statements.counting = True
        if profile is not None:
            profile.enable()

    asyncio.get_running_loop().call_later(ahead, at_due)
    if trigger == "direct":
        await asyncio.sleep(max(0.0, due_monotonic - time.monotonic()))
        await asyncio.gather(*(engine.on_precheck_due(plan_id) for plan_id in plan_ids))
    await notifier.all_of(set(plan_ids), timeout_s=300.0)
    if statements is not None:
        statements.counting = False
    if profile is not None:
        profile.disable()
    cpu = time.process_time() - cpu_at_due[0]
    notifier.simulator_cpu = simulator_cpu_s() - sim_at_due[0]
    notifier.last_start = max(notifier.started[plan_id] for plan_id in plan_ids) - due_monotonic
    return max(notifier.finished[plan_id] for plan_id in plan_ids) - due_monotonic, cpu


async def cancel_all(engine: UpgradeEngine, plan_ids: list[int]) -> None:
    for plan_id in plan_ids:
        await engine.cancel(plan_id=plan_id, actor=REQUESTER, reason="benchmark round over")


_SIMULATORS: list[int] = []  # the simulators' process id, once started


def simulator_cpu_s() -> float:
    """CPU seconds the simulators' process has used so far (Linux /proc; 0 elsewhere)."""
    if not _SIMULATORS:
        return 0.0
    try:
        stat = Path(f"/proc/{_SIMULATORS[0]}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


async def measure(urls: list[str], *, agents: int, latency_ms: float, rounds: int, trigger: str,
                  trace: bool, profile: cProfile.Profile | None = None) -> int:
    # The bench's own requests (fifty plans, windows, cancels at once) wait for the database like background
    # work: a listener's 1.5 s would answer some of them "busy, try again", and they are not what is measured.
    with database.patience():
        return await _measure(urls, agents=agents, latency_ms=latency_ms, rounds=rounds, trigger=trigger,
                              trace=trace, profile=profile)


async def _measure(urls: list[str], *, agents: int, latency_ms: float, rounds: int, trigger: str,
                   trace: bool, profile: cProfile.Profile | None = None) -> int:
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as folder:
        engine, notifier = build_engine(Path(folder), urls)
        statements = Statements(engine.db)
        await engine.start()
        names = sorted(engine.dms_access.targets)
        try:
            alone: list[float] = []
            fleet: list[float] = []
            cpu: list[float] = []  # the bot's CPU seconds from the due instant to the last pre-check's end
            alone_cpu: list[float] = []
            rss_before_fleet = 0.0
            for _ in range(rounds):  # alternate, so a burst of load on the machine hits both sides alike
                solo = await plans_for(engine, names[:1])
                elapsed, busy = await prechecks_due_together(engine, notifier, solo, trigger=trigger)
                alone.append(elapsed)
                alone_cpu.append(busy)
                await cancel_all(engine, solo)
                if not fleet:  # the engine, the catalog and one pre-check are loaded by now
                    rss_before_fleet = _peak_rss_mib()
                many = await plans_for(engine, names)
                requests_before, statements.count = CALL_STATS.calls(), 0
                elapsed, busy = await prechecks_due_together(engine, notifier, many, trigger=trigger,
                                                             profile=profile, statements=statements)
                requests = (CALL_STATS.calls() - requests_before) / len(many)
                sql = statements.count / len(many)
                fleet.append(elapsed)
                cpu.append(busy)
                last_start, simulated = notifier.last_start, notifier.simulator_cpu
                states = {engine.plan_state(plan_id) for plan_id in many}
                await cancel_all(engine, many)
            rss_after_fleet = _peak_rss_mib()
            traced = await _traced_round(engine, notifier, names, trigger=trigger) if trace else None
        finally:
            await engine.stop()
            engine.db.dispose()
    one, all_of_them = statistics.median(alone), statistics.median(fleet)
    passed = sum(notifier.passed.values())
    print(f"fleet: {len(urls)} simulated DMSs x {agents} agents, {latency_ms:g} ms latency per request; "
          f"pre-checks fired by {'APScheduler' if trigger == 'scheduler' else 'on_precheck_due (direct)'}; "
          f"the bot on {event_loop.loop_name(asyncio.get_running_loop())}")
    print(f"one DMS's pre-check alone:          {one:7.3f} s  (median of {rounds}: "
          f"{', '.join(f'{value:.3f}' for value in alone)})")
    print(f"all {len(urls)} pre-checks due together: {all_of_them:7.3f} s  (median of {rounds}: "
          f"{', '.join(f'{value:.3f}' for value in fleet)}; last round's states: "
          f"{', '.join(sorted(state.value for state in states))}; {passed} of {len(notifier.passed)} passed)")
    ratio = all_of_them / one
    print(f"ratio fleet / one: {ratio:.2f}x (target <= {TARGET_RATIO:g}x): "
          f"{'OK' if ratio <= TARGET_RATIO else 'TOO SLOW'}")
    print(f"the last of the {len(urls)} pre-checks started {last_start:.3f} s after the due instant "
          "(last fleet round)")
    busy, busy_alone = statistics.median(cpu), statistics.median(alone_cpu)
    print(f"the bot's CPU from the due instant to the last pre-check's end: {busy:.2f} s for the fleet "
          f"({busy / all_of_them:.0%} of its time, one event loop), {busy_alone * 1000:.0f} ms for one DMS "
          f"alone; fleet / ({len(urls)} x one): {busy / (len(urls) * busy_alone):.2f}")
    print(f"the simulators' CPU (one process, the other core; in real life {len(urls)} DMSs of their own): "
          f"{simulated:.2f} s in the last fleet round ({simulated / fleet[-1]:.0%} of its time)")
    print(f"per pre-check in the fleet: {busy * 1000 / len(urls):.0f} ms of the bot's CPU, "
          f"{requests:.0f} DMS requests, {sql:.1f} database statements (the job store's included)")
    print(f"peak memory of the bot process (ru_maxrss): {rss_before_fleet:.0f} MiB before the fleet rounds, "
          f"{rss_after_fleet:.0f} MiB after them")
    if traced is not None:
        print(f"peak Python allocations during one more fleet round (tracemalloc): {traced:.1f} MiB")
    return 0 if ratio <= TARGET_RATIO and states <= {PlanState.PRECHECKED, PlanState.BLOCKED} else 1


async def _traced_round(engine: UpgradeEngine, notifier: FinishTimes, names: list[str], *,
                        trigger: str) -> float:
    tracemalloc.start()
    try:
        many = await plans_for(engine, names)
        await prechecks_due_together(engine, notifier, many, trigger=trigger)
        await cancel_all(engine, many)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def main(*, dms: int, agents: int, latency_ms: float, upload_s: float, rounds: int, trigger: str,
         trace: bool, profile_to: str | None = None, loop: LoopChoice = "auto") -> int:
    configs = [sim_config(agents=agents, latency_ms=latency_ms, upload_s=upload_s) for _ in range(dms)]
    ours, theirs = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(target=serve_fleet, args=(configs, theirs),
                                                          daemon=True)
    server.start()
    try:
        if not ours.poll(60):
            print("the simulated DMSs did not start within 60 s", file=sys.stderr)
            return 2
        urls = list(ours.recv())
        _SIMULATORS[:] = [server.pid] if server.pid is not None else []
        profile = cProfile.Profile() if profile_to else None
        # The bot's loop as `dm-upgrade run` chooses it (bot.event_loop); the simulators keep asyncio's own.
        code = event_loop.run(measure(urls, agents=agents, latency_ms=latency_ms, rounds=rounds,
                                      trigger=trigger, trace=trace, profile=profile), choice=loop)
        if profile is not None and profile_to:
            profile.dump_stats(profile_to)  # the fleet rounds only (python -m pstats PATH)
        return code
    finally:
        ours.send("stop")
        server.join(timeout=20)
        if server.is_alive():
            server.terminate()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dms", type=int, default=50, help="simulated DMSs (named targets)")
    parser.add_argument("--agents", type=int, default=10, help="agents per DMS")
    parser.add_argument("--latency-ms", type=float, default=100.0, help="each DMS's answer delay (real)")
    parser.add_argument("--upload-s", type=float, default=0.5,
                        help="real seconds an upload with its prerequisite checks takes on a DMS")
    parser.add_argument("--rounds", type=int, default=2, help="measurements of each; medians are compared")
    parser.add_argument("--trigger", choices=("scheduler", "direct"), default="scheduler")
    parser.add_argument("--tracemalloc", action="store_true", help="one more fleet round under tracemalloc")
    parser.add_argument("--profile", metavar="PATH", help="cProfile the fleet rounds into PATH (slower)")
    parser.add_argument("--verbose", action="store_true", help="the bot's log at INFO")
    parser.add_argument("--loop", choices=("auto", "uvloop", "asyncio"), default="auto",
                        help="the bot's event loop (EVENT_LOOP); auto: uvloop where installed")
    options = parser.parse_args()
    logging.basicConfig(level=logging.INFO if options.verbose else logging.WARNING)
    sys.exit(main(dms=max(1, options.dms), agents=max(1, options.agents), latency_ms=options.latency_ms,
                  upload_s=options.upload_s,
                  rounds=max(1, options.rounds), trigger=options.trigger, trace=options.tracemalloc,
                  profile_to=options.profile, loop=options.loop))
