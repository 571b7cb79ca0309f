"""Block Kit rendered as terminal text, with numbered buttons and checkboxes."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    CheckboxesElement,
    ConfirmObject,
    ContextBlock,
    DatePickerElement,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    SectionBlock,
)

from handlers.blocks.render import clean_mrkdwn, render_message, render_view
from handlers.ids import ActionId, BlockId, checklist_action_id, checklist_block_id


def plan_blocks() -> list[dict[str, Any]]:
    backup = Option(value="backup", text="Take a backup")
    upload = Option(value="upload", text="Upload the packages", description="done by the bot")
    blocks = [
        HeaderBlock(text="DMS Lab: 10.3.0 CU5 -> 10.4.0 CU2"),
        SectionBlock(
            text=MarkdownTextObject(text="*Track* main, see <https://docs.x.example|the docs> &amp; more"),
            fields=[MarkdownTextObject(text="*Agents*\n4"), MarkdownTextObject(text="*ETA*\n1 h 20 min")],
        ),
        DividerBlock(),
        SectionBlock(
            block_id=checklist_block_id("preparation"),
            text="*Preparation*",
            accessory=CheckboxesElement(
                action_id=checklist_action_id("preparation"),
                options=[backup, upload],
                initial_options=[upload],
            ),
        ),
        ContextBlock(elements=[MarkdownTextObject(text="requested by <@U0ALICE> :white_check_mark:")]),
        ActionsBlock(
            block_id=BlockId.PLAN_ACTIONS,
            elements=[
                ButtonElement(text="Set window", action_id=ActionId.SET_WINDOW, value="42"),
                ButtonElement(text="Run check now", action_id=ActionId.RUN_CHECK, value="4", style="primary"),
                ButtonElement(
                    text="Cancel",
                    action_id=ActionId.CANCEL,
                    value="42",
                    style="danger",
                    confirm=ConfirmObject(title="Cancel?", text="Cancel upgrade 42?"),
                ),
            ],
        ),
    ]
    return [block.to_dict() for block in blocks]


def test_plan_message_renders_readably_with_numbered_elements() -> None:
    rendered = render_message(plan_blocks(), "fallback")
    assert rendered.text.splitlines() == [
        "== DMS Lab: 10.3.0 CU5 -> 10.4.0 CU2 ==",
        "Track main, see the docs (https://docs.x.example) & more",
        "  Agents 4",
        "  ETA 1 h 20 min",
        "-" * 40,
        "Preparation",
        "  (1) [ ] Take a backup",
        "  (2) [x] Upload the packages - done by the bot",
        "  requested by @U0ALICE ✅",
        "[3] Set window  [4] Run check now*  [5] Cancel!",
    ]
    kinds = [(e.number, e.kind, e.label, e.checked) for e in rendered.elements]
    assert kinds == [
        (1, "checkbox", "Take a backup", False),
        (2, "checkbox", "Upload the packages", True),
        (3, "button", "Set window", False),
        (4, "button", "Run check now", False),
        (5, "button", "Cancel", False),
    ]
    cancel = rendered.element(5)
    assert (cancel.action_id, cancel.block_id, cancel.value) == ("plan.cancel", "plan.actions", "42")
    assert cancel.confirm and not rendered.element(3).confirm
    box = rendered.element(1)
    assert box.action_id == "checklist.preparation" and box.block_id == "checklist.preparation"
    assert [e.value for e in rendered.checkbox_group(box)] == ["backup", "upload"]
    assert rendered.element(2).raw["value"] == "upload"  # the option as sent, for selected_options
    with pytest.raises(LookupError):
        rendered.element(6)


def test_without_blocks_the_fallback_text_is_shown() -> None:
    rendered = render_message([], "*Upgrade 42* done <https://x.example/|details>")
    assert rendered.text == "Upgrade 42 done details (https://x.example/)"
    assert rendered.elements == []


@pytest.mark.parametrize(
    ("mrkdwn", "plain"),
    [
        ("*bold* and _it_", "bold and it"),
        ("<https://a.example>", "https://a.example"),
        ("<#C1|upgrades> <!here>", "#upgrades @here"),
        ("a*b*c snake_case_name", "a*b*c snake_case_name"),
        ("1 &lt; 2 &gt; 0 :unknown_emoji:", "1 < 2 > 0 :unknown_emoji:"),
    ],
)
def test_clean_mrkdwn(mrkdwn: str, plain: str) -> None:
    assert clean_mrkdwn(mrkdwn) == plain


def test_window_modal_renders_inputs() -> None:
    view = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Upgrade window"},
        "blocks": [
            InputBlock(
                block_id=BlockId.WINDOW_DATE,
                label="Date",
                element=DatePickerElement(action_id=ActionId.WINDOW_DATE, initial_date="2026-12-01"),
            ).to_dict(),
            InputBlock(
                block_id=BlockId.WINDOW_DURATION,
                label="Duration",
                element=PlainTextInputElement(action_id=ActionId.WINDOW_DURATION, initial_value="4h"),
                hint="e.g. 4h or 90m",
            ).to_dict(),
        ],
    }
    assert render_view(view).text.splitlines() == [
        "== Upgrade window ==",
        "Date:",
        "  <datepicker: 2026-12-01>",
        "Duration:",
        "  <plain_text_input: 4h>",
        "  (e.g. 4h or 90m)",
    ]


def test_unknown_blocks_and_rich_text_do_not_break_rendering() -> None:
    blocks: list[dict[str, Any]] = [
        {"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": [
            {"type": "text", "text": "hop 1 of 2 "}, {"type": "user", "user_id": "U1"}]}]},
        {"type": "video", "title": {"type": "plain_text", "text": "x"}},
        {"type": "image", "image_url": "https://x.example/a.png", "alt_text": "graph"},
    ]
    lines = render_message(blocks, "").text.splitlines()
    assert lines == ["hop 1 of 2 @U1", "[video block]", "[image: graph]"]
