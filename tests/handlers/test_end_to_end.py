"""The whole story over real HTTP: signed Slack requests into the running app, the simulated DMS behind it and
the fake Slack Web API recording what the bot said. Scheduled jobs (pre-check, approval request) are fired
by calling the engine's job functions after moving its clock, as APScheduler would."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlmodel import select

from bot.app import Runtime
from bot.settings import Settings
from handlers.blocks.render import render_message
from handlers.ids import ActionId
from tests.handlers.conftest import (
    APPROVER,
    APPROVER_2,
    CHANNEL,
    REQUESTER,
    SECRET,
    Stack,
    awaiting_approval,
    wait_until,
)
from tests.support import slack_requests as sr
from workflow.model.errors import ConfigError
from workflow.store import database as dbm
from workflow.store.states import PlanState
from workflow.store.tables import AuditEvent


async def test_the_whole_story(stack: Stack) -> None:
    plan_id, approval = await awaiting_approval(stack)
    assert [e.label for e in render_message(approval.blocks).elements] == ["Approve", "Reject"]

    response = await stack.click(ActionId.APPROVE.value, value=str(plan_id), message=approval, user=APPROVER)
    assert response.status_code == 200
    await wait_until(lambda: stack.runtime.engine.status(plan_id=plan_id).state is PlanState.DONE,
                     timeout_s=20, what="the upgrade to finish")
    await stack.settle()

    plan_msg = stack.top_messages()[0]
    assert len(stack.top_messages()) == 1, "the plan message is edited in place, never posted again"
    assert plan_msg.edits >= 5
    assert "done" in plan_msg.text and "State: *done*" in str(plan_msg.blocks)
    thread = stack.slack.thread(CHANNEL, plan_msg.ts)
    texts = [m.text for m in thread]
    status = [m for m in thread if m.text.startswith(f"Plan #{plan_id}:")]
    assert len(status) == 1 and status[0].edits >= 1, texts
    assert "done" in status[0].text and "100%" in str(status[0].blocks)
    assert any("Hop 1/2 started" in t for t in texts) and any("Hop 2/2 done" in t for t in texts)
    assert any("Pre-upgrade check passed" in t for t in texts)
    final = [m for m in thread if "Upgrade done" in m.text]
    assert len(final) == 1 and final[0].reply_broadcast
    # DMS_URL names a DMS by address here: nothing says "simulated" (the console's embedded one does).
    assert "SIMULATED" not in str(plan_msg.blocks) + "".join(texts)
    decided = stack.slack.message(CHANNEL, approval.ts)
    assert f"Approved* by <@{APPROVER}>" in str(decided.blocks)
    assert not render_message(decided.blocks).elements, "the buttons are replaced by the decision"
    assert {a["version"] for a in stack.sim.state()["agents"]} == {"10.4.0 CU21"}


async def test_two_approvals_at_once_give_one_execution(stack: Stack) -> None:
    plan_id, approval = await awaiting_approval(stack)
    first, second = await asyncio.gather(
        stack.click(ActionId.APPROVE.value, value=str(plan_id), message=approval, user=APPROVER),
        stack.click(ActionId.APPROVE.value, value=str(plan_id), message=approval, user=APPROVER_2),
    )
    assert first.status_code == second.status_code == 200
    await wait_until(lambda: stack.runtime.engine.status(plan_id=plan_id).state is PlanState.DONE,
                     timeout_s=20, what="the upgrade to finish")
    await stack.settle()
    assert stack.sim.state()["upgrades_triggered"] == {"10.3.0 CU22": 1, "10.4.0 CU21": 1}
    winner = stack.runtime.engine.status(plan_id=plan_id).approval
    assert winner is not None
    loser = APPROVER_2 if winner.actor == APPROVER else APPROVER
    told = [m.text for m in stack.ephemerals_for(loser)]
    assert any(f"already approved by <@{winner.actor}>" in t for t in told), told


async def test_unauthorised_approval_is_refused(stack: Stack) -> None:
    plan_id, approval = await awaiting_approval(stack)
    response = await stack.click(ActionId.APPROVE.value, value=str(plan_id), message=approval,
                                 user="UINTRUDER")
    assert response.status_code == 200
    await wait_until(lambda: bool(stack.ephemerals_for("UINTRUDER")), what="the refusal")
    # Said with what was refused: the ephemeral appears in the channel away from the button.
    refusal = stack.ephemerals_for("UINTRUDER")[0].text
    assert refusal == "Not approved: <@UINTRUDER> is not an upgrade approver"
    assert stack.runtime.engine.status(plan_id=plan_id).state is PlanState.AWAITING_APPROVAL
    # The requester may not approve their own upgrade either.
    before = len(stack.ephemerals_for(REQUESTER))  # the requester may have had ephemerals already
    await stack.click(ActionId.APPROVE.value, value=str(plan_id), message=approval, user=REQUESTER)
    await wait_until(lambda: len(stack.ephemerals_for(REQUESTER)) > before, what="the refusal")
    assert stack.ephemerals_for(REQUESTER)[-1].text.startswith("Not approved: ")
    assert "approver" in stack.ephemerals_for(REQUESTER)[-1].text
    assert stack.runtime.engine.status(plan_id=plan_id).state is PlanState.AWAITING_APPROVAL


async def test_a_refused_approval_is_audited(stack: Stack) -> None:
    plan_id, approval = await awaiting_approval(stack)
    await stack.click(ActionId.APPROVE.value, value=str(plan_id), message=approval, user="UINTRUDER")
    await stack.settle()
    with dbm.session(stack.runtime.db) as session:
        rows = list(session.exec(select(AuditEvent).where(AuditEvent.actor == "UINTRUDER")))
    assert rows, "the refused approval is in the audit log"


async def test_bad_signature_and_stale_timestamp_get_401(stack: Stack) -> None:
    body, headers = sr.slash_command("plan 10.4", signing_secret="not-the-secret")
    assert (await stack.http.post("/slack/events", content=body, headers=headers)).status_code == 401
    import time as _time

    stale = int(_time.time()) - 600
    body, headers = sr.slash_command("plan 10.4", signing_secret=SECRET, timestamp=stale)
    assert (await stack.http.post("/slack/events", content=body, headers=headers)).status_code == 401
    await stack.settle()
    assert not stack.slack.calls_for("chat.postMessage")
    # Refused requests leave the bot healthy; an anonymous probe learns only that.
    health = await stack.http.get("/healthz")
    assert (health.status_code, health.text.strip()) == (200, "ok")


async def test_retried_slash_command_makes_one_plan(stack: Stack) -> None:
    trigger = "123.456.retry"
    responses = await asyncio.gather(
        stack.slash("plan 10.4", trigger_id=trigger),
        stack.slash("plan 10.4", trigger_id=trigger, retry_num=1, retry_reason="http_timeout"),
    )
    assert all(r.status_code == 200 for r in responses)
    await stack.settle()
    later = await stack.slash("plan 10.4", trigger_id=trigger, retry_num=2, retry_reason="http_timeout")
    assert later.status_code == 200
    await stack.settle()
    assert len(stack.runtime.engine.history(limit=10)) == 1
    assert len(stack.top_messages()) == 1
    assert not [m for m in stack.slack.ephemerals if "already has an active upgrade" in m.text]


async def test_bad_input_gets_usage_and_creates_nothing(stack: Stack) -> None:
    for text, problem in [("upgrade 10.4", "Unknown subcommand"),
                          ("plan 10.4 at tomorrow 10:00", "not a date"),
                          ("cancel", "needs the plan id")]:
        response = await stack.slash(text)
        assert response.status_code == 200 and problem in response.text and "Usage" in response.text
    # Well-formed requests the engine refuses get the reason only: the usage is for syntax errors.
    for text, problem in [("plan 99.9", "not in the release catalog"),
                          ("plan 10.4 at 2001-01-01 10:00", "in the past"), ("plan 10.1", "")]:
        await stack.slash(text)
        await stack.settle()
        told = stack.ephemerals_for(REQUESTER)
        assert told and problem in told[-1].text and "Usage" not in told[-1].text, told[-1].text
    assert stack.runtime.engine.history(limit=10) == []
    assert not stack.top_messages()


async def test_429_storm_loses_no_message(stack: Stack) -> None:
    stack.slack.start_storm(failures_per_success=2, retry_after=0)
    plan_id, approval = await awaiting_approval(stack)
    await stack.click(ActionId.APPROVE.value, value=str(plan_id), message=approval, user=APPROVER)
    await wait_until(lambda: stack.runtime.engine.status(plan_id=plan_id).state is PlanState.DONE,
                     timeout_s=30, what="the upgrade to finish")
    await stack.settle()
    stack.slack.stop_storm()
    calls = stack.slack.calls
    assert any(c.status == 429 for c in calls)
    assert stack.runtime.notifier.failures == 0
    plan_msg = stack.top_messages()[0]
    thread = stack.slack.thread(CHANNEL, plan_msg.ts)
    assert [m for m in thread if "Upgrade done" in m.text and m.reply_broadcast]
    assert "State: *done*" in str(plan_msg.blocks)
    posted_ok = sum(1 for c in stack.slack.calls_for("chat.postMessage") if c.ok)
    shared = [m for m in thread if m.files]  # the timeline picture, shared by files.completeUploadExternal
    # Through the outbox like every message: retried through the storm, and last, after the outcome it shows.
    assert len(shared) == 1 and thread[-1].files
    assert posted_ok == len(thread) - len(shared) + 1


# ------------------------------------------------------------------------------------------ startup


def _settings(tmp_path: Any, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"database_url": f"sqlite:///{tmp_path / 'start.db'}",
                              "slack_bot_token": "xoxb-1", "slack_signing_secret": SECRET,
                              "dms_url": "simulated", "sim_agents": 2, "sim_failover_pairs": 0, **overrides}
    return Settings(_env_file=None, **values)


@pytest.mark.parametrize(("overrides", "message"), [
    ({"slack_bot_token": None}, "SLACK_BOT_TOKEN is not set"),
    ({"slack_bot_token": "xapp-1-wrong-kind"}, "SLACK_BOT_TOKEN is not a bot token: it must start with"),
    ({"slack_app_token": "xoxb-wrong-kind"}, "SLACK_APP_TOKEN is not an app-level token"),
    ({"dms_url": "http://admin:wrong-kind@127.0.0.1:9"}, "the URL must not contain a user or password"),
])
async def test_startup_stops_with_one_clear_line(
    tmp_path: Any, overrides: dict[str, Any], message: str
) -> None:
    runtime = Runtime(_settings(tmp_path, **overrides))
    with pytest.raises(ConfigError) as caught:
        await runtime.start()
    text = str(caught.value)
    assert message in text and "\n" not in text
    assert "wrong-kind" not in text  # never the token itself


async def test_the_runtime_starts_its_own_simulated_dms(tmp_path: Any) -> None:
    async with Runtime(_settings(tmp_path, sim_speed=1234.0)) as runtime:
        assert runtime.simulator is not None and runtime.settings.dms_time_scale == 1234.0
        assert runtime.db_ok()
        async with runtime.dms_access.open(None) as conn:
            assert len(await conn.client.agent_states()) == 2
    with pytest.raises(RuntimeError, match=r"before Runtime\.start"):
        _ = Runtime(_settings(tmp_path)).engine
