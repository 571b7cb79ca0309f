"""An unreachable DMS under a running execution: asked again until a deadline, told to the thread once per
outage (lost, then back), never per poll."""

from __future__ import annotations

import time
from typing import Any

import pytest

from dms.exceptions import DmsUnreachable
from workflow.events import DmsConnectionLost, DmsConnectionRestored
from workflow.reachability import DmsGone, Reachability


class Host:
    def __init__(self) -> None:
        self.events: list[tuple[type, dict[str, Any]]] = []

    async def emit(self, event_type: type, plan_id: int, /, **fields: Any) -> None:
        self.events.append((event_type, fields))


def _reach(host: Host) -> Reachability:
    return Reachability(host=host, plan_id=1, dms_name="default", poll_s=0.001)  # type: ignore[arg-type]


async def test_many_failed_polls_are_one_lost_and_one_back() -> None:
    host = Host()
    answers = iter([DmsUnreachable("down")] * 5 + ["agents"])

    async def call() -> str:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    checks: list[int] = []

    async def check() -> None:
        checks.append(1)

    result = await _reach(host).patiently(call, deadline=time.monotonic() + 10, before_retry=check)
    assert result == "agents" and len(checks) == 5
    assert [kind for kind, _ in host.events] == [DmsConnectionLost, DmsConnectionRestored]
    assert host.events[0][1]["deadline"] is not None


async def test_a_dms_that_stays_down_past_the_deadline_is_gone() -> None:
    host = Host()

    async def call() -> None:
        raise DmsUnreachable("connection refused")

    with pytest.raises(DmsGone, match="connection refused"):
        await _reach(host).patiently(call, deadline=time.monotonic() + 0.02)
    assert [kind for kind, _ in host.events] == [DmsConnectionLost]


async def test_answers_alone_say_nothing() -> None:
    host = Host()
    reach = _reach(host)
    for _ in range(3):
        await reach.report(None)
    assert host.events == [] and not reach.lost
