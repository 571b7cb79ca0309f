"""What the benchmarks share, kept out of the test suite so a benchmark imports no ``tests`` module:
a signed slash command as Slack sends it, a notifier that counts the engine's events, and the timeline
of a big finished plan."""

from __future__ import annotations

import secrets
import time
from collections import Counter
from datetime import datetime, timedelta
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from dms.estimate import PHASE_DETAILS, PHASE_DETERMINE, PHASE_EXECUTE, PHASE_PRECHECK
from dms.upgrade_path import Estimate, Hop, PackageKind, PhaseEstimate
from dms.versions import parse_version
from workflow.events import Event
from workflow.store.snapshot import CheckRunView, DecisionView, HopView, PlanSnapshot
from workflow.store.states import PlanState
from workflow.store.tables import AgentStatusChange, AuditEvent
from workflow.timeline import Timeline, build_timeline


def signed_slash_command(
    text: str, *, signing_secret: str, user_id: str, channel_id: str, command: str = "/dm-upgrade"
) -> tuple[bytes, dict[str, str]]:
    """(body, headers) of a slash command, form-encoded and signed exactly as Slack does."""
    body = urlencode({
        "token": "bench", "team_id": "T0BENCH", "team_domain": "bench", "channel_id": channel_id,
        "channel_name": "upgrades", "user_id": user_id, "user_name": user_id.lower(), "command": command,
        "text": text, "api_app_id": "A0BENCH", "is_enterprise_install": "false",
        "response_url": "https://hooks.slack.com/commands/T0BENCH/1/bench",
        "trigger_id": f"{secrets.randbelow(10**9)}.{int(time.time())}.bench",
    }).encode()
    timestamp = str(int(time.time()))
    signature = SignatureVerifier(signing_secret).generate_signature(timestamp=timestamp, body=body.decode())
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature or "",
    }
    return body, headers


class EventCounter:
    """A notifier that counts the engine's events by type."""

    def __init__(self) -> None:
        self.kinds: Counter[str] = Counter()

    async def notify(self, event: Event) -> None:
        self.kinds[type(event).__name__] += 1


def big_plan_timeline(*, hops: int, agents: int, start: datetime) -> Timeline:
    """The timeline of a finished upgrade of ``hops`` hops on ``agents`` agents, as the database would
    hold it: every hop's steps, every agent restarting in every hop (a few disconnected for a while)."""
    per_hop = timedelta(minutes=25)
    views, changes = [], []
    for position in range(hops):
        begin = start + position * per_hop
        version = parse_version(f"10.{position // 4 + 1}.0 CU{position}")
        hop = Hop(version=version, package=PackageKind.FULL if position % 4 == 0 else PackageKind.CU,
                  name=f"DataMiner {version}.dmupgrade", rule="bench", rule_url="https://docs.dataminer.services/")
        views.append(HopView.model_validate({
            **hop.model_dump(mode="json"), "id": position + 1, "position": position,
            "upload_started_at": begin, "upload_done_at": begin + timedelta(minutes=4),
            "upgrade_started_at": begin + timedelta(minutes=4),
            "upgrade_done_at": begin + timedelta(minutes=5),
            "wait_started_at": begin + timedelta(minutes=5), "wait_done_at": begin + timedelta(minutes=22),
        }))
        for agent in range(1, agents + 1):
            down = begin + timedelta(minutes=6, seconds=agent * 3)
            states = [("Disconnected", down), ("Starting", down + timedelta(minutes=3 + agent % 4)),
                      ("Running", down + timedelta(minutes=9 + agent % 7))]
            if agent % 17 == 0:
                states.insert(2, ("Disconnected", down + timedelta(minutes=7)))
            changes += [AgentStatusChange(plan_id=1, at=at, agent_id=agent, agent_name=f"DMA{agent:02d}",
                                          status=status, version=str(version)) for status, at in states]
    end = start + hops * per_hop
    phases = tuple(PhaseEstimate(phase=name, low_minutes=low, high_minutes=high) for name, low, high in (
        (PHASE_DETERMINE, 30, 30), (PHASE_DETAILS, 60, 180), (PHASE_PRECHECK, 30, 120),
        (PHASE_EXECUTE, 20.0 * hops, 30.0 * hops)))
    check = {"kind": "verify", "passed": True, "actor": "bot", "results": ()}
    snapshot = PlanSnapshot(
        id=1, dms_name="production", state=PlanState.DONE, requester="U0ALICE", channel="C0UPGRADES",
        current_version="10.0.0 CU0", target_version=str(views[-1].version), track="main",
        window_start=start, window_end=end + timedelta(hours=1), hops=tuple(views), warnings=(),
        estimate=Estimate(phases=phases), checklist=(),
        precheck=CheckRunView(id=1, **{**check, "kind": "precheck"}, started_at=start - timedelta(hours=24),
                              finished_at=start - timedelta(hours=23, minutes=30)),
        verification=CheckRunView(id=2, **check, started_at=end, finished_at=end + timedelta(minutes=2)),
        approval=DecisionView(decision="approved", actor="U0BOB", reason="", override=False,
                              decided_at=start - timedelta(minutes=1)),
        agents=tuple({"id": a, "name": f"DMA{a:02d}", "status": "Running"} for a in range(1, agents + 1)),
        eta=None, created_at=start - timedelta(days=3), updated_at=end + timedelta(minutes=2),
    )
    events = [AuditEvent(at=at, actor="bot", action="transition", to_state=state.value) for at, state in (
        (start - timedelta(days=2), PlanState.SCHEDULED), (start - timedelta(minutes=1), PlanState.EXECUTING),
        (end, PlanState.VERIFYING), (end + timedelta(minutes=2), PlanState.DONE))]
    events.insert(0, AuditEvent(at=start - timedelta(days=2), actor="U0ALICE", action="plan.window"))
    return build_timeline(snapshot, events=events, changes=changes, now=end + timedelta(minutes=3))
