"""A campaign end to end over signed HTTP: three simulated DMSs on two versions (a targets file, each DMS a
simulator the Runtime starts itself), the real app with the fake Slack. The slash command stores the
campaign and posts its card; an approver approves it on the card; staging is upgraded and soaks; production
is upgraded; a critical alarm raised on one production DMS mid-soak halts the campaign; an approver resumes
it with a reason (the modal); the campaign is done. Every package was uploaded and triggered once per DMS,
the campaign's thread tells each wave's outcome, the halt and the resume, and the audit has them.

Time moves with the engine's clock only: the test moves it to each window and soak check, and waits."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

from bot.console.fake_slack import FakeMessage
from handlers.blocks.render import render_message
from handlers.ids import ActionId, BlockId, CallbackId
from tests.handlers.conftest import APPROVER, APPROVER_2, CHANNEL, REQUESTER, SECRET, Stack, tick_manual_items
from tests.handlers.fleet_stack import FLEET, fleet_stack
from tests.support import slack_requests as sr
from tests.support.polling import wait_until
from workflow.model.campaign_states import CampaignState, CampaignStatus, MemberState
from workflow.model.campaign_view import CampaignView
from workflow.store import database

S = CampaignState
REASON = "prod-us: the alarm is on a test element <!channel>, ticket OPS-12"


async def view(stack: Stack, campaign_id: int = 1) -> CampaignView:
    """The campaign as stored, read with a background task's patience: the test watches while the bot's
    own work holds SQLite's write lock, and a listener's short budget would make it fail under load."""
    with database.patience():
        return await stack.runtime.campaigns.view(campaign_id)


def card(stack: Stack) -> FakeMessage:
    return next(m for m in stack.top_messages() if m.text.startswith("Campaign #1 "))


def card_text(stack: Stack) -> str:
    message = card(stack)
    return render_message(message.blocks, message.text).text


def thread(stack: Stack) -> list[str]:
    return [m.text for m in stack.slack.thread(CHANNEL, card(stack).ts)]


# Generous deadlines: a wave is two plans' pre-checks, approvals and upgrades on simulated DMSs, which take
# their real seconds; with the machine's other core busy they take several times as long. A wait ends as
# soon as the campaign gets there.
WAVE_S = 90.0


async def reach(stack: Stack, status: CampaignStatus, *, timeout_s: float = WAVE_S) -> CampaignView:
    async def there() -> bool:
        return (await view(stack)).status == status

    try:
        await wait_until(there, timeout_s=timeout_s, what=f"the campaign {status.label}")
    except AssertionError:
        now = await view(stack)  # say where it stopped instead: a halt names its reason
        members = ", ".join(f"{m.name} {m.state.value} ({m.note})" for m in now.members)
        raise AssertionError(f"the campaign did not reach {status.label} within {timeout_s:g}s: it is "
                             f"{now.status.label} ({now.halt_reason or 'no halt'}); {members}") from None
    return await view(stack)


def plan_message(stack: Stack, plan_id: int) -> FakeMessage | None:
    return next((m for m in stack.top_messages() if not m.text.startswith("Campaign #")
                 and re.search(rf"#{plan_id}\b", m.text)), None)


async def run_wave(stack: Stack, wave: int) -> CampaignView:
    """The wave's plans, made by the campaign's poll, go through their windows as a person and the plans'
    own jobs take them: the checklist ticked in Slack, the window reached (the pre-check and the approval
    request); the poll approves each with the campaign's approval and the upgrades run; the wave soaks."""
    async def planned() -> bool:
        return all(m.plan_id is not None for m in (await view(stack)).wave_members(wave))

    await wait_until(planned, timeout_s=WAVE_S / 2, what=f"the plans of wave {wave}")
    engine = stack.runtime.engine
    for member in (await view(stack)).wave_members(wave):
        plan_id, start = member.plan_id, member.window_start
        assert plan_id is not None and start is not None
        await wait_until(lambda plan_id=plan_id: plan_message(stack, plan_id) is not None,
                         what=f"plan #{plan_id}'s message")
        message = plan_message(stack, plan_id)
        assert message is not None
        await tick_manual_items(stack, message)
        await wait_until(lambda plan_id=plan_id: not engine.status(plan_id=plan_id).open_required_manual,
                         what="the checklist ticked")
        stack.clock.now = max(stack.clock.now, start + timedelta(minutes=1))
        await engine.on_approval_due(plan_id)  # the plan's own job at its window: pre-check, approval request
    return await reach(stack, CampaignStatus(S.SOAKING, wave))


async def soak_check(stack: Stack) -> CampaignView:
    """The clock moved to the soak's next check; the poll makes it."""
    before = await view(stack)
    assert before.state is S.SOAKING and before.next_check_at is not None
    stack.clock.now = max(stack.clock.now, before.next_check_at)

    async def checked() -> bool:
        now = await view(stack)
        return now.status != before.status or now.next_check_at != before.next_check_at

    await wait_until(checked, timeout_s=WAVE_S / 2, what="the soak check")
    return await view(stack)


async def resume(stack: Stack, *, user: str, reason: str) -> None:
    """Resume… on the card (the roles are asked, the modal opens), then the modal submitted with a reason."""
    value = str((await view(stack)).id)
    response = await stack.click(ActionId.CAMPAIGN_RESUME.value, value=value, message=card(stack), user=user)
    assert response.status_code == 200
    await wait_until(lambda: bool(stack.slack.calls_for("views.open")), what="the resume form")
    modal = stack.slack.calls_for("views.open")[-1].params["view"]
    modal = json.loads(modal) if isinstance(modal, str) else modal
    values = {BlockId.CAMPAIGN_REASON.value: {ActionId.CAMPAIGN_REASON.value: {
        "type": "plain_text_input", "value": reason}}}
    response = await stack.post(sr.view_submission(
        signing_secret=SECRET, callback_id=CallbackId.CAMPAIGN_MODAL.value, values=values, user_id=user,
        private_metadata=modal["private_metadata"]))
    assert response.status_code == 200 and response.text == "", response.text


