"""The Slack surface under test: the real app (``bot.app.Runtime``) served over HTTP on a free port, a
simulated DMS running fast, a fake Slack Web API (``bot.console.fake_slack.FakeSlack``), and signed requests
posted with httpx exactly as Slack sends them. The engine's clock is moved by the test."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import HttpServer, Runtime
from bot.console.fake_slack import FakeMessage
from bot.settings import Settings
from handlers.ids import ActionId, BlockId, CallbackId
from simulator import SimulatedDms, SimulatorConfig
from tests.support import slack_requests as sr
from tests.support.clock import START, FakeClock
from tests.support.fake_slack_faults import FaultySlack
from tests.support.polling import wait_until
from workflow.store.states import PlanState

SECRET = "test-signing-secret-0123456789"
TOKEN = "xoxb-test-token"
CHANNEL = "C0UPGRADES"

REQUESTER = "UREQ"
APPROVER = "UAPP1"
APPROVER_2 = "UAPP2"
# Simulated seconds per real second: one hop (upload, stop, install, startup) takes about 0.15 s.
SPEED = 2000.0
SIM_TIMES: dict[str, float] = {
    "upload_minutes": 1.0, "stop_minutes": 0.5, "install_minutes": 1.0, "startup_minutes": 2.0,
    "helper_minutes": 1.0,
}


def sim_config(**overrides: Any) -> SimulatorConfig:
    values: dict[str, Any] = {"agents": 4, "failover_pairs": 1, "version": "10.2.0 CU5", "speed": SPEED,
                              "elements_per_agent": 5, "alarms": 0, **SIM_TIMES, **overrides}
    return SimulatorConfig(**values)


def app_settings(*, dms_url: str, database_url: str, slack_api_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "dms_url": dms_url, "database_url": database_url, "slack_api_url": slack_api_url,
        "slack_bot_token": TOKEN, "slack_signing_secret": SECRET,
        "dms_time_scale": SPEED, "dms_poll_seconds": 0.03 * SPEED, "dms_timeout_seconds": 5.0,
        "dms_retries": 1,
        "agent_startup_minutes": 2.0, "upgrade_approvers": [APPROVER, APPROVER_2],
        "blocking_alarm_severities": ["Critical"], **overrides,
    }
    return Settings(_env_file=None, **values)


@dataclass
class Stack:
    runtime: Runtime
    server: HttpServer
    slack: FaultySlack
    sim: SimulatedDms
    clock: FakeClock
    http: httpx.AsyncClient

    async def post(self, request: sr.Request) -> httpx.Response:
        body, headers = request
        return await self.http.post("/slack/events", content=body, headers=headers)

    async def slash(self, text: str, *, user: str = REQUESTER, **kw: Any) -> httpx.Response:
        return await self.post(sr.slash_command(text, signing_secret=SECRET, user_id=user, channel_id=CHANNEL,
                                                **kw))

    async def click(self, action_id: str, *, value: str, message: FakeMessage, user: str,
                    block_id: str = "b") -> httpx.Response:
        return await self.post(sr.block_actions(
            signing_secret=SECRET, action_id=action_id, block_id=block_id, value=value,
            message_ts=message.ts, thread_ts=message.thread_ts, user_id=user, channel_id=CHANNEL,
            message={"type": "message", "text": message.text, "blocks": message.blocks, "ts": message.ts},
        ))

    async def submit_window(self, *, plan_id: int, date: str, time: str, duration: str,
                            user: str = REQUESTER) -> httpx.Response:
        date_state = {"type": "datepicker", "selected_date": date}
        time_state = {"type": "timepicker", "selected_time": time}
        values = {
            BlockId.WINDOW_DATE.value: {ActionId.WINDOW_DATE.value: date_state},
            BlockId.WINDOW_TIME.value: {ActionId.WINDOW_TIME.value: time_state},
            BlockId.WINDOW_DURATION.value: {
                ActionId.WINDOW_DURATION.value: {"type": "plain_text_input", "value": duration}},
        }
        return await self.post(sr.view_submission(
            signing_secret=SECRET, callback_id=CallbackId.WINDOW_MODAL.value, values=values, user_id=user,
            private_metadata=json.dumps({"plan_id": plan_id, "channel": CHANNEL}),
        ))

    def top_messages(self) -> list[FakeMessage]:
        return [m for m in self.slack.channel_messages(CHANNEL) if m.thread_ts is None]

    def ephemerals_for(self, user: str) -> list[FakeMessage]:
        return [m for m in self.slack.ephemerals if m.ephemeral_to == user]

    async def settle(self) -> None:
        await self.runtime.settle(timeout_s=30)


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    from tests.handlers.stacks import custom_stack  # stacks imports this module's helpers

    async with custom_stack(tmp_path) as built:
        yield built


async def plan_message(stack: Stack) -> FakeMessage:
    await wait_until(lambda: bool(stack.top_messages()), what="the plan message")
    return stack.top_messages()[0]


async def tick_manual_items(stack: Stack, message: FakeMessage, *, user: str = REQUESTER) -> None:
    """Tick every manual item through the checkboxes, as a person would."""
    for block in message.blocks:
        accessory = block.get("accessory") or {}
        if accessory.get("type") != "checkboxes":
            continue
        chosen = [o for o in accessory["options"] if not o["text"]["text"].startswith("(auto)")]
        chosen += [o for o in accessory.get("initial_options", []) if o not in chosen]
        response = await stack.post(sr.block_actions(
            signing_secret=SECRET, action_id=accessory["action_id"], block_id=block["block_id"],
            action_type="checkboxes", selected_options=chosen, message_ts=message.ts, user_id=user,
            channel_id=CHANNEL,
        ))
        assert response.status_code == 200


async def awaiting_approval(stack: Stack) -> tuple[int, FakeMessage]:
    """plan -> window (modal) -> checklist -> pre-check (button) -> window opens: the approval request."""
    response = await stack.slash("plan 10.4")
    assert response.status_code == 200 and "Working on it" in response.text
    message = await plan_message(stack)
    plan_id = stack.runtime.engine.status(channel=CHANNEL).id
    assert f"#{plan_id}" in message.text

    response = await stack.click(ActionId.SET_WINDOW.value, value=str(plan_id), message=message,
                                 user=REQUESTER)
    assert response.status_code == 200
    await wait_until(lambda: bool(stack.slack.calls_for("views.open")), what="the window modal")
    date, time = window_in(stack.clock, hours=30)
    response = await stack.submit_window(plan_id=plan_id, date=date, time=time, duration="4h")
    assert response.status_code == 200 and response.text == ""
    assert stack.runtime.engine.status(plan_id=plan_id).state is PlanState.SCHEDULED

    await tick_manual_items(stack, message)
    await wait_until(lambda: not stack.runtime.engine.status(plan_id=plan_id).open_required_manual,
                     what="manual items ticked")
    stack.clock.advance(hours=6)
    await stack.click(ActionId.RUN_CHECK.value, value=str(plan_id), message=message, user=REQUESTER)
    await wait_until(lambda: stack.runtime.engine.status(plan_id=plan_id).state is PlanState.PRECHECKED,
                     what="the pre-check")
    stack.clock.advance(hours=24, minutes=1)
    await stack.runtime.engine.on_approval_due(plan_id)
    await stack.runtime.notifier.drain()
    approval = next(m for m in stack.slack.thread(CHANNEL, message.ts) if "Approval needed" in m.text)
    return plan_id, approval


def window_in(clock: FakeClock, *, hours: float) -> tuple[str, str]:
    start = clock.now + timedelta(hours=hours)
    return start.strftime("%Y-%m-%d"), start.strftime("%H:%M")


def make_snapshot(*, hops: int = 2, agents: int = 4, state: str = "scheduled", plan_id: int = 1,
                  extra_items: int = 0, long_text: bool = False) -> Any:
    """A PlanSnapshot built in memory (no database): for the pure Block Kit builders."""
    from dms.upgrade_path import Estimate, PhaseEstimate
    from workflow.store.checklist import MOP_STEPS
    from workflow.store.snapshot import HopView, ItemView, PlanSnapshot
    from workflow.store.states import PlanState

    filler = " with a very long explanation that goes on" * 8 if long_text else ""
    hop_views = tuple(
        HopView(id=i + 1, position=i, version=f"10.{i}.0 CU{i}", package="full" if i % 2 == 0 else "cu",
                name=f"DataMiner 10.{i}.0 CU{i}{filler}", rule=f"Rule {i}: upgrade through 10.{i}{filler}",
                rule_url=f"https://docs.dataminer.services/rule/{i}",
                checks=(f"Check {i}{filler}",), requirements=(f".NET 4.{i}{filler}",), restarts_agents=True,
                minutes=30.0, upload_started_at=None, upload_done_at=None, upgrade_started_at=None,
                upgrade_done_at=None, wait_started_at=None, wait_done_at=None)
        for i in range(hops)
    )
    items = [ItemView(key=step.key, title=step.title + filler, phase=step.phase, kind=step.kind.value,
                      required=step.required,
                      checked=step.kind.value == "auto" and step.phase.value == "determine",
                      checked_by="bot" if step.phase.value == "determine" else None, checked_at=None,
                      detail="") for step in MOP_STEPS]
    details = next(step.phase for step in MOP_STEPS if step.phase.value == "details")
    items += [ItemView(key=f"details.requirement.r{i}", title=f"Requirement met: thing {i}{filler}",
                       phase=details, kind="manual", required=True, checked=False, checked_by=None,
                       checked_at=None, detail="")
              for i in range(extra_items)]
    agent_rows = tuple({"id": i + 1, "name": f"DMA-{i + 1:03d}{filler}", "status": "Running", "detail": "",
                        "version": "9.6.0 CU13"} for i in range(agents))
    estimate = Estimate(phases=tuple(PhaseEstimate(phase=f"Phase {i}{filler}", low_minutes=10.0 * i,
                                                   high_minutes=20.0 * i) for i in range(1, 6)))
    return PlanSnapshot(
        id=plan_id, dms_name="DMS", state=PlanState(state), requester=REQUESTER, channel=CHANNEL,
        current_version="9.6.0 CU13",
        target_version=str(hop_views[-1].version) if hop_views else "9.6.0 CU13",
        track="main", window_start=START + timedelta(days=1), window_end=START + timedelta(days=1, hours=4),
        hops=hop_views, warnings=(), estimate=estimate, checklist=tuple(items), precheck=None,
        verification=None,
        approval=None, agents=agent_rows, eta=None, created_at=START, updated_at=START,
    )
