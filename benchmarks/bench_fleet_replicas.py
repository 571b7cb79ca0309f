"""``bench_fleet`` with two bot replicas on PostgreSQL sharing the due pre-checks, against one DMS alone.

The fleet and measurement of ``bench_fleet`` (``--dms`` simulated DMSs of ``--agents`` agents served by one
child process; from the pre-checks' due instant to the last CheckFinished, the fleet against one DMS alone),
but the bot is two OS processes, replicas ``a`` and ``b``, each its own ``UpgradeEngine`` and APScheduler, on
one PostgreSQL database (made on the server of ``--database-url``, default ``$DMU_TEST_POSTGRES_URL``, and
dropped after). Each replica's scheduler runs the due jobs of the shared job store, claiming each run in the
lease table first (``workflow.scheduler``). Plans are made on ``a``, windows set on ``a`` (one campaign) or
alternately on ``a`` and ``b`` (``--windows-on both``); then every replica's scheduler is woken, as its
replica pass does every third of a lease length, well within the pre-check's lead time in production. Each
round: *one replica* (``b``'s scheduler paused, as a stopping replica's): one DMS alone, then the fleet;
then *two replicas*: the same. Printed: the medians side by side, the ratios and the target (two replicas'
fleet within 1.2x of their one DMS); the pre-checks' split between the replicas; whether each ran exactly
once (events per plan, ``check_run`` rows, run claims); CPU seconds of each replica, the simulator, the
PostgreSQL server and the whole machine (the rest: this driver, other work) from the due instant to the last
CheckFinished; when the last pre-check started after the due instant. Exit status 0 only if the target is
met and no pre-check ran twice or never. PostgreSQL needs its driver: ``pip install 'dm-upgrade[postgres]'``.

    source .ci/postgres && start_postgres && python benchmarks/bench_fleet_replicas.py [--dms 50]
        [--agents 10] [--rounds 2] [--latency-ms 100] [--upload-s 0.5] [--windows-on a|both]
        [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import queue
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from a checkout without installing

from sqlalchemy import create_engine, make_url, text
from sqlmodel import col, select

from benchmarks import bench_fleet as fleet
from bot import event_loop
from dms.catalog import load_catalog
from workflow.dms_access import DmsAccess
from workflow.engine import UpgradeEngine
from workflow.events import CheckFinished, CheckStarted, Event
from workflow.model.clock import utc_now
from workflow.settings import WorkflowSettings
from workflow.store import database
from workflow.store.tables import CheckRun, Lease

TARGET_RATIO = 1.2
SPAWN = multiprocessing.get_context("spawn")
GRACE_S, ROUND_TIMEOUT_S = 2.0, 180.0  # GRACE_S after the last CheckFinished: for a second run to show
Record = tuple[str, str, int, float]  # replica, "started" | "finished", plan id, time.monotonic() (shared)


@dataclass
class Forwarder:
    """A replica's notifier: its pre-checks' start and end, sent to the driving process."""

    name: str
    events: Any

    async def notify(self, event: Event) -> None:
        if isinstance(event, CheckStarted | CheckFinished) and event.kind == "pre":
            what = "started" if isinstance(event, CheckStarted) else "finished"
            self.events.put((self.name, what, event.plan_id, time.monotonic()))


def build_replica(folder: Path, url: str, urls: list[str], notifier: Forwarder) -> UpgradeEngine:
    """``bench_fleet.build_engine``'s engine, on the shared database (it builds its own SQLite one)."""
    settings = WorkflowSettings(
        _env_file=None, dms_targets_file=fleet.targets_file(folder, urls), dms_user=fleet.USER,
        dms_password=fleet.PASSWORD, dms_driver="script", dms_timeout_seconds=30.0, dms_retries=1,
        precheck_lead_hours=fleet.LEAD_HOURS, blocking_alarm_severities=["Critical"], dms_time_scale=60.0)
    return UpgradeEngine(settings=settings, db=database.make_engine(url), catalog=load_catalog(),
                         notifier=notifier, approvers=fleet.NoApprovers(),
                         dms_access=DmsAccess(settings=settings), operators=fleet.NoApprovers())


