"""The whole story over Socket Mode only: every person's step is an envelope on the fake Slack's WebSocket
(the slash command, the window button and the modal's ``view_submission``, the checklist, the pre-check
button, the approval), and the real ``bot.app.Runtime`` with its own simulated DMS (``SIM_SPEED``) does the
upgrade. The connection breaks on the way: dropped before the approval, the approval's ack lost (the bot
acted, Slack never heard), a ``disconnect`` and a drop while a hop runs. The plan ends done, each package
uploaded and triggered once, and every envelope was acked within Slack's 3 seconds. Scheduled jobs (the
approval request) are fired by calling the engine's job function after moving its clock."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import Runtime, serve_socket_mode
from bot.console.fake_slack import FakeMessage
from bot.settings import Settings
from handlers.blocks.render import render_message
from handlers.delivery.slack_web import make_web_client
from handlers.ids import ActionId, BlockId, CallbackId
from simulator import SimulatedDms
from tests.support.clock import FakeClock
from tests.support.fake_socket_mode import SocketModeSlack
from tests.support.polling import wait_until
from workflow.store.states import PlanState

APP_TOKEN = "xapp-1-A0DMUPGRADE-story"
BOT_TOKEN = "xoxb-socket-story"
CHANNEL = "C0UPGRADES"
REQUESTER = "UREQ"
APPROVER = "UAPP1"
APPROVER_2 = "UAPP2"


@dataclass
class Story:
    slack: SocketModeSlack
    runtime: Runtime
    clock: FakeClock

    @property
    def sim(self) -> SimulatedDms:
        assert self.runtime.simulator is not None
        return self.runtime.simulator

    def state(self, plan_id: int) -> PlanState:
        return self.runtime.engine.status(plan_id=plan_id).state

    def told(self, user: str) -> list[str]:
        return [m.text for m in self.slack.ephemerals if m.ephemeral_to == user]

    async def click(self, action_id: ActionId, *, plan_id: int, message: FakeMessage, user: str,
                    lose_ack: bool = False) -> None:
        await self.slack.click(
            action_id=action_id.value, block_id="b", value=str(plan_id), message_ts=message.ts,
            thread_ts=message.thread_ts, user_id=user, channel_id=CHANNEL, lose_ack=lose_ack,
            message={"type": "message", "text": message.text, "blocks": message.blocks, "ts": message.ts})

    async def reconnect(self, how: str) -> None:
        """Lose the connection (``drop``: closed without a word; or Slack's ``disconnect``) and wait until the
        bot opened a new one with a fresh URL."""
        opened = len(self.slack.calls_for("apps.connections.open"))
        before = self.slack.connections
        await getattr(self.slack, how)()
        await wait_until(lambda: self.slack.connections > before and self.slack.connected >= 1, timeout_s=30,
                         what="the bot to reconnect")
        assert len(self.slack.calls_for("apps.connections.open")) > opened


@pytest.fixture
async def story(tmp_path: Path) -> AsyncIterator[Story]:
    slack = SocketModeSlack()
    await slack.start()
    assert slack.base_url is not None
    clock = FakeClock()
    # 3000 simulated seconds per real second: a hop (upload, stop, install, start) takes well under a second.
    settings = Settings(_env_file=None, slack_app_token=APP_TOKEN, slack_bot_token=BOT_TOKEN,
                        slack_api_url=slack.base_url, database_url=f"sqlite:///{tmp_path / 'story.db'}",
                        sim_speed=3000, sim_version="10.2.0 CU5", sim_agents=2, sim_failover_pairs=0,
                        dms_poll_seconds=60.0, upgrade_approvers=[APPROVER, APPROVER_2],
                        blocking_alarm_severities=["Critical"])
    client = make_web_client(token=BOT_TOKEN, base_url=slack.base_url, jitter=0.0, backoff_factor=0.01)
    runtime = Runtime(settings, clock=clock, web_client=client, pacer_interval_s=0.01)
    await runtime.start()
    serving = asyncio.get_running_loop().create_task(serve_socket_mode(runtime))
    try:
        await wait_until(lambda: slack.connected == 1, timeout_s=15, what="the Socket Mode connection")
        yield Story(slack=slack, runtime=runtime, clock=clock)
    finally:
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving
        await runtime.stop()
        await slack.stop()


async def _plan_and_window(story: Story) -> tuple[int, FakeMessage]:
    """``/dm-upgrade plan 10.4``, then the window through the button and the modal."""
    slack = story.slack
    ack = await slack.slash("plan 10.4", user_id=REQUESTER, channel_id=CHANNEL)
    assert "Working on it" in json.dumps(ack.get("payload", {}))
    await wait_until(lambda: bool(slack.channel_messages(CHANNEL)), timeout_s=15, what="the plan message")
    message = slack.channel_messages(CHANNEL)[0]
    plan_id = story.runtime.engine.status(channel=CHANNEL).id
    assert f"#{plan_id}" in message.text

    await story.click(ActionId.SET_WINDOW, plan_id=plan_id, message=message, user=REQUESTER)
    await wait_until(lambda: bool(slack.calls_for("views.open")), timeout_s=10, what="the window modal")
    start = story.clock.now + timedelta(hours=30)
    date = {"type": "datepicker", "selected_date": start.strftime("%Y-%m-%d")}
    time = {"type": "timepicker", "selected_time": start.strftime("%H:%M")}
    duration = {"type": "plain_text_input", "value": "4h"}
    values = {BlockId.WINDOW_DATE.value: {ActionId.WINDOW_DATE.value: date},
              BlockId.WINDOW_TIME.value: {ActionId.WINDOW_TIME.value: time},
              BlockId.WINDOW_DURATION.value: {ActionId.WINDOW_DURATION.value: duration}}
    ack = await slack.submit(callback_id=CallbackId.WINDOW_MODAL.value, values=values, user_id=REQUESTER,
                             private_metadata=json.dumps({"plan_id": plan_id, "channel": CHANNEL}))
    assert "errors" not in json.dumps(ack.get("payload", {})), ack  # the modal closes: the window is taken
    await wait_until(lambda: story.state(plan_id) is PlanState.SCHEDULED, what="the window to be set")
    return plan_id, message


async def _checklist_and_precheck(story: Story, plan_id: int, message: FakeMessage) -> None:
    """Tick every manual item through the message's checkboxes, then the pre-check button."""
    for block in story.slack.message(CHANNEL, message.ts).blocks:
        accessory = block.get("accessory") or {}
        if accessory.get("type") != "checkboxes":
            continue
        chosen = [o for o in accessory["options"] if not o["text"]["text"].startswith("(auto)")]
        chosen += [o for o in accessory.get("initial_options", []) if o not in chosen]
        await story.slack.click(action_id=accessory["action_id"], block_id=block["block_id"],
                                action_type="checkboxes", selected_options=chosen, message_ts=message.ts,
                                user_id=REQUESTER, channel_id=CHANNEL)
    await wait_until(lambda: not story.runtime.engine.status(plan_id=plan_id).open_required_manual,
                     what="the manual items to be ticked")
    story.clock.advance(hours=6)
    await story.click(ActionId.RUN_CHECK, plan_id=plan_id, message=message, user=REQUESTER)
    await wait_until(lambda: story.state(plan_id) is PlanState.PRECHECKED, timeout_s=20, what="the pre-check")


async def test_the_whole_story_over_socket_mode_across_reconnects(story: Story) -> None:
    slack, runtime = story.slack, story.runtime
    plan_id, message = await _plan_and_window(story)
    await _checklist_and_precheck(story, plan_id, message)
    story.clock.advance(hours=24, minutes=1)  # the window opens: the approval request (a scheduled job)
    await runtime.engine.on_approval_due(plan_id)
    await runtime.notifier.drain()
    approval = next(m for m in slack.thread(CHANNEL, message.ts) if "Approval needed" in m.text)
    assert [e.label for e in render_message(approval.blocks).elements] == ["Approve", "Reject"]
    assert story.sim.state()["uploads"] == {}  # Upload only is a person's step: the bot uploads nothing

    # The requester may not approve their own upgrade.
    await story.click(ActionId.APPROVE, plan_id=plan_id, message=approval, user=REQUESTER)
    await wait_until(lambda: any(t.startswith("Not approved: ") for t in story.told(REQUESTER)),
                     what="the requester's approval to be refused")
    assert story.state(plan_id) is PlanState.AWAITING_APPROVAL

    # The connection drops before the approval: the approver's click goes over the new one, and the connection
    # breaks again as the bot's ack is on its way. The bot approved; Slack tells the approver the app did not
    # respond, so they click again over the next connection and are told it is approved already.
    await story.reconnect("drop")
    story.sim.inject("agent_stuck_starting", agent=2)  # holds the first hop until the test lets it go
    before = slack.connections
    with pytest.raises(ConnectionResetError):
        await story.click(ActionId.APPROVE, plan_id=plan_id, message=approval, user=APPROVER, lose_ack=True)
    await wait_until(lambda: slack.connections > before and slack.connected >= 1, timeout_s=30,
                     what="the bot to reconnect after the lost ack")
    await wait_until(lambda: runtime.engine.status(plan_id=plan_id).hops[0].wait_started_at is not None,
                     timeout_s=20, what="the first hop to be upgrading")

    # While the hop runs: Slack asks for a reconnect, then the connection drops. The upgrade goes on, and
    # clicks on the stale Approve button (the approver again, the second approver) run nothing twice.
    await story.reconnect("ask_to_reconnect")
    await story.reconnect("drop")
    for user in (APPROVER, APPROVER_2):
        await story.click(ActionId.APPROVE, plan_id=plan_id, message=approval, user=user)
        await wait_until(lambda u=user: any(f"already approved by <@{APPROVER}>" in t for t in story.told(u)),
                         what="the stale click to be answered")
    ack = await slack.slash("status", user_id=REQUESTER, channel_id=CHANNEL)
    assert "envelope_id" in ack
    story.sim.clear("agent_stuck_starting")
    await wait_until(lambda: story.state(plan_id) is PlanState.DONE, timeout_s=30,
                     what="the upgrade to finish")
    await runtime.settle(timeout_s=30)

    _thread_tells_the_story(story, plan_id)
    assert f"Approved* by <@{APPROVER}>" in str(slack.message(CHANNEL, approval.ts).blocks)
    counters = story.sim.state()
    assert counters["upgrades_triggered"] == {"10.3.0 CU22": 1, "10.4.0 CU21": 1}
    # SLTaskbarUtility's -upgrade uploads each hop's package once, when its upgrade starts.
    assert counters["uploads"] == {"10.3.0 CU22": 1, "10.4.0 CU21": 1}
    assert {a["version"] for a in counters["agents"]} == {"10.4.0 CU21"}
    assert slack.connections == 5
    slowest = max(seconds for _, seconds in slack.ack_seconds)
    assert len(slack.ack_seconds) >= 10 and slowest < 3.0, slack.ack_seconds


def _thread_tells_the_story(story: Story, plan_id: int) -> None:
    """One plan message, edited to done; its thread: the progress (edited in place), one final result."""
    slack = story.slack
    top = [m for m in slack.channel_messages(CHANNEL) if m.thread_ts is None]
    assert len(top) == 1, "the plan message is edited in place, never posted again"
    plan_msg = top[0]
    assert "State: *done*" in str(plan_msg.blocks)
    texts = [m.text for m in slack.thread(CHANNEL, plan_msg.ts)]
    # The bot's own simulated DMS is labelled as such in what it says.
    status = [m for m in slack.thread(CHANNEL, plan_msg.ts)
              if m.text.startswith(f"Plan #{plan_id} [SIMULATED DMS]:")]
    assert len(status) == 1 and status[0].edits >= 1, texts
    assert "done" in status[0].text and "100%" in str(status[0].blocks)
    assert any("Pre-upgrade check passed" in t for t in texts)
    assert any("Hop 1/2 started" in t for t in texts) and any("Hop 2/2 done" in t for t in texts)
    final = [m for m in slack.thread(CHANNEL, plan_msg.ts) if "Upgrade done" in m.text]
    assert len(final) == 1 and final[0].reply_broadcast
