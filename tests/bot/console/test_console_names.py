"""Checklist items by their short names: the console's ``tick NAME`` and the slash command's ``tick ID NAME``
tick the same item in two plans whose numbering differs (the second path adds items before it)."""

from __future__ import annotations

import re

from tests.bot.console.test_console import clean_env, in_order, session

__all__ = ["clean_env"]  # the autouse fixture, so Settings never read this machine's environment


def number_of(text: str, name: str, *, plan: int) -> int:
    """The number the console showed the named item with, in the plan message of ``plan``."""
    part = text[text.index(f"Upgrade plan #{plan}"):]
    match = re.search(rf"\((\d+)\) \[[ x]\] {re.escape(name)}: ", part)
    assert match is not None, part
    return int(match.group(1))


async def test_two_plans_with_different_step_sets_tick_the_same_item_by_name() -> None:
    script = "\n".join([
        "/dm-upgrade plan 10.5",
        "tick backup upload-only",
        "/dm-upgrade tick 1 requirements",
        "/dm-upgrade cancel 1",
        "/dm-upgrade plan 10.6",
        "tick upload-only backup",
        "/dm-upgrade tick 2 release-notes requirements",
        "/dm-upgrade tick 2 banana",
    ]) + "\n"
    code, text = await session(script)
    assert code == 0, text  # a refused slash command is an answer, not a failed line
    assert "Ticked requirements on plan #1." in text
    assert "Ticked release-notes, requirements on plan #2." in text
    assert text.count("[x] requirements: Minimum requirements met") == 2
    # The path to 10.6 adds requirements before the pre-check phase: the same item, another number.
    assert number_of(text, "upload-only", plan=1) != number_of(text, "upload-only", plan=2)
    in_order(
        text,
        "alice> tick backup upload-only",
        "[x] backup: Backup taken", "- by @alice", "[x] upload-only: Upload only done in Cube", "- by @alice",
        "alice> /dm-upgrade tick 1 requirements", "[x] requirements: Minimum requirements met",
        "alice> /dm-upgrade plan 10.6", "Upgrade plan #2",
        "alice> tick upload-only backup", "[x] upload-only: Upload only done in Cube",
        "[x] backup: Backup taken",
        "alice> /dm-upgrade tick 2 release-notes requirements", "[x] release-notes: Release notes",
        "alice> /dm-upgrade tick 2 banana", "(only visible to alice)",
        "Plan #2 has no checklist item `banana`",
    )