@dataclass
class ReplicaCommands:
    """What the driving process asks of a replica, one command at a time over its pipe."""

    engine: UpgradeEngine

    async def plans(self, names: list[str]) -> list[int]:
        return await fleet.plans_for(self.engine, names)

    async def windows(self, plan_ids: list[int], due: datetime) -> None:
        for plan_id in plan_ids:
            await self.engine.set_window(plan_id=plan_id, start=due + timedelta(hours=fleet.LEAD_HOURS),
                                         minutes=240, actor=fleet.REQUESTER)

    async def cancel(self, plan_ids: list[int]) -> None:
        await fleet.cancel_all(self.engine, plan_ids)

    async def scheduler(self, action: str) -> None:  # pause (jobs are stored, none runs here), resume, wakeup
        {"pause": self.engine.scheduler.pause, "resume": self.engine.scheduler.resume,
         "wakeup": self.engine.scheduler.wakeup}[action]()


def replica_main(name: str, url: str, urls: list[str], pipe: Connection, events: Any) -> None:
    """A replica's process: an engine with its scheduler, serving commands until told to stop."""
    async def run() -> None:
        with tempfile.TemporaryDirectory(prefix=f"bench-replica-{name}-") as folder, database.patience():
            engine = build_replica(Path(folder), url, urls, Forwarder(name, events))
            await engine.start()
            commands, loop = ReplicaCommands(engine), asyncio.get_running_loop()
            pipe.send(("ok", os.getpid()))
            try:
                while (request := await loop.run_in_executor(None, pipe.recv))[0] != "stop":
                    command, args = request
                    try:
                        pipe.send(("ok", await getattr(commands, command)(*args)))
                    except Exception as exc:
                        pipe.send(("error", f"{command}: {type(exc).__name__}: {exc}"))
            finally:
                await engine.stop()
                engine.db.dispose()

    event_loop.run(run())  # a replica's loop as `dm-upgrade run` chooses it


class Replica:
    """The driving process's handle on a replica's process."""

    def __init__(self, name: str, url: str, urls: list[str], events: Any) -> None:
        self.name = name
        self.pipe, theirs = SPAWN.Pipe()
        self.process = SPAWN.Process(target=replica_main, args=(name, url, urls, theirs, events), daemon=True)
        self.process.start()
        self.pid: int = self.reply(timeout_s=120.0)

    def send(self, command: str, *args: Any) -> None:
        self.pipe.send((command, args))

    def reply(self, *, timeout_s: float = 600.0) -> Any:
        if not self.pipe.poll(timeout_s):
            raise TimeoutError(f"replica {self.name} did not answer within {timeout_s:g} s")
        if (answer := self.pipe.recv())[0] != "ok":
            raise RuntimeError(f"replica {self.name}: {answer[1]}")
        return answer[1]

    def call(self, command: str, *args: Any) -> Any:
        self.send(command, *args)
        return self.reply()

    def stop(self) -> None:
        self.send("stop")
        self.process.join(timeout=30)
        if self.process.is_alive():
            self.process.terminate()


@dataclass
class RoundResult:
    elapsed: float  # due instant -> the last CheckFinished
    last_start: float  # due instant -> the last CheckStarted
    cpu: dict[str, float]  # seconds from the due instant to the last CheckFinished, per process and machine
    finished_by: Counter[str]  # CheckFinished per replica
    twice: list[int]  # plans with more than one CheckStarted or CheckFinished
    never: list[int]  # plans without a CheckFinished


def _ticks(pid: int | str, *, ended_children: bool = False) -> tuple[int, int]:
    """(parent pid, CPU ticks) of a process, from /proc (Linux)."""
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()  # [11:15]: u, s, cu, cs time
    return int(stat[1]), sum(int(ticks) for ticks in stat[11:15 if ended_children else 13])


