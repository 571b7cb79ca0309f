"""Text from a person or a DMS cannot mention, link or format. Every injection goes through every
place it can reach over real HTTP (typed versions and DMS names, a cancel reason, agent and element names,
alarm texts, a script's message in the check), and what the fake Slack Web API received is inspected."""

from __future__ import annotations

from sqlmodel import select

from bot.console.fake_slack import FakeMessage
from handlers.ids import ActionId
from tests.handlers.conftest import APPROVER, APPROVER_2, CHANNEL, REQUESTER, Stack, plan_message
from tests.support.polling import wait_until
from tests.support.slack_markup import INJECTION, problems
from workflow.store import database
from workflow.store.snapshot import CheckRunView
from workflow.store.states import PlanState
from workflow.store.tables import AuditEvent

USERS = (REQUESTER, APPROVER, APPROVER_2)
POSTING = ("chat.postMessage", "chat.update", "chat.postEphemeral", "views.open")


def everything_sent(stack: Stack) -> list[str]:
    found: list[str] = []
    for method in POSTING:
        for call in stack.slack.calls_for(method):
            found += [f"{method}: {problem}" for problem in problems(call.params, users=USERS)]
    return found


async def run_check(stack: Stack, plan_id: int, message: FakeMessage) -> CheckRunView:
    before = stack.runtime.engine.status(plan_id=plan_id).precheck
    await stack.click(ActionId.RUN_CHECK.value, value=str(plan_id), message=message, user=REQUESTER)
    await wait_until(lambda: stack.runtime.engine.status(plan_id=plan_id).precheck != before,
                     what="the check")
    await stack.settle()
    done = stack.runtime.engine.status(plan_id=plan_id).precheck
    assert done is not None and not done.passed
    return done


async def test_no_injection_reaches_slack_live(stack: Stack) -> None:
    for agent_id in (2, 3):  # names the DMS reports (and its element names are built from them)
        stack.sim.cluster.agents[agent_id].name = f"DMA{agent_id} {INJECTION}"
    await stack.slash("plan 10.4")
    message = await plan_message(stack)
    plan_id = stack.runtime.engine.status(channel=CHANNEL).id
    stack.sim.cluster.inject("critical_alarms", agent=2, count=2)  # alarm texts name the elements
    first = await run_check(stack, plan_id, message)
    stack.sim.cluster.clear("critical_alarms")
    # A person's report of Upload only in Cube (text a person pastes from Cube) is shown in the thread too.
    await stack.runtime.engine.report_upload_only(plan_id=plan_id, actor=REQUESTER, passed=False,
                                                  report=f"Prerequisite check failed: {INJECTION}")
    second = await run_check(stack, plan_id, message)
    assert "Power Supply" in str(first.results) and "Prerequisite check failed" in str(second.results)
    acks = [await stack.slash(f"status {plan_id}"), await stack.slash("history")]
    acks.append(await stack.slash(f"cancel {plan_id} {INJECTION}"))  # the reason is broadcast
    await stack.settle()
    assert stack.runtime.engine.status(plan_id=plan_id).state is PlanState.CANCELLED
    for typed in (f"plan {INJECTION}", "plan 10.4 on <!channel>", "plan 10.4 on <@U1>", "status <!here>",
                  f"cancel {plan_id} {INJECTION}", f"launch {INJECTION}"):
        acks.append(await stack.slash(typed))
    await stack.settle()

    sent = [m for m in stack.slack.thread(CHANNEL, message.ts)
            if "cancelled" in m.text and not m.text.startswith("Timeline")]  # not the picture's caption
    assert sent and sent[-1].reply_broadcast
    posted = [str(call.params) for call in stack.slack.calls_for("chat.postMessage")]
    assert [text for text in posted if "Prerequisite check failed" in text and "Power Supply" not in text]
    # Six refusals: a malformed version is answered in the ack itself (a syntax error, checked below),
    # the other five ephemerally.
    assert len(stack.slack.calls_for("chat.postEphemeral")) >= 5
    assert everything_sent(stack) == []
    for ack in acks:
        assert ack.status_code == 200
        text = ack.json().get("text", "") if ack.text.startswith("{") else ack.text
        assert not problems({"text": text}, users=USERS), ack.text
    # The NUL of the reason never reached the database (PostgreSQL refuses it).
    with database.session(stack.runtime.db) as session:
        rows = list(session.exec(select(AuditEvent).where(AuditEvent.plan_id == plan_id)))
    assert all("\x00" not in row.reason and "\u202e" not in row.reason for row in rows)
    assert any("NULbyte" in row.reason for row in rows)
