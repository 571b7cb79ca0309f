"""One escaping rule for everything the bot posts (``handlers.safe_text``): each injection through every
builder, with every field a person or a DMS fills set to all of them at once."""

from __future__ import annotations

from typing import Any

import pytest

from dms.models import AgentState, CheckResult, CheckStatus
from handlers import safe_text
from handlers.blocks import decisions as blocks_decisions
from handlers.blocks import plan as blocks
from handlers.blocks import progress as blocks_progress
from handlers.blocks.plan import Message
from handlers.blocks.render import render_message
from handlers.listeners.command_parser import with_usage
from tests.handlers.conftest import APPROVER, REQUESTER, START, make_snapshot
from tests.support.slack_markup import DOCS, INJECTION, INJECTIONS, problems
from workflow.approvals import overrides_needed
from workflow.store.snapshot import DecisionView, PlanSnapshot

USERS = {REQUESTER, APPROVER}


@pytest.mark.parametrize("injection", INJECTIONS)
def test_mrkdwn_leaves_nothing_slack_would_act_on(injection: str) -> None:
    text = safe_text.mrkdwn(f"before {injection} after")
    assert "<" not in text and ">" not in text
    assert not problems({"text": text}, users=())
    assert "\x00" not in text and "\u202e" not in text
    # What a person reads is still what was typed (the console renders mrkdwn the way Slack shows it).
    shown = render_message(None, text).text
    assert shown.startswith("before ") and shown.endswith(" after")


def test_the_rules() -> None:
    assert safe_text.mrkdwn("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"
    assert safe_text.mrkdwn("a\nb\t c\x00d\u202ee") == "a b cde"
    look_alikes = "Core_Router \u2217x\u2217 \u223cy\u223c \u02cbz\u02cb \u02cdw\u02cd"
    assert safe_text.mrkdwn("Core_Router *x* ~y~ `z` _w_") == look_alikes
    assert safe_text.mrkdwn("x" * 5000, limit=100) == "x" * 99 + "…"
    assert safe_text.plain("<!here>\x07") == "<!here>"  # plain_text is never parsed: only controls go
    assert safe_text.user("U0ALICE") == "<@U0ALICE>"
    assert safe_text.user("<!channel>") == "&lt;!channel&gt;"
    assert safe_text.user("U1> <!channel") == "U1&gt; &lt;!channel"
    assert "\x00" not in with_usage("`\x00x` is not a duration")


def injected_snapshot() -> PlanSnapshot:
    """Every text a person, the targets file, the catalog or the DMS can fill, injected."""
    snap = make_snapshot(hops=2, agents=3, state="awaiting_approval")
    hops = tuple(hop.model_copy(update={"version": INJECTION, "package": INJECTION, "name": INJECTION,
                                        "rule": INJECTION, "rule_url": DOCS + "x|y>",
                                        "checks": (INJECTION,), "requirements": (INJECTION,)})
                 for hop in snap.hops)
    items = tuple(item.model_copy(update={"title": INJECTION, "detail": INJECTION, "checked_by": INJECTION,
                                          "checked": True}) for item in snap.checklist)
    agents = tuple({"id": 1, "name": INJECTION, "status": INJECTION, "detail": INJECTION,
                    "version": INJECTION} for _ in snap.agents)
    decision = DecisionView(decision="rejected", actor=INJECTION, reason=INJECTION, override=True,
                            decided_at=START)
    return snap.model_copy(update={
        "dms_name": INJECTION, "requester": INJECTION, "current_version": INJECTION,
        "target_version": INJECTION, "track": INJECTION, "hops": hops, "checklist": items, "agents": agents,
        "approval": decision,
    })


def every_message(snap: PlanSnapshot) -> dict[str, Any]:
    results = [CheckResult(name="alarms", title=INJECTION, status=CheckStatus.FAIL, detail=INJECTION,
                           agent=INJECTION)]
    agents = [AgentState(id=1, name=INJECTION, status=INJECTION, detail=INJECTION)]
    approved = snap.model_copy(update={"approval": snap.approval.model_copy(update={"decision": "approved"})})
    return {
        "plan": blocks.plan_message(snap),
        "approval request": blocks.approval_request(snap, approvers=(INJECTION, APPROVER)),
        "approval rejected": blocks.approval_decided(snap),
        "approval approved (override)": blocks.approval_decided(approved),
        "window modal": blocks_decisions.window_modal(snap, channel="C1", now=START),
        "override modal": blocks_decisions.override_modal(snap, needs=overrides_needed(snap), channel="C1"),
        "reject modal": blocks_decisions.reject_modal(snap, channel="C1"),
        "status": blocks_progress.status_message(snap, agents=agents),
        "check result": blocks_progress.check_result(snap, kind="pre", results=results, passed=False),
        "finished": blocks_progress.finished(snap, results=results),
        "failed": blocks_progress.failed(snap, reason=INJECTION, guidance="Restore the *snapshot*.",
                                         agents=agents),
        "cancelled": blocks_progress.cancelled(snap, actor=INJECTION, reason=INJECTION, agents=agents),
        "status summary": blocks_progress.status_summary(snap),
        "history": blocks_progress.history([snap]),
    }


def test_no_builder_lets_an_injection_through() -> None:
    found: dict[str, list[str]] = {}
    for name, message in every_message(injected_snapshot()).items():
        params = message.kwargs() if isinstance(message, Message) else {"view": message}
        if problems(params, users=USERS):
            found[name] = problems(params, users=USERS)
    assert not found


def test_the_bots_own_confirmation_still_names_who_ticked() -> None:
    snap = make_snapshot(state="scheduled")
    items = tuple(item.model_copy(update={"checked": True, "checked_by": REQUESTER})
                  if item.key == "details.backup" else item for item in snap.checklist)
    snap = snap.model_copy(update={"checklist": items})
    results = [CheckResult(name="backup", title="Backup", status=CheckStatus.PASS,
                           detail=f"confirmed by <@{REQUESTER}>"),
               CheckResult(name="alarms", title="Alarms", status=CheckStatus.WARN,
                           detail=f"element <@{APPROVER}>: confirmed by <@U1>")]
    text = str(blocks_progress.check_result(snap, kind="pre", results=results, passed=True).blocks)
    assert f"confirmed by <@{REQUESTER}>" in text  # a person who ticked the item, named by the bot
    assert f"<@{APPROVER}>" not in text and "<@U1>" not in text  # DMS text mentioning anyone
