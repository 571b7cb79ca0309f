"""What the bot adds to a whole multi-hop upgrade beyond what the DMS itself takes.

A simulated DMS (``--agents`` agents on 10.2.0 CU5, served by a child process: another machine in real life)
runs at speed 1 with short simulated steps: each hop is the orchestrator script's upgrade job, which uploads
the package and runs its prerequisite checks (``--upload-s``), then every agent stops, installs and starts
(``--stop-s``, ``--install-s``, ``--startup-s``). The bot is the whole app (``bot.app.Runtime``, the script
driver) driven through the console's fake Slack (``bot.console``), as a person in Slack would: the plan
10.2.0 CU5 -> 10.5 (three hops), its manual items ticked, ``window now`` (pre-check, then the approval
request), and the approver's click on Approve, timed from the moment it is sent.

Two runs, one after the other in this process:

* *quick*: no latency, the bot polls every ``--quick-poll-s``, Slack pacing off;
* *production*: each DMS answer ``--latency-ms`` late, the production poll interval (DMS_POLL_SECONDS'
  default) and Slack's one message per second per channel (the ChannelPacer as in production).

For each hop: the bot's recorded time (``plan_hop``: upload started to wait done) against the simulator's own
time for the same steps (the job's start to the last agent running, from the agents' upgrade start that
``/_sim/state`` reports and the configured step times), the difference split into before the DMS's trigger
(the bot's upload and upgrade steps), after the last agent runs (until the bot noticed: polling) and the gap
from the previous hop. Then the click on Approve to the first trigger, and the last agent running to "Upgrade
done" posted in Slack. Target: at most one poll interval + 5 s per hop.

    python benchmarks/bench_hop_overhead.py [--agents 4] [--latency-ms 100] [--quick-poll-s 1]
                                            [--only quick|production]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import multiprocessing
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from a checkout without installing

import httpx
from sqlmodel import col, select

from bot import event_loop
from bot.console.commands import Console
from bot.console.fake_slack_state import FakeEvent
from bot.console.runner import ConsoleOptions, console_settings, make_runtime
from bot.console.session import ConsoleSession
from bot.settings import Settings
from simulator import SimulatedDms, SimulatorConfig
from workflow.settings import WorkflowSettings
from workflow.store.states import PlanState
from workflow.store.tables import Approval, PlanHop

START_VERSION, TARGET = "10.2.0 CU5", "10.5"
PER_HOP_SLACK_S = 5.0  # the target: one poll interval + this, per hop
REQUESTER = "U0ALICE"


@dataclass(frozen=True)
class Steps:
    """The simulated DMS's step times, in real seconds (speed 1)."""

    upload_s: float
    stop_s: float
    install_s: float
    startup_s: float

    @property
    def agents_s(self) -> float:
        return self.stop_s + self.install_s + self.startup_s


@dataclass(frozen=True)
class RunSpec:
    name: str
    latency_ms: float
    poll_s: float
    pacer_s: float


# ---------------------------------------------------------------------------------------- the simulator


def serve(config: SimulatorConfig, pipe: Connection) -> None:
    async def run() -> None:
        simulator = SimulatedDms(config)
        pipe.send(await simulator.start())
        await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
        await simulator.stop()

    asyncio.run(run())


def sim_config(*, agents: int, latency_ms: float, steps: Steps) -> SimulatorConfig:
    minutes = 1 / 60  # at speed 1 a simulated minute is a real one
    return SimulatorConfig(agents=agents, failover_pairs=1, version=START_VERSION, latency_ms=latency_ms,
                           speed=1.0, upload_minutes=steps.upload_s * minutes,
                           stop_minutes=steps.stop_s * minutes,
                           install_minutes=steps.install_s * minutes,
                           startup_minutes=steps.startup_s * minutes, helper_minutes=steps.upload_s * minutes)


class AgentStarts:
    """Polls the simulator's state: the distinct moments its agents began an upgrade (one per hop)."""

    def __init__(self, url: str) -> None:
        self._url = url.rstrip("/") + "/_sim/state"
        self.starts: list[datetime] = []

    async def follow(self) -> None:
        async with httpx.AsyncClient(timeout=5.0) as http:
            while True:
                try:
                    state = (await http.get(self._url)).json()
                except httpx.HTTPError:
                    state = {"agents": []}
                for agent in state["agents"]:
                    started = agent.get("upgrade_started")
                    if started:
                        moment = datetime.fromisoformat(started.replace("Z", "+00:00"))
                        if moment not in self.starts:
                            self.starts.append(moment)
                await asyncio.sleep(0.25)


# ---------------------------------------------------------------------------------------- the bot