def cpu_seconds(pids: dict[str, int], postmaster: int) -> dict[str, float]:
    """CPU seconds so far of each process named, of the PostgreSQL server (the postmaster and its children,
    ended or not; 0 if not on this machine), and busy ones of the whole machine."""
    tick = os.sysconf("SC_CLK_TCK")
    seconds = {name: _ticks(pid)[1] / tick for name, pid in pids.items()}
    server = _ticks(postmaster, ended_children=True)[1] if postmaster else 0
    for entry in Path("/proc").glob("[0-9]*") if postmaster else ():
        with contextlib.suppress(OSError, ValueError):  # ended meanwhile
            parent, ticks = _ticks(entry.name)
            server += ticks if parent == postmaster else 0
    seconds["postgres"] = server / tick
    total = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    seconds["machine"] = sum(total[:3] + total[5:7]) / tick  # user, nice, system, irq, softirq
    return seconds


def collect(events: Any, plan_ids: set[int], *, timeout_s: float, until_finished: bool) -> list[Record]:
    """The replicas' events for these plans for ``timeout_s``, or until each finished."""
    records: list[Record] = []
    finished: set[int] = set()
    deadline = time.monotonic() + timeout_s
    while (remaining := deadline - time.monotonic()) > 0 and not (until_finished and plan_ids <= finished):
        with contextlib.suppress(queue.Empty):
            record: Record = events.get(timeout=min(1.0, remaining))
            if record[2] in plan_ids:
                records.append(record)
                finished.update([record[2]] if record[1] == "finished" else [])
    return records


def due_round(setup: Setup, plan_ids: list[int]) -> RoundResult:
    """Windows (set by the ``setters``) with the plans' pre-checks due at one instant; the schedulers fire."""
    due = utc_now() + timedelta(seconds=fleet.DUE_AFTER_S + fleet.DUE_AFTER_PER_PLAN_S * len(plan_ids))
    due_monotonic = time.monotonic() + (due - utc_now()).total_seconds()
    for index, replica in enumerate(setup.setters):  # concurrently
        replica.send("windows", plan_ids[index::len(setup.setters)], due)
    _ = [replica.reply() for replica in setup.setters]
    _ = [replica.call("scheduler", "wakeup") for replica in setup.runners]
    if (ahead := due_monotonic - time.monotonic()) <= 0:
        raise RuntimeError(f"setting the windows took {-ahead:.1f} s past the due instant: raise DUE_AFTER_S")
    time.sleep(ahead)  # no pre-check starts before its due instant; the queue keeps what comes meanwhile
    pids = {replica.name: replica.pid for replica in setup.runners} | {"simulator": setup.simulator_pid}
    before = cpu_seconds(pids, setup.postmaster)
    records = collect(setup.events, set(plan_ids), timeout_s=ROUND_TIMEOUT_S, until_finished=True)
    cpu = {name: value - before[name] for name, value in cpu_seconds(pids, setup.postmaster).items()}
    records += collect(setup.events, set(plan_ids), timeout_s=GRACE_S, until_finished=False)
    started = Counter(plan for _, what, plan, _ in records if what == "started")
    finished = Counter(plan for _, what, plan, _ in records if what == "finished")
    nan = float("nan")  # a round where nothing ran
    return RoundResult(
        elapsed=max((at for _, what, _, at in records if what == "finished"), default=nan) - due_monotonic,
        last_start=max((at for _, what, _, at in records if what == "started"), default=nan) - due_monotonic,
        cpu=cpu, finished_by=Counter(name for name, what, _, _ in records if what == "finished"),
        twice=sorted(plan for plan in plan_ids if started[plan] > 1 or finished[plan] > 1),
        never=sorted(plan for plan in plan_ids if finished[plan] == 0))


@dataclass
class Setup:
    """One side of the comparison: which replicas run the jobs, which set the windows; its plans, rounds."""

    name: str
    runners: list[Replica]
    setters: list[Replica]
    events: Any  # the replicas' (one queue for all)
    simulator_pid: int
    postmaster: int
    plan_ids: list[int] = field(default_factory=list)
    alone: list[RoundResult] = field(default_factory=list)
    fleet: list[RoundResult] = field(default_factory=list)


