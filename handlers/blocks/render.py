"""Render Block Kit JSON as readable terminal text, for the console.

Pure functions. Interactive elements are numbered in reading order so the console's ``click N`` / ``tick N``
can address them: buttons render as ``[1] Approve``, checkbox options as ``(2) [x] Take a backup``. Thread
indentation is the caller's business.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any, Literal

RULE = "-" * 40

_LINK_RE = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")
_BOLD_RE = re.compile(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])")
_ITALIC_RE = re.compile(r"(?<![\w_])_([^_\n]+)_(?![\w_])")
_EMOJI = {
    "white_check_mark": "✅",
    "heavy_check_mark": "✔",
    "x": "❌",
    "warning": "⚠",
    "hourglass": "⌛",
    "hourglass_flowing_sand": "⏳",
    "rocket": "🚀",
    "no_entry": "⛔",
    "stopwatch": "⏱",
    "calendar": "📅",
    "lock": "🔒",
    "bust_in_silhouette": "👤",
}
_EMOJI_RE = re.compile(r":([a-z0-9_+-]+):")


@dataclass(frozen=True)
class Element:
    """One interactive thing the console can act on. ``raw`` is the button or the checkbox option as sent."""

    number: int
    kind: Literal["button", "checkbox"]
    action_id: str
    block_id: str | None
    value: str | None
    label: str
    checked: bool = False
    confirm: bool = False
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class RenderedMessage:
    text: str
    elements: list[Element]

    def element(self, number: int) -> Element:
        for element in self.elements:
            if element.number == number:
                return element
        raise LookupError(f"no element [{number}] in this message")

    def checkbox_group(self, element: Element) -> list[Element]:
        """All options of the checkboxes element ``element`` belongs to (to build ``selected_options``)."""
        return [
            e
            for e in self.elements
            if e.kind == "checkbox" and e.block_id == element.block_id and e.action_id == element.action_id
        ]


def clean_mrkdwn(text: str) -> str:
    """Slack mrkdwn to plain text: ``*b*`` -> b, ``<url|t>`` -> ``t (url)``, ``<@U1>`` -> ``@U1``."""

    def link(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if target.startswith(("@", "#")):
            return target[0] + label if label else target
        if target.startswith("!"):
            return "@" + (label or target[1:].split("^")[0])
        return f"{label} ({target})" if label and label != target else target

    text = _LINK_RE.sub(link, text)
    text = _BOLD_RE.sub(r"\1", text)
    text = _ITALIC_RE.sub(r"\1", text)
    text = _EMOJI_RE.sub(lambda m: _EMOJI.get(m.group(1), m.group(0)), text)
    return html.unescape(text)


def text_of(obj: Any) -> str:
    """The readable text of a Block Kit text object (plain_text or mrkdwn); ``""`` for anything else."""
    if isinstance(obj, str):
        return clean_mrkdwn(obj)
    if not isinstance(obj, dict):
        return ""
    text = str(obj.get("text", ""))
    return clean_mrkdwn(text) if obj.get("type") == "mrkdwn" else text


def render_message(blocks: list[dict[str, Any]] | None, text: str = "", *, first_number: int = 1
                   ) -> RenderedMessage:
    """Render a message; without blocks the fallback ``text`` is shown (Slack does the same). Elements are
    numbered from ``first_number`` (the console numbers an answer's buttons after those on screen)."""
    renderer = _Renderer(first_number=first_number)
    if not blocks:
        return RenderedMessage(text=clean_mrkdwn(text), elements=[])
    for block in blocks:
        renderer.block(block)
    return RenderedMessage(text="\n".join(renderer.lines).rstrip("\n"), elements=renderer.elements)


def render_view(view: dict[str, Any]) -> RenderedMessage:
    """Render a modal: its title, then its blocks (input labels and the elements they hold)."""
    rendered = render_message(view.get("blocks") or [], "")
    title = text_of(view.get("title"))
    text = f"== {title} ==\n{rendered.text}" if title else rendered.text
    return RenderedMessage(text=text, elements=rendered.elements)


class _Renderer:
    def __init__(self, *, first_number: int = 1) -> None:
        self.lines: list[str] = []
        self.elements: list[Element] = []
        self.first_number = first_number

    def block(self, block: dict[str, Any]) -> None:
        kind = block.get("type")
        block_id = block.get("block_id")
        if kind == "header":
            self.lines.append(f"== {text_of(block.get('text'))} ==")
        elif kind == "section":
            if block.get("text"):
                self.lines.append(text_of(block["text"]))
            for field_obj in block.get("fields") or []:
                self.lines.append("  " + text_of(field_obj).replace("\n", " "))
            if block.get("accessory"):
                self.element(block["accessory"], block_id=block_id, indent="  ")
        elif kind == "context":
            parts = [
                text_of(e) if e.get("type") in ("mrkdwn", "plain_text") else str(e.get("alt_text", ""))
                for e in block.get("elements") or []
            ]
            self.lines.append("  " + " | ".join(p for p in parts if p))
        elif kind == "divider":
            self.lines.append(RULE)
        elif kind == "actions":
            before = len(self.lines)
            buttons: list[str] = []
            for element in block.get("elements") or []:
                if element.get("type") == "button":
                    buttons.append(self.button(element, block_id=block_id))
                else:
                    self.element(element, block_id=block_id, indent="")
            if buttons:
                self.lines.insert(before, "  ".join(buttons))
        elif kind == "input":
            self.lines.append(f"{text_of(block.get('label'))}:")
            if block.get("element"):
                self.element(block["element"], block_id=block_id, indent="  ")
            if block.get("hint"):
                self.lines.append("  (" + text_of(block["hint"]) + ")")
        elif kind == "image":
            self.lines.append(f"[image: {block.get('alt_text', '')}]")
        elif kind == "rich_text":
            self.lines.append(_rich_text(block))
        else:
            self.lines.append(f"[{kind} block]")

    def button(self, element: dict[str, Any], *, block_id: str | None) -> str:
        number = len(self.elements) + self.first_number
        label = text_of(element.get("text"))
        self.elements.append(
            Element(
                number=number,
                kind="button",
                action_id=str(element.get("action_id", "")),
                block_id=block_id,
                value=element.get("value"),
                label=label,
                confirm="confirm" in element,
                raw=element,
            )
        )
        style = element.get("style")
        marker = {"danger": "!", "primary": "*"}.get(style or "", "")
        return f"[{number}] {label}{marker}"

    def element(self, element: dict[str, Any], *, block_id: str | None, indent: str) -> None:
        kind = element.get("type")
        if kind == "button":
            self.lines.append(indent + self.button(element, block_id=block_id))
        elif kind == "checkboxes":
            checked = {o.get("value") for o in element.get("initial_options") or []}
            for option in element.get("options") or []:
                number = len(self.elements) + self.first_number
                is_checked = option.get("value") in checked
                label = text_of(option.get("text"))
                self.elements.append(
                    Element(
                        number=number,
                        kind="checkbox",
                        action_id=str(element.get("action_id", "")),
                        block_id=block_id,
                        value=option.get("value"),
                        label=label,
                        checked=is_checked,
                        raw=option,
                    )
                )
                mark = "x" if is_checked else " "
                desc = text_of(option.get("description"))
                self.lines.append(f"{indent}({number}) [{mark}] {label}" + (f" - {desc}" if desc else ""))
        elif kind in ("datepicker", "timepicker", "datetimepicker", "plain_text_input", "static_select"):
            initial = (
                element.get("initial_date")
                or element.get("initial_time")
                or element.get("initial_date_time")
                or element.get("initial_value")
                or text_of((element.get("initial_option") or {}).get("text"))
                or text_of(element.get("placeholder"))
            )
            self.lines.append(f"{indent}<{kind}: {initial or ''}>")
        elif kind == "image":
            self.lines.append(f"{indent}[image: {element.get('alt_text', '')}]")
        else:
            self.lines.append(f"{indent}<{kind}>")


def _rich_text(block: dict[str, Any]) -> str:
    # Only the text runs matter in a terminal; styles and list markers are dropped.
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "text":
                parts.append(str(node.get("text", "")))
            elif node.get("type") == "link":
                parts.append(str(node.get("text") or node.get("url", "")))
            elif node.get("type") == "user":
                parts.append("@" + str(node.get("user_id", "")))
            for child in node.get("elements") or []:
                walk(child)

    walk(block)
    return "".join(parts)
