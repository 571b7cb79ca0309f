"""The roles hold in the console too (the engine checks them): carol, neither requester nor approver, cannot
tick "Backup taken" or move the window; both are refused to her alone."""

from __future__ import annotations

from tests.bot.console.test_console import clean_env, in_order, session

__all__ = ["clean_env"]  # the autouse fixture, so Settings never read this machine's environment


async def test_a_bystander_is_refused_in_the_console() -> None:
    script = "\n".join(["/dm-upgrade plan 10.5", "/as carol", "tick 10", "window now", "show"]) + "\n"
    code, text = await session(script)
    assert code == 1, text
    in_order(
        text,
        "(now acting as carol, not an approver)",
        "carol> tick 10", "(only visible to carol)", "Not changed", "may tick the preparation items",
        "carol> window now", "(only visible to carol)", "may set the window",
        "carol> show", "Window: not set", "(10) [ ] backup: Backup taken",
    )