class DonePosted:
    """The fake Slack's events: when "Upgrade done" was first posted."""

    def __init__(self) -> None:
        self.at: datetime | None = None

    def __call__(self, event: FakeEvent) -> None:
        if self.at is None and event.message is not None and "Upgrade done" in event.message.text:
            self.at = datetime.now(UTC)


def bot_settings(*, folder: Path, dms_url: str, poll_s: float) -> Settings:
    base = Settings(_env_file=None, dms_url=dms_url, database_url=f"sqlite:///{folder / 'hops.db'}",
                    dms_driver="script", dms_poll_seconds=poll_s, dms_time_scale=1.0,
                    dms_timeout_seconds=10.0,
                    agent_startup_minutes=1.0, blocking_alarm_severities=["Critical"], log_level="WARNING")
    return console_settings(base, options=ConsoleOptions())


async def whole_upgrade(session: ConsoleSession, *, timeout_s: float) -> tuple[datetime, int]:
    """Plan, tick, window now, approve; returns when the approval click was sent and the plan's id."""
    out = io.StringIO()
    console = Console(session, out=out, interactive=False, timeout_s=timeout_s)
    engine = session.runtime.engine
    if not await console.handle(f"/dm-upgrade plan {TARGET}"):
        raise RuntimeError("the plan was refused: " + out.getvalue()[-2000:])
    plan_id = max(plan.id for plan in engine.history(limit=1))
    for item in engine.status(plan_id=plan_id).open_required_manual:
        await engine.tick(plan_id=plan_id, key=item.key, actor=REQUESTER, checked=True)
    await console.handle("window now")
    state = engine.status(plan_id=plan_id).state
    if state is not PlanState.AWAITING_APPROVAL:
        raise RuntimeError(f"plan #{plan_id} is {state.value}, not awaiting approval")
    await console.handle("/as bob")
    clicked = datetime.now(UTC)
    if not await console.handle("click 1"):
        raise RuntimeError("the approval failed: " + out.getvalue()[-2000:])
    return clicked, plan_id


# ---------------------------------------------------------------------------------------- one run


@dataclass(frozen=True)
class HopTimes:
    started: datetime  # the bot's upload step began
    done: datetime  # the bot's wait step ended: it saw every agent running the hop's version
    trigger: datetime  # the simulator's upgrade job began (its upload and checks, then the agents)
    running: datetime  # the simulator's last agent ran the hop's version


@dataclass(frozen=True)
class RunResult:
    spec: RunSpec
    steps: Steps
    hops: list[HopTimes]
    clicked: datetime
    approved: datetime
    done_posted: datetime

    @property
    def budget_s(self) -> float:
        return self.spec.poll_s + PER_HOP_SLACK_S


async def one_run(spec: RunSpec, *, agents: int, steps: Steps) -> RunResult:
    ours, theirs = multiprocessing.Pipe()
    config = sim_config(agents=agents, latency_ms=spec.latency_ms, steps=steps)
    server = multiprocessing.get_context("spawn").Process(target=serve, args=(config, theirs), daemon=True)
    server.start()
    try:
        url = str(await asyncio.get_running_loop().run_in_executor(None, ours.recv))
        with tempfile.TemporaryDirectory(prefix="bench-hops-") as name:
            folder = Path(name)
            session = ConsoleSession(bot_settings(folder=folder, dms_url=url, poll_s=spec.poll_s),
                                     make_runtime=make_runtime, pacer_interval_s=spec.pacer_s,
                                     files_dir=folder / "files")
            done = DonePosted()
            session.fake.on_event(done)
            starts = AgentStarts(url)
            follower = asyncio.create_task(starts.follow())
            await session.start()
            try:
                clicked, plan_id = await whole_upgrade(session, timeout_s=900.0)
                await _until(lambda: done.at is not None, timeout_s=900.0)
                hops, approved = _recorded(session, plan_id)
            finally:
                follower.cancel()
                await session.stop()
    finally:
        ours.send("stop")
        server.join(timeout=10)
    if len(starts.starts) != len(hops) or done.at is None:
        raise RuntimeError(f"{len(starts.starts)} upgrade starts seen on the simulator for {len(hops)} hops")
    upload, agents_s = timedelta(seconds=steps.upload_s), timedelta(seconds=steps.agents_s)
    times = [HopTimes(started=started, done=finished, trigger=begun - upload, running=begun + agents_s)
             for (started, finished), begun in zip(hops, sorted(starts.starts), strict=True)]
    return RunResult(spec=spec, steps=steps, hops=times, clicked=clicked, approved=approved,
                     done_posted=done.at)


