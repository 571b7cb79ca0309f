"""The pure builders behind the plan message's warnings and notes and the next step of ``status``."""

from __future__ import annotations

from typing import Any

import pytest

from dms.upgrade_path import PathWarning, WarningKind
from handlers.blocks.notes import approver_note, next_step, plan_warning_lines
from handlers.blocks.plan import plan_message
from handlers.blocks.render import render_message
from tests.handlers.conftest import REQUESTER, make_snapshot
from tests.support.clock import START
from tests.support.slack_markup import problems
from workflow.settings import WorkflowSettings


def settings(**values: Any) -> WorkflowSettings:
    return WorkflowSettings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.mark.parametrize(("values", "expected"), [
    ({"upgrade_approvers": []}, "No upgrade approver is configured"),
    ({"upgrade_approvers": [REQUESTER]}, "who may not approve their own upgrade"),
    ({"upgrade_approvers": [REQUESTER], "allow_self_approval": True}, "ALLOW_SELF_APPROVAL"),
    ({"upgrade_approvers": [REQUESTER, "UOTHER"]}, None),
    ({"upgrade_approvers": [], "upgrade_approver_group": "S123"}, None),
])
def test_the_approver_note(values: dict[str, Any], expected: str | None) -> None:
    note = approver_note(make_snapshot(), settings=settings(**values))
    if expected is None:
        assert note is None
    else:
        assert note is not None and expected in note and "UPGRADE_APPROVERS" in note


def test_warnings_are_escaped_and_a_known_issue_stands_next_to_its_hop() -> None:
    snap = make_snapshot().model_copy(update={"warnings": (
        PathWarning(kind=WarningKind.SUPPORT, text="9.6 <ends> & more", url="https://x/y"),
        PathWarning(kind=WarningKind.KNOWN_ISSUE, text="hop 2 trips over a bug", hop=1),
    )})
    assert plan_warning_lines(snap) == [":warning: *Support*: 9.6 &lt;ends&gt; &amp; more (<https://x/y|docs>)"]
    text = render_message(plan_message(snap).blocks).text
    hop2 = text.index("2. 10.1.0 CU1")
    assert text.index("Known issue: hop 2 trips over a bug") > hop2
    assert text.index("Support: 9.6 <ends> & more") < text.index("Upgrade path")


@pytest.mark.parametrize(("state", "expected"), [
    ("planned", f"<@{REQUESTER}> sets the upgrade window"),
    ("blocked", "runs it again (`/dm-upgrade check 1`)"),
    ("executing", "nothing to do: the bot is upgrading"),
    ("cancelling", "watches the agents until they settle"),
    ("expired", "plan a new one"),
])
def test_the_next_step(state: str, expected: str) -> None:
    line = next_step(make_snapshot(state=state), settings=settings(upgrade_approvers=["UAPP"]), now=START)
    assert line.startswith("*Next:*") and expected in line


@pytest.mark.parametrize("state", ["cancelled", "expired", "failed"])
def test_the_next_step_of_an_ended_plan_names_the_command_without_a_live_link(state: str) -> None:
    """``plan <version>`` went out as it is: in Slack's mrkdwn ``<version>`` is a link (found when a status
    answer was drawn after the plan was cancelled)."""
    line = next_step(make_snapshot(state=state), settings=settings(), now=START)
    assert "`/dm-upgrade plan &lt;version&gt;`" in line
    assert problems({"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": line}}]},
                    users=[]) == []


def test_after_done_the_requester_is_asked_for_every_step_after_the_upgrade() -> None:
    from handlers.blocks.progress import key_functionalities_request
    from workflow.store.checklist import Phase
    from workflow.store.snapshot import ItemView

    snap = make_snapshot(state="done")
    helper = ItemView(key="verify.helper.dmz", title="After NATSMigration: reconfigure the <DMZ>",
                      phase=Phase.VERIFY, kind="manual", required=True, checked=False, checked_by=None,
                      checked_at=None, detail="")
    snap = snap.model_copy(update={"checklist": (*snap.checklist, helper)})
    ask = key_functionalities_request(snap)
    assert ask is not None
    text = ask.blocks[0]["text"]["text"]
    assert text.startswith(f"<@{REQUESTER}>, please check the key functionalities")
    assert "“Key functionalities checked after the upgrade”" in text
    assert "reconfigure the &lt;DMZ&gt;" in text
    ticked = snap.model_copy(update={"checklist": tuple(
        i.model_copy(update={"checked": True}) for i in snap.checklist)})
    assert key_functionalities_request(ticked) is None
