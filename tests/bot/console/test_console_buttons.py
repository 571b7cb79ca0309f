"""Every button on the console's screen has its own number: the confirmation ``/dm-upgrade cancel 1 reason``
answers with (only the person sees it) is clickable, and the cancel keeps the reason typed with it."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from bot.console.runner import ConsoleOptions, run_console
from bot.settings import Settings
from tests.bot.console.test_console import clean_env, in_order

__all__ = ["clean_env"]  # the autouse fixture, so Settings never read this machine's environment


async def test_the_cancel_confirmation_has_its_own_number_and_keeps_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The watch driver waits for a person in Cube after the approval (given with an override reason, the
    # items left open): the plan stays executing.
    options = ConsoleOptions(speed=3000, pacer_interval_s=0.05, settle_timeout_s=60)
    script = "\n".join([
        "/dm-upgrade plan 10.5", "window now", "/as bob", "click 1", "submit a lab upgrade, items open",
        "/dm-upgrade cancel 1 the customer moved the broadcast",
    ]) + "\n"
    out = io.StringIO()
    code = await run_console(Settings(_env_file=None, dms_driver="watch"), options=options,
                             stdin=io.StringIO(script + "click PROMPT\n"), stdout=out, interactive=False)
    text = out.getvalue()
    prompt = text[text.index("bob> /dm-upgrade cancel 1"):]
    match = re.search(r"\[(\d+)\] Cancel the upgrade!", prompt)
    assert match is not None, prompt
    number = int(match.group(1))
    # Unique on the screen: after the plan message's last element (its Cancel button) and every other
    # message's buttons, so `click N` cannot reach a checkbox of the plan instead.
    before = text[:text.index("bob> /dm-upgrade cancel 1")]
    plan_cancel = [int(n) for n in re.findall(r"\[(\d+)\] Cancel!", before)][-1]
    assert number > plan_cancel, (number, plan_cancel)
    assert code == 1  # "click PROMPT" is not a number: the run above only found the prompt's number

    (tmp_path / "again").mkdir()
    monkeypatch.chdir(tmp_path / "again")  # a fresh database: the same session again, now clicking it
    out = io.StringIO()
    code = await run_console(Settings(_env_file=None, dms_driver="watch"), options=options,
                             stdin=io.StringIO(script + f"click {number}\n"),
                             stdout=out, interactive=False)
    text = out.getvalue()
    assert code == 0, text
    in_order(text, f"bob> click {number}", "being cancelled by @bob: the customer moved the broadcast",
             "cancelled by @bob: the customer moved the broadcast")
