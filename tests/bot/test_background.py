"""The runtime's background loops in one task group (``bot.background``): loops run until stopped, each is
awaited on stop (even when the runtime is started and stopped from two different tasks, as a test
fixture's setup and teardown are), a name runs once, and a loop that fails is logged and takes the others
with it, as a task group does."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.background import BackgroundLoops
from tests.support.polling import wait_until


class Probe:
    def __init__(self, *, fail_after: int | None = None) -> None:
        self.rounds = 0
        self.ended = False
        self._fail_after = fail_after

    async def run(self) -> None:
        try:
            while True:
                self.rounds += 1
                if self._fail_after is not None and self.rounds > self._fail_after:
                    raise ValueError("a bug in a probe")
                await asyncio.sleep(0.001)
        finally:
            self.ended = True


async def test_loops_run_until_stopped_and_each_is_awaited_across_tasks() -> None:
    loops, dms, slack = BackgroundLoops(), Probe(), Probe()
    await asyncio.get_running_loop().create_task(loops.start())  # started in one task...
    loops.run("dms-probe", dms.run)
    loops.run("slack-check", slack.run)
    loops.run("slack-check", slack.run)  # serving twice starts the check once
    await wait_until(lambda: dms.rounds > 3 and slack.rounds > 3, what="both loops running")
    assert loops.running == {"dms-probe", "slack-check"}
    await asyncio.get_running_loop().create_task(loops.stop())  # ...stopped in another
    assert dms.ended and slack.ended and loops.running == frozenset()
    await loops.stop()  # a second stop is nothing


async def test_a_loop_added_before_the_group_opened_is_refused() -> None:
    with pytest.raises(RuntimeError, match=r"before BackgroundLoops\.start"):
        BackgroundLoops().run("dms-probe", Probe().run)


async def test_a_failing_loop_is_logged_and_takes_the_others_with_it(
    caplog: pytest.LogCaptureFixture
) -> None:
    loops, broken, other = BackgroundLoops(), Probe(fail_after=2), Probe()
    await loops.start()
    with caplog.at_level(logging.ERROR, logger="bot.background"):
        loops.run("broken", broken.run)
        loops.run("other", other.run)
        await wait_until(lambda: broken.ended and other.ended, what="the group to end")
    assert "a background loop failed and the others were stopped with it" in caplog.text
    assert "a bug in a probe" in caplog.text
    await loops.stop()