async def test_a_campaign_over_three_dms_runs_end_to_end(tmp_path: Path) -> None:
    async with fleet_stack(tmp_path, campaign_soak_check_minutes=20) as stack:
        response = await stack.slash("campaign 10.5 on staging then prod-eu prod-us soak 1h")
        assert response.status_code == 200 and "Working on it" in response.text
        await wait_until(lambda: any(m.text.startswith("Campaign #1 ") for m in stack.top_messages()),
                         what="the campaign card")
        assert card_text(stack).startswith("== Campaign #1 to 10.5")
        assert "[1] Approve the campaign" in card_text(stack)
        await wait_until(lambda: bool(thread(stack)), what="the campaign's first reply")
        first = stack.slack.thread(CHANNEL, card(stack).ts)[0]
        planned = render_message(first.blocks, first.text).text
        # What planning found, in the thread: each DMS's own path from its own version, and the end.
        assert "staging (2 agents) on 10.4.0 CU3: 1 hop: 10.5.0 CU18 (full)" in planned
        assert "prod-eu (2 agents) on 10.3.0 CU5: " in planned and "Earliest end:" in planned

        response = await stack.click(ActionId.CAMPAIGN_APPROVE.value, value="1", message=card(stack),
                                     user=APPROVER)
        assert response.status_code == 200
        soaking = await run_wave(stack, 1)
        assert soaking.member("staging").state is MemberState.UPGRADED
        while (await view(stack)).status == CampaignStatus(S.SOAKING, 1):
            await soak_check(stack)  # clean checks until the soak is over: wave 2 starts

        soaking = await run_wave(stack, 2)
        assert all(m.state is MemberState.UPGRADED for m in soaking.members)
        checked = await soak_check(stack)
        assert checked.status == CampaignStatus(S.SOAKING, 2)  # mid-soak: a clean check
        stack.runtime.simulators["prod-us"].inject("critical_alarms", agent=1, count=2)
        halted = await soak_check(stack)
        assert halted.status == CampaignStatus(S.HALTED, 2)
        assert "prod-us: No new Critical alarms: new Critical alarm" in halted.halt_reason
        await wait_until(lambda: "[1] Resume…" in card_text(stack), what="the card redrawn, halted")

        await resume(stack, user=APPROVER_2, reason=REASON)
        resumed = await view(stack)
        assert resumed.status == CampaignStatus(S.SOAKING, 2)
        while (await view(stack)).state is S.SOAKING:
            await soak_check(stack)
        assert (await view(stack)).state is S.DONE
        await stack.settle()

        for name, sim in stack.runtime.simulators.items():  # every package uploaded and triggered once
            uploads, triggered = dict(sim.cluster.uploads), dict(sim.cluster.upgrades_triggered)
            assert uploads and set(uploads) == set(triggered), name
            assert set(uploads.values()) == {1} and set(triggered.values()) == {1}, (name, uploads, triggered)
        assert set(stack.runtime.simulators) == set(FLEET)

        told = thread(stack)
        said = "\n".join(told)
        assert said.count("Wave 1 started") == 1 and said.count("Wave 2 started") == 1
        assert "Wave 1 done" in said and "Wave 2 done" in said
        assert "*staging*: upgraded and verified" in said and "*prod-us*: upgraded and verified" in said
        halt = next(text for text in told if "halted in wave 2" in text)
        assert "the bot halted it on what its soak check found" in halt
        assert "*prod-us*: No new Critical alarms: new Critical alarm" in halt
        resume_said = next(text for text in told if "resumed by" in text)
        assert f"<@{APPROVER_2}> (a person, in Slack)" in resume_said
        assert "&lt;!channel&gt;" in resume_said and "<!channel>" not in said  # a person's text escaped
        assert told[-2].startswith(":tada: Campaign #1 to 10.5") and "done" in told[-2]
        assert told[-1] == "Timeline of campaign #1 (done), times in UTC."  # the picture, after the outcome
        assert "Soak check of wave 2: nothing found on prod-eu, prod-us" in said
        assert said.count("the soak of wave 1 is over") == 1 and said.count("the soak of wave 2 is over") == 1
        pictures = [f for m in stack.slack.thread(CHANNEL, card(stack).ts) for f in m.files]
        assert [f["name"] for f in pictures] == ["campaign-1-timeline.png"]  # in the thread, at the end
        content = stack.slack.extras.files[pictures[0]["id"]].content
        assert content is not None and content.startswith(b"\x89PNG")
        text = card_text(stack)
        assert text.startswith("== Campaign #1 to 10.5") and ": done ==" in text
        assert "[1]" not in text  # a finished campaign has no buttons

        audit = await stack.runtime.campaigns.audit(1)
        assert audit[0][:2] == (REQUESTER, "campaign.created")
        assert any(actor == APPROVER and reason.startswith("approved") for actor, _, reason in audit)
        assert any(actor == "bot" and "found a regression" in reason for actor, _, reason in audit)
        assert (APPROVER_2, "campaign.transition", REASON) in audit  # kept as typed; escaped when shown
        assert sum(1 for _, action, _ in audit if action == "campaign.plan_approved") == 3
