"""Slack Web API calls per channel per second while a 24-agent cluster goes through a 3-hop upgrade.

The real runtime (``bot.app.Runtime``) with its in-process simulated DMS (DMS_URL=simulated, 24 agents,
10.1.0 CU5 -> 10.4: three hops) at high speed, and the fake Slack Web API recording every call with its
arrival time. The plan goes through the whole workflow (plan, window, checklist, pre-check, approval,
execution, verification); the engine's clock is moved by hand to open the window. The Slack outbox merges
edits of one message that are still waiting and its sender's pacer allows one call per second per
channel, so the count in any 1-second sliding window must never exceed 1, however many progress events
the upgrade produces.

    python benchmarks/bench_rate.py [--agents 24] [--speed 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from a checkout without installing

from benchmarks.helpers import EventCounter
from bot.app import Runtime
from bot.console.fake_slack import FakeSlack
from bot.settings import Settings
from workflow.store.states import PlanState

CHANNEL = "C0BENCH"
REQUESTER, APPROVER = "UREQ", "UAPP"
TARGET_MAX_PER_SECOND = 1


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2030, 5, 4, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def max_in_window(times: list[float], *, width: float = 1.0) -> int:
    """The most calls that fall in any half-open window [t, t + width)."""
    ordered = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(ordered):
        while ordered[start] <= moment - width:
            start += 1
        best = max(best, end - start + 1)
    return best


async def run(args: argparse.Namespace) -> int:
    slack = FakeSlack()
    slack_url = await slack.start()
    clock = Clock()
    events = EventCounter()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            _env_file=None, dms_url="simulated", database_url=f"sqlite:///{tmp}/bench.db",
            slack_api_url=slack_url, slack_bot_token="xoxb-bench", slack_signing_secret="bench",
            sim_agents=args.agents, sim_failover_pairs=2, sim_version="10.1.0 CU5", sim_speed=args.speed,
            dms_poll_seconds=60.0, upgrade_approvers=[APPROVER], blocking_alarm_severities=["Critical"],
        )
        async with Runtime(settings, clock=clock, extra_notifiers=(events,)) as runtime:
            engine = runtime.engine
            snap = await engine.create_plan(
                target="10.4", track=None, window_start=clock.now + timedelta(hours=30), window_minutes=480,
                requester=REQUESTER, channel=CHANNEL,
            )
            hops = ", ".join(str(h.version) for h in snap.hops)
            print(f"plan #{snap.id}: {snap.current_version} -> {snap.target_version}, "
                  f"{len(snap.hops)} hops ({hops}), {args.agents} agents")
            for item in snap.open_required_manual:
                await engine.tick(plan_id=snap.id, key=item.key, actor=REQUESTER, checked=True)
            clock.now += timedelta(hours=6)
            await engine.on_precheck_due(snap.id)
            clock.now += timedelta(hours=24, minutes=1)
            await engine.on_approval_due(snap.id)
            started = time.monotonic()
            await engine.approve(plan_id=snap.id, actor=APPROVER)
            await engine.settle(timeout_s=300)
            upgrade_s = time.monotonic() - started
            state = engine.status(plan_id=snap.id).state
            await runtime.settle(timeout_s=600)
            drained_s = time.monotonic() - started
            notifier = runtime.notifier
            coalesced = notifier.drawn - notifier.sender.sent - notifier.sender.refusals
    await slack.stop()

    return report(slack, kinds=events.kinds, state=state, upgrade_s=upgrade_s, drained_s=drained_s,
                  coalesced=coalesced)


def report(
    slack: FakeSlack, *, kinds: Counter[str], state: PlanState, upgrade_s: float, drained_s: float,
    coalesced: int
) -> int:
    """Print the calls per channel and per second; 0 when within the target and the upgrade is done."""
    per_channel: dict[str, list[float]] = defaultdict(list)
    for call in slack.calls:
        channel = call.params.get("channel")
        if channel:
            per_channel[str(channel)].append(call.at)
    methods = Counter(call.method for call in slack.calls)
    print(f"final state: {state.value}; upgrade took {upgrade_s:.1f} s, the last Slack call went out after "
          f"{drained_s:.1f} s")
    top_kinds = ", ".join(f"{k} {v}" for k, v in kinds.most_common(6))
    by_method = ", ".join(f"{m} {n}" for m, n in methods.most_common())
    print(f"engine events: {sum(kinds.values())} ({top_kinds}, ...)")
    print(f"total Web API calls: {len(slack.calls)} ({by_method}); "
          f"messages merged in the outbox: {coalesced}")
    worst = 0
    for channel, times in sorted(per_channel.items()):
        ordered = sorted(times)
        gaps = [b - a for a, b in itertools.pairwise(ordered)]
        most = max_in_window(times)
        worst = max(worst, most)
        print(f"channel {channel}: {len(times)} calls, max {most} in any 1-s sliding window, "
              f"smallest gap {min(gaps) if gaps else float('nan'):.3f} s")
    ok = worst <= TARGET_MAX_PER_SECOND and state is PlanState.DONE
    print(f"max calls per channel per second: {worst} (target <= {TARGET_MAX_PER_SECOND}): "
          f"{'OK' if ok else 'ABOVE TARGET' if worst > TARGET_MAX_PER_SECOND else 'UPGRADE NOT DONE'}")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agents", type=int, default=24)
    parser.add_argument("--speed", type=float, default=3000.0, help="simulated seconds per real second")
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())