def measure_round(setup: Setup, names: list[str]) -> None:
    for target, results in ((names[:1], setup.alone), (names, setup.fleet)):
        plans = setup.runners[0].call("plans", target)
        setup.plan_ids.extend(plans)
        results.append(due_round(setup, plans))
        setup.runners[0].call("cancel", plans)


@contextmanager
def throwaway_database(server: str) -> Iterator[tuple[str, int]]:
    """A new database on ``server`` for this run, migrated, and the server's postmaster pid (0 if not on this
    machine); dropped afterwards (as ``tests/support/postgres.py``, which a benchmark does not import)."""
    name, postmaster = f"bench_replicas_{os.urandom(6).hex()}", 0
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
        with contextlib.suppress(OSError):
            postmaster = _ticks(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())[0]
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    try:
        database.migrate(db := database.make_engine(url))  # once, before the replicas start
        db.dispose()
        yield url, postmaster
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def runs_in_database(url: str, plan_ids: list[int]) -> tuple[Counter[int], Counter[int]]:
    """Per plan: its pre-check's ``check_run`` rows, and the run claims (job:plan-<id>-precheck@<at>)."""
    db = database.make_engine(url)
    try:
        with database.session(db) as session:
            rows = session.exec(select(CheckRun.plan_id).where(
                CheckRun.kind == "precheck", col(CheckRun.plan_id).in_(plan_ids))).all()
            claims = session.exec(select(Lease.name).where(col(Lease.name).like("job:%-precheck@%"))).all()
    finally:
        db.dispose()
    return Counter(plan for plan in rows if plan is not None), Counter(int(n.split("-")[1]) for n in claims)


def _median(results: list[RoundResult], value: str) -> float:
    return statistics.median(getattr(result, value) for result in results)


def _row(label: str, setups: list[Setup], cell: Any) -> None:
    print(f"{label:46}" + "".join(f"{cell(setup):>26}" for setup in setups))


def report(setups: list[Setup], options: argparse.Namespace) -> bool:
    dms = options.dms
    print(f"fleet on PostgreSQL: {dms} simulated DMSs x {options.agents} agents, {options.latency_ms:g} ms "
          f"latency per request; pre-checks fired by each replica's APScheduler; the fleet's windows set on "
          f"{'replica a' if options.windows_on == 'a' else 'a and b alternately'}; {os.cpu_count()} cores")
    _row("", setups, lambda s: s.name)
    for label, side in (("one DMS's pre-check alone, median (s)", "alone"), ("the fleet's, median", "fleet")):
        _row(label, setups, lambda s, side=side: f"{_median(getattr(s, side), 'elapsed'):.3f}")
        _row("  rounds", setups, lambda s, side=side: ", ".join(f"{r.elapsed:.3f}" for r in getattr(s, side)))
    ratios = [_median(s.fleet, "elapsed") / _median(s.alone, "elapsed") for s in setups]
    _row("ratio fleet / one DMS", setups, lambda s: f"{ratios[setups.index(s)]:.2f}x")
    _row("the last started after due, median (s)", setups, lambda s: f"{_median(s.fleet, 'last_start'):.3f}")
    for setup in setups:
        for index, result in enumerate(setup.fleet, start=1):
            cpu = ", ".join(f"{name} {seconds:.2f}" for name, seconds in result.cpu.items())
            bot = sum(seconds for name, seconds in result.cpu.items() if len(name) == 1)  # replicas a, b
            split = ", ".join(f"{name} {count}" for name, count in sorted(result.finished_by.items()))
            print(f"{setup.name}, fleet round {index}: pre-checks finished by {split}; CPU s {cpu} "
                  f"({bot * 1000 / dms:.0f} ms of the bot's per pre-check; {result.elapsed:.2f} s elapsed)")
    two = ratios[-1]
    print(f"two replicas: fleet / one DMS {two:.2f}x (target <= {TARGET_RATIO:g}x): "
          f"{'OK' if two <= TARGET_RATIO else 'TOO SLOW'}; the fleet with two replicas / with one: "
          f"{_median(setups[-1].fleet, 'elapsed') / _median(setups[0].fleet, 'elapsed'):.2f}x")
    return two <= TARGET_RATIO


