"""What the console prints: the fake Slack's messages as readable text, edits kept short.

Each message the bot posts gets a label (``m1``, ``m2`` ...) that ``click N in m3`` and ``show m3`` use.
Replies are indented under their parent; an edit prints only the lines that changed (one line for a
thread reply such as the progress status message), so a long upgrade does not reprint the plan message
on every progress tick. Pure: it turns events into lines and keeps the per-message state it needs.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.console.fake_slack_state import FakeEvent, FakeMessage
from handlers.blocks.render import RenderedMessage, render_message, render_view

REPLY_INDENT = "      "
MAX_EDIT_LINES = 8
MAX_COMPACT_CHARS = 160


@dataclass
class MessageState:
    label: str
    channel: str
    ts: str
    thread_ts: str | None
    order: int
    rendered: RenderedMessage
    deleted: bool = False
    ephemeral: bool = False  # an answer only the acting user sees (no message Slack keeps to edit)


@dataclass
class Transcript:
    """The console's view of the conversation, fed event by event; ``user_names`` maps ids to names."""

    user_names: Mapping[str, str]
    channel_names: Mapping[str, str] = field(default_factory=dict)
    messages: dict[tuple[str, str], MessageState] = field(default_factory=dict)
    view: dict[str, Any] | None = None
    _count: int = 0  # messages posted (labels m1, m2 ...)
    _answers: int = 0  # answers with buttons kept to be clicked (labels e1, e2 ...)
    _order: int = 0  # both, in the order they arrived

    # ----- lookups used by the console's commands ---------------------------------------------------

    def by_label(self, label: str) -> MessageState:
        wanted = label.strip().lower().lstrip("#")
        for state in self.messages.values():
            if state.label == wanted and not state.deleted:
                return state
        raise LookupError(f"no message {label!r}; labels look like m1, m2 ...")

    def owner_of(self, number: int) -> MessageState | None:
        """The newest message on screen with element ``number``: an answer's buttons are numbered after
        everything else on screen (``ephemeral_lines``), so each number names one thing to click."""
        candidates = [s for s in self.messages.values() if not s.deleted and any(
            e.number == number for e in s.rendered.elements)]
        return max(candidates, key=lambda s: s.order, default=None)

    def latest_with_elements(self) -> MessageState | None:
        """The most recently posted message that still has buttons or checkboxes."""
        candidates = [s for s in self.messages.values() if s.rendered.elements and not s.deleted]
        return max(candidates, key=lambda s: s.order, default=None)

    def latest_with_action(self, action_id: str) -> MessageState | None:
        candidates = [
            s for s in self.messages.values()
            if not s.deleted and any(e.action_id == action_id for e in s.rendered.elements)
        ]
        return max(candidates, key=lambda s: s.order, default=None)

    # ----- events -> lines ---------------------------------------------------------------------------

    def lines_for(self, event: FakeEvent) -> list[str]:
        if event.kind in ("view_opened", "view_updated"):
            self.view = dict(event.view or {})
            return self.form_lines(self.view)
        message = event.message
        if message is None:
            return []
        if event.kind == "posted":
            return self._posted(message)
        if event.kind == "updated":
            return self._updated(message)
        if event.kind == "deleted":
            state = self.messages.get((message.channel, message.ts))
            if state is None:
                return []
            state.deleted = True
            return [self._indent(state.thread_ts) + f"x {state.label} deleted"]
        return self.ephemeral_lines(message.text, message.blocks, to=message.ephemeral_to, message=message)

    def ephemeral_lines(self, text: str, blocks: list[dict[str, Any]] | None, *, to: str | None,
                        message: FakeMessage | None = None) -> list[str]:
        """An answer only ``to`` sees. Its buttons (a confirmation) get numbers after every number on screen,
        so ``click N`` reaches them and nothing else; it is kept (label ``eN``) to be clicked."""
        shown = [m for m in self.messages.values() if not m.deleted]
        highest = max((e.number for m in shown for e in m.rendered.elements), default=0)
        rendered = self.render(blocks, text, first_number=highest + 1)
        if rendered.elements and message is not None:
            self._answers += 1
            self._order += 1
            self.messages[(message.channel, message.ts)] = MessageState(
                label=f"e{self._answers}", channel=message.channel, ts=message.ts,
                thread_ts=message.thread_ts, order=self._order, rendered=rendered, ephemeral=True)
        who = self.user_names.get(to or "", to or "you")
        lines = [f"  (only visible to {who})"]
        lines.extend("  | " + line for line in rendered.text.splitlines() or [""])
        return lines

    def form_lines(self, view: dict[str, Any]) -> list[str]:
        rendered = render_view(view)
        lines = ["  [form] " + line if i == 0 else "  [form]   " + line
                 for i, line in enumerate(self.names(rendered.text).splitlines())]
        lines.append("  [form] fill it: window now [for 4h] | window YYYY-MM-DD HH:MM [for 4h] | submit "
                     "| close")
        return lines

    def full(self, state: MessageState) -> list[str]:
        indent = self._indent(state.thread_ts)
        body = state.rendered.text.splitlines()
        return [indent + f"[{state.label}]"] + [indent + "  " + line for line in body]

    # ----- internals ---------------------------------------------------------------------------------

    def render(self, blocks: list[dict[str, Any]] | None, text: str, *,
               first_number: int = 1) -> RenderedMessage:
        rendered = render_message(blocks, text, first_number=first_number)
        return RenderedMessage(text=self.names(rendered.text), elements=rendered.elements)

    def names(self, text: str) -> str:
        """``@U0BOB`` and bare ``U0BOB`` -> ``@bob``, so the transcript reads like Slack does."""
        for user_id, name in self.user_names.items():
            text = re.sub(rf"@?\b{re.escape(user_id)}\b", "@" + name, text)
        return text

    def _posted(self, message: FakeMessage) -> list[str]:
        self._count += 1
        self._order += 1
        state = MessageState(
            label=f"m{self._count}", channel=message.channel, ts=message.ts, thread_ts=message.thread_ts,
            order=self._order, rendered=self.render(message.blocks, message.text),
        )
        self.messages[(message.channel, message.ts)] = state
        indent = self._indent(message.thread_ts)
        if message.thread_ts is None:
            where = "#" + self.channel_names.get(message.channel, message.channel)
            head = f"[{state.label}] {where}"
        else:
            parent = self.messages.get((message.channel, message.thread_ts))
            head = f"[{state.label}] reply to {parent.label if parent else 'a thread'}"
            if message.reply_broadcast:
                head += " (also sent to the channel)"
        body = state.rendered.text.splitlines() or [""]
        return [indent + head] + [indent + "  " + line for line in body]

    def _updated(self, message: FakeMessage) -> list[str]:
        state = self.messages.get((message.channel, message.ts))
        if state is None:  # posted before the console subscribed: treat the edit as news
            return self._posted(message)
        before = state.rendered.text.splitlines()
        state.rendered = self.render(message.blocks, message.text)
        after = state.rendered.text.splitlines()
        changed = [line.strip() for line in after if line not in before and line.strip()]
        if not changed:
            return []
        indent = self._indent(state.thread_ts)
        if state.thread_ts is not None:
            # A reply edited in place is a status line (progress): one line per edit, the summary lines
            # first and of the per-agent bullets only the first (they usually change together).
            bullets = [line for line in changed if line.startswith(("•", "-"))]
            parts = [line for line in changed if line not in bullets]
            if bullets:
                parts.append(bullets[0] + (f" (+{len(bullets) - 1} more)" if len(bullets) > 1 else ""))
            compact = " · ".join(parts)
            if len(compact) > MAX_COMPACT_CHARS:
                compact = compact[: MAX_COMPACT_CHARS - 1] + "…"
            return [indent + f"~ {state.label}: {compact}"]
        lines = [indent + f"~ {state.label} updated:"]
        changed_full = [line for line in difflib.ndiff(before, after) if line.startswith("+ ")]
        shown = [line[2:] for line in changed_full if line[2:].strip()]
        lines.extend(indent + "  " + line for line in shown[:MAX_EDIT_LINES])
        if len(shown) > MAX_EDIT_LINES:
            more = len(shown) - MAX_EDIT_LINES
            lines.append(indent + f"  ... ({more} more changed lines: show {state.label})")
        return lines

    def _indent(self, thread_ts: str | None) -> str:
        return REPLY_INDENT if thread_ts is not None else ""
