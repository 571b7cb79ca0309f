"""Ack first: post-ack work waits for the acks of a burst, and a lone request's work does not wait."""

from __future__ import annotations

import asyncio

from handlers.listeners.middleware import ListenerWork

QUIET_S = 0.2  # longer than the production value, so that a busy machine cannot make two answers "apart"


async def answer(work: ListenerWork, release: asyncio.Event | None = None) -> None:
    async with work.answering():
        if release is not None:
            await release.wait()


async def nested_answer(work: ListenerWork) -> None:
    """As over HTTP: the exchange is answered inside ``answering`` and Bolt's middleware inside it again."""
    async with work.answering():
        await answer(work)


async def test_a_lone_requests_work_starts_at_once() -> None:
    """Over HTTP one request is two nested answers: the second must not make it a burst of its own."""
    work = ListenerWork(quiet_s=QUIET_S)
    await nested_answer(work)
    loop = asyncio.get_running_loop()
    began = loop.time()
    await work.after_acks()
    assert loop.time() - began < QUIET_S / 2


async def test_work_in_a_burst_waits_for_the_acks_of_requests_still_arriving() -> None:
    """The requests of a burst arrive a few milliseconds apart: the work of the second waited for no ack
    (none was pending between two arrivals) and took the loop from the third one's ack."""
    work = ListenerWork(quiet_s=QUIET_S)
    await answer(work)
    await answer(work)  # within the quiet time of the first: a burst
    order: list[str] = []

    async def post_ack_work() -> None:
        await work.after_acks(max_wait_s=10)
        order.append("work")

    waiting = asyncio.create_task(post_ack_work())
    await asyncio.sleep(0)
    assert not waiting.done()
    third = asyncio.Event()
    answering = asyncio.create_task(answer(work, third))  # arrives after the work started waiting
    await asyncio.sleep(0)
    assert work.awaiting_ack == 1 and not waiting.done()
    order.append("third acked")
    third.set()
    await answering
    await asyncio.wait_for(waiting, timeout=10)
    assert order == ["third acked", "work"]


async def test_the_wait_is_a_priority_not_a_lock() -> None:
    work = ListenerWork(quiet_s=QUIET_S)
    never = asyncio.Event()
    stuck = asyncio.create_task(answer(work, never))  # an answer that does not end
    await asyncio.sleep(0)
    loop = asyncio.get_running_loop()
    began = loop.time()
    await work.after_acks(max_wait_s=0.05)
    assert loop.time() - began < 5  # returned at its limit, the answer still pending
    assert work.awaiting_ack == 1
    never.set()
    await stuck


async def test_the_work_of_commands_typed_one_after_the_other_starts_in_that_order() -> None:
    """A status and then a cancel, typed quickly: the status must not be drawn after the cancel ran."""
    work = ListenerWork(quiet_s=QUIET_S)
    order: list[str] = []

    async def command(name: str) -> None:
        await answer(work)
        await work.after_acks(max_wait_s=10)
        order.append(name)

    tasks = []
    for name in ("status", "history", "cancel"):
        tasks.append(asyncio.create_task(command(name)))
        await asyncio.sleep(0)
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=10)
    assert order == ["status", "history", "cancel"]