def report_runs(setups: list[Setup], url: str) -> bool:
    plan_ids = [plan for setup in setups for plan in setup.plan_ids]
    results = [result for setup in setups for result in setup.alone + setup.fleet]
    twice, never = (sorted({plan for r in results for plan in getattr(r, k)}) for k in ("twice", "never"))
    rows, claims = runs_in_database(url, plan_ids)
    rows_off = sorted(plan for plan in plan_ids if rows[plan] != 1)
    claims_off = sorted(plan for plan in plan_ids if claims[plan] != 1)
    print(f"each of {len(plan_ids)} pre-checks ran once? events: {len(twice)} twice {twice[:10]}, "
          f"{len(never)} never {never[:10]}; check_run rows != 1: {len(rows_off)} {rows_off[:10]}; "
          f"run claims != 1: {len(claims_off)} {claims_off[:10]}")
    return not (twice or never or rows_off or claims_off)


@contextmanager
def simulated_fleet(options: argparse.Namespace) -> Iterator[tuple[list[str], int]]:
    """The simulated DMSs' URLs and the pid of the child process serving them (as ``bench_fleet.main``)."""
    config = fleet.sim_config(agents=options.agents, latency_ms=options.latency_ms, upload_s=options.upload_s)
    configs = [config.model_copy() for _ in range(options.dms)]
    ours, theirs = SPAWN.Pipe()
    server = SPAWN.Process(target=fleet.serve_fleet, args=(configs, theirs), daemon=True)
    server.start()
    try:
        if not ours.poll(60):
            raise RuntimeError("the simulated DMSs did not start within 60 s")
        yield list(ours.recv()), server.pid or 0
    finally:
        ours.send("stop")
        server.join(timeout=20)
        if server.is_alive():
            server.terminate()


def main(options: argparse.Namespace) -> int:
    with simulated_fleet(options) as (urls, pid), throwaway_database(options.database_url) as (url, server):
        events: Any = SPAWN.Queue()
        replicas = [a := Replica("a", url, urls, events)]
        try:
            replicas.append(b := Replica("b", url, urls, events))
            one = Setup("one replica (b paused)", [a], [a], events, pid, server)
            setters = [a] if options.windows_on == "a" else [a, b]
            two = Setup("two replicas", [a, b], setters, events, pid, server)
            names = [f"dms-{index:03d}" for index in range(1, len(urls) + 1)]  # as bench_fleet names them
            for _ in range(options.rounds):  # alternate: a burst of load on the machine hits both alike
                b.call("scheduler", "pause")
                measure_round(one, names)
                b.call("scheduler", "resume")
                measure_round(two, names)
            met = report([one, two], options)
            return 0 if report_runs([one, two], url) and met else 1
        finally:
            for replica in replicas:
                replica.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dms", type=int, default=50, help="simulated DMSs (named targets)")
    parser.add_argument("--agents", type=int, default=10, help="agents per DMS")
    parser.add_argument("--latency-ms", type=float, default=100.0, help="each DMS's answer delay (real)")
    parser.add_argument("--upload-s", type=float, default=0.5, help="real seconds an upload takes on a DMS")
    parser.add_argument("--rounds", type=int, default=2, help="measurements of each; medians are compared")
    parser.add_argument("--windows-on", choices=("a", "both"), default="a", help="who sets the windows")
    parser.add_argument("--database-url", default=os.environ.get("DMU_TEST_POSTGRES_URL"),
                        help="PostgreSQL server (default $DMU_TEST_POSTGRES_URL); a throwaway database on it")
    options = parser.parse_args()
    if not options.database_url or make_url(options.database_url).get_backend_name() != "postgresql":
        parser.error("needs a PostgreSQL server: --database-url, or source .ci/postgres && start_postgres")
    sys.exit(main(options))