async def _until(condition: Callable[[], bool], *, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not done after {timeout_s:g} s")
        await asyncio.sleep(0.05)


def _recorded(session: ConsoleSession, plan_id: int) -> tuple[list[tuple[datetime, datetime]], datetime]:
    """Each hop's (upload started, wait done) and when the approval was recorded, from the database."""
    with session.runtime.engine.session() as db:
        query = select(PlanHop).where(PlanHop.plan_id == plan_id).order_by(col(PlanHop.position))
        rows = db.exec(query).all()
        approval = db.exec(select(Approval).where(Approval.plan_id == plan_id)).one()
        hops = [(_aware(row.upload_started_at), _aware(row.wait_done_at)) for row in rows]
        return hops, _aware(approval.decided_at)


def _aware(moment: datetime | None) -> datetime:
    if moment is None:
        raise RuntimeError("a hop step has no time recorded")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# ---------------------------------------------------------------------------------------- the report


def report(result: RunResult) -> bool:
    spec, steps, hops = result.spec, result.steps, result.hops
    print(f"\n{spec.name}: speed 1, {spec.latency_ms:g} ms DMS latency, poll every {spec.poll_s:g} s, Slack "
          f"pacing {spec.pacer_s:g} s; a hop on the DMS = upload and checks {steps.upload_s:g} s + agents "
          f"stop, install and start {steps.agents_s:g} s")
    print("  hop  bot recorded  simulator  overhead  = before trigger + after last agent running "
          "+ gap before")
    overheads: list[float] = []
    previous_done: datetime | None = None
    for index, hop in enumerate(hops, start=1):
        recorded, own = _s(hop.done - hop.started), _s(hop.running - hop.trigger)
        gap = _s(hop.started - previous_done) if previous_done is not None else 0.0
        overheads.append(recorded - own + gap)
        print(f"  {index:3d}  {recorded:10.2f} s  {own:7.2f} s  {overheads[-1]:6.2f} s  = "
              f"{_s(hop.trigger - hop.started):6.2f} s + {_s(hop.done - hop.running):6.2f} s + {gap:5.2f} s")
        previous_done = hop.done
    total, worst = sum(overheads), max(overheads)
    verdict = "OK" if worst <= result.budget_s else "TOO SLOW"
    print(f"  total overhead {total:.2f} s over {len(hops)} hops ({total / len(hops):.2f} s per hop, worst "
          f"{worst:.2f} s; target per hop <= poll {spec.poll_s:g} s + {PER_HOP_SLACK_S:g} s = "
          f"{result.budget_s:g} s): {verdict}")
    first, last = hops[0], hops[-1]
    print(f"  approval click -> first DMS trigger {_s(first.trigger - result.clicked):.2f} s (approval "
          f"recorded after {_s(result.approved - result.clicked):.2f} s, hop 1's upload step began after "
          f"{_s(first.started - result.clicked):.2f} s)")
    print(f"  last agent running -> 'Upgrade done' posted {_s(result.done_posted - last.running):.2f} s "
          f"(the bot saw it after {_s(last.done - last.running):.2f} s; verification and the post "
          f"{_s(result.done_posted - last.done):.2f} s)")
    return worst <= result.budget_s


def _s(delta: timedelta) -> float:
    return delta.total_seconds()


async def main(*, agents: int, latency_ms: float, quick_poll_s: float, only: str | None, steps: Steps) -> int:
    production_poll = WorkflowSettings.model_fields["dms_poll_seconds"].default
    specs = [RunSpec("quick", latency_ms=0.0, poll_s=quick_poll_s, pacer_s=0.0),
             RunSpec("production", latency_ms=latency_ms, poll_s=float(production_poll), pacer_s=1.0)]
    ok = True
    for spec in specs:
        if only is None or spec.name == only:
            ok = report(await one_run(spec, agents=agents, steps=steps)) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=4, help="agents of the simulated DMS")
    parser.add_argument("--latency-ms", type=float, default=100.0, help="the production run's DMS latency")
    parser.add_argument("--quick-poll-s", type=float, default=1.0, help="the quick run's poll interval")
    parser.add_argument("--upload-s", type=float, default=3.0, help="a hop's upload with its checks")
    parser.add_argument("--stop-s", type=float, default=1.0)
    parser.add_argument("--install-s", type=float, default=3.0)
    parser.add_argument("--startup-s", type=float, default=6.0)
    parser.add_argument("--only", choices=("quick", "production"))
    parser.add_argument("--verbose", action="store_true", help="the bot's log at INFO")
    options = parser.parse_args()
    logging.basicConfig(level=logging.INFO if options.verbose else logging.WARNING)
    sys.exit(event_loop.run(main(  # the bot's loop as `dm-upgrade run` chooses it
        agents=max(1, options.agents), latency_ms=options.latency_ms, quick_poll_s=options.quick_poll_s,
        only=options.only, steps=Steps(upload_s=options.upload_s, stop_s=options.stop_s,
                                       install_s=options.install_s, startup_s=options.startup_s))))
