"""Bad input, kept as tests: arbitrary signed slash-command texts, action payloads and view
submissions, posted over real HTTP by someone who may change nothing. The bot never answers 5xx, never logs a
traceback, and never changes the plan it was not asked to change (nor makes one)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers.ids import ActionId, BlockId, CallbackId
from tests.handlers.conftest import CHANNEL, REQUESTER, SECRET, Stack
from tests.handlers.listeners.test_actions import planned
from tests.support import slack_requests as sr

BYSTANDER = "UFUZZER"
FUZZ = settings(max_examples=25, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

words = st.sampled_from(["plan", "status", "check", "cancel", "history", "help", "on", "track", "at", "for",
                         "1", "#1", "0", "10.4", "10.4.0 CU5", "main", "2030-05-05", "22:00", "4h", "²",
                         "<!channel>", "\x00", "\u202e", "-1", "99999999999999999999"])
slash_texts = st.one_of(st.text(max_size=60), st.lists(words, max_size=8).map(" ".join))
some_text = st.one_of(st.none(), st.text(max_size=30), words)
CHECKLISTS = ["checklist.details", "checklist.execute", "checklist.details-2", "checklist.x"]
action_ids = st.one_of(st.sampled_from([a.value for a in ActionId] + CHECKLISTS), st.text(max_size=20))
block_ids = st.one_of(st.sampled_from(["checklist.details#1", "checklist.details#abc", "checklist.details#²",
                                       "checklist.details#999999999999", "b"]), st.text(max_size=20))
options = st.lists(st.fixed_dictionaries({"value": st.one_of(st.text(max_size=30), st.sampled_from(
    ["details.backup", "details.connect", "verify.key_functionalities"]))}), max_size=4)
ODD_METADATA = ['{"plan_id": 1e400}', '{"plan_id": NaN}', '{"plan_id": [1]}', "[[[[1]]]]", "[" * 3000]
plan_ids = st.one_of(st.integers(), st.text(max_size=5), st.none(), st.just(1))
metadata = st.one_of(st.text(max_size=40), st.sampled_from(ODD_METADATA),
                     st.builds(lambda plan_id: json.dumps({"plan_id": plan_id}), plan_ids))


def facts(stack: Stack) -> Any:
    """Everything about the plans a bystander could change."""
    snaps = stack.runtime.engine.history(limit=100)
    return [(s.id, s.state, s.window_start, s.window_end, s.approval,
             s.precheck.id if s.precheck else None, [(i.key, i.checked) for i in s.checklist]) for s in snaps]


async def check_post(
    stack: Stack, request: sr.Request, before: Any, caplog: pytest.LogCaptureFixture
) -> None:
    response = await stack.post(request)
    assert response.status_code < 500, response.text
    await stack.settle()
    assert facts(stack) == before
    assert all(record.exc_info is None for record in caplog.records), caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


def _names_plan_one(private: str) -> bool:
    try:
        return int(json.loads(private)["plan_id"]) == 1
    except (ValueError, KeyError, TypeError, OverflowError):
        return False


@pytest.fixture
async def fuzzed(stack: Stack, caplog: pytest.LogCaptureFixture) -> tuple[Stack, Any]:
    await planned(stack)
    caplog.set_level(logging.INFO)
    return stack, facts(stack)


@FUZZ
@given(text=slash_texts)
async def test_slash_commands(fuzzed: tuple[Stack, Any], caplog: pytest.LogCaptureFixture, text: str) -> None:
    stack, before = fuzzed
    await check_post(stack, sr.slash_command(text, signing_secret=SECRET, user_id=BYSTANDER,
                                             channel_id=CHANNEL), before, caplog)


@FUZZ
@given(action_id=action_ids, block_id=block_ids, value=some_text, selected=options,
       kind=st.sampled_from(["button", "checkboxes"]), user=st.sampled_from([BYSTANDER, "", "U1 x", "\x00"]))
async def test_actions(fuzzed: tuple[Stack, Any], caplog: pytest.LogCaptureFixture, action_id: str,
                       block_id: str, value: str | None, selected: list[dict[str, str]], kind: str,
                       user: str) -> None:
    stack, before = fuzzed
    await check_post(stack, sr.block_actions(
        signing_secret=SECRET, action_id=action_id, block_id=block_id, value=value, action_type=kind,
        selected_options=selected, message_ts="1700000000.000100", user_id=user, channel_id=CHANNEL,
    ), before, caplog)


@FUZZ
@given(callback=st.one_of(st.just(CallbackId.WINDOW_MODAL.value), st.text(max_size=10)), private=metadata,
       date=some_text, time=some_text, duration=some_text, requester=st.booleans(),
       odd=st.sampled_from([None, "flat", "list"]))
async def test_view_submissions(fuzzed: tuple[Stack, Any], caplog: pytest.LogCaptureFixture, callback: str,
                                private: str, date: str | None, time: str | None, duration: str | None,
                                requester: bool, odd: str | None) -> None:
    stack, before = fuzzed
    if requester and _names_plan_one(private):
        private = json.dumps({"plan_id": 2})  # the requester may move plan #1's window: that is asked for
    values: dict[str, Any] = {
        BlockId.WINDOW_DATE.value: {ActionId.WINDOW_DATE.value: {"selected_date": date}},
        BlockId.WINDOW_TIME.value: {ActionId.WINDOW_TIME.value: {"selected_time": time}},
        BlockId.WINDOW_DURATION.value: {ActionId.WINDOW_DURATION.value: {"value": duration}},
    }
    if odd == "flat":  # shapes Slack never sends
        values = {block: "x" for block in values}
    elif odd == "list":
        values = {block: {action: ["x"] for action in state} for block, state in values.items()}
    await check_post(stack, sr.view_submission(
        signing_secret=SECRET, callback_id=callback, values=values, private_metadata=private,
        user_id=REQUESTER if requester else BYSTANDER,
    ), before, caplog)
