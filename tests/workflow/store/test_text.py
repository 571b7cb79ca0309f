"""A reason as stored: no NUL (PostgreSQL refuses it), no bidi controls, bounded."""

from __future__ import annotations

from workflow.model import text


def test_a_reason_loses_its_control_characters_and_is_bounded() -> None:
    assert text.reason("  disk\x00 full\u202e  ") == "disk full"
    assert text.reason(None) == ""
    assert text.reason("line one\nline two\ttab") == "line one\nline two\ttab"  # layout is kept
    assert text.reason("x" * 5000, limit=10) == "x" * 9 + "…"
