"""What a click on Approve or Reject leads to, decided by the workflow alone (one call from the listener)."""

from __future__ import annotations

from tests.handlers.conftest import make_snapshot
from workflow.decisions import prompt


def test_an_approver_is_asked_for_a_reason_only_when_approving_would_set_something_aside() -> None:
    waiting = make_snapshot(state="awaiting_approval")
    asked = prompt(waiting, user="UAPP", approving=True, may_decide=True, allow_self_approval=False)
    assert asked.ask_reason == bool(asked.overrides)
    assert any("open item" in need or "pre-upgrade check" in need for need in asked.overrides)
    rejecting = prompt(waiting, user="UAPP", approving=False, may_decide=True, allow_self_approval=False)
    assert rejecting.ask_reason


def test_no_form_for_whoever_the_engine_refuses() -> None:
    waiting = make_snapshot(state="awaiting_approval")
    for user, may, allow in (("UOTHER", False, False), (waiting.requester, True, False)):
        asked = prompt(waiting, user=user, approving=True, may_decide=may, allow_self_approval=allow)
        assert not asked.ask_reason and asked.overrides == ()
    scheduled = make_snapshot(state="scheduled")  # nothing waits for a decision yet
    early = prompt(scheduled, user="UAPP", approving=False, may_decide=True, allow_self_approval=False)
    assert not early.ask_reason
    own = prompt(waiting, user=waiting.requester, approving=True, may_decide=True, allow_self_approval=True)
    assert own.ask_reason == bool(own.overrides)  # ALLOW_SELF_APPROVAL: the requester is an approver like any
