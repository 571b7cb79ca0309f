"""Retries of the Web API client and the per-channel pacer, against the fake Slack server over HTTP."""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from handlers.delivery.slack_web import ChannelPacer, RetryAfterHandler, make_web_client
from tests.support.fake_slack_faults import FaultySlack

TOKEN = "xoxb-test-token"


@pytest.fixture
async def fake() -> AsyncIterator[FaultySlack]:
    server = FaultySlack()
    await server.start()
    yield server
    await server.stop()


def fast_client(fake: FaultySlack, *, max_retries: int = 8) -> AsyncWebClient:
    assert fake.base_url is not None
    return make_web_client(
        token=TOKEN,
        base_url=fake.base_url,
        max_retries=max_retries,
        backoff_factor=0.001,
        jitter=0,
    )


class FakeClock:
    """Time that moves only when someone sleeps: pacing is checked without waiting for it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


async def test_429_is_retried_until_it_goes_through(fake: FaultySlack) -> None:
    fake.fail_next("chat.postMessage", status=429, retry_after=0, count=3)
    answer = await fast_client(fake).chat_postMessage(channel="C1", text="hello")
    assert answer["ok"]
    assert [c.status for c in fake.calls_for("chat.postMessage")] == [429, 429, 429, 200]
    assert [m.text for m in fake.channel_messages("C1")] == ["hello"]


async def test_retry_after_value_is_honoured(fake: FaultySlack) -> None:
    assert fake.base_url is not None
    waited: list[float] = []

    async def record(seconds: float) -> None:
        waited.append(seconds)

    client = AsyncWebClient(
        token=TOKEN,
        base_url=fake.base_url,
        retry_handlers=[RetryAfterHandler(max_retry_count=2, jitter=0.0, sleep=record)],
    )
    fake.fail_next("chat.update", status=429, retry_after=3)
    fake.fail_next("chat.postMessage", status=429, retry_after=None)  # no header: wait a second
    ts = (await client.chat_postMessage(channel="C1", text="a"))["ts"]
    await client.chat_update(channel="C1", ts=ts, text="b")
    assert waited == [1.0, 3.0]
    assert fake.message("C1", ts).text == "b"


async def test_server_errors_are_retried_with_backoff(fake: FaultySlack) -> None:
    fake.fail_next("chat.postMessage", status=503)
    fake.fail_next("chat.postMessage", status=502)
    fake.fail_next("chat.postMessage", status=500)
    assert (await fast_client(fake).chat_postMessage(channel="C1", text="x"))["ok"]
    assert [c.status for c in fake.calls_for("chat.postMessage")] == [503, 502, 500, 200]


async def test_retries_are_bounded(fake: FaultySlack) -> None:
    fake.fail_next("chat.postMessage", status=429, retry_after=0, count=5)
    with pytest.raises(SlackApiError) as err:
        await fast_client(fake, max_retries=2).chat_postMessage(channel="C1", text="x")
    assert err.value.response.status_code == 429
    assert len(fake.calls_for("chat.postMessage")) == 3 and fake.messages == {}
    with pytest.raises(ValueError):
        make_web_client(token=TOKEN, base_url="http://x/api/", max_retries=-1)


async def test_base_url_without_trailing_slash_still_works(fake: FaultySlack) -> None:
    assert fake.base_url is not None
    client = make_web_client(token=TOKEN, base_url=fake.base_url.rstrip("/"))
    assert (await client.auth_test())["ok"]


async def test_429_storm_loses_no_message(fake: FaultySlack) -> None:
    client = fast_client(fake)
    pacer = ChannelPacer(interval=0.0)
    fake.start_storm(failures_per_success=3, retry_after=0)
    status: dict[str, str] = {}

    async def post(channel: str, text: str) -> str:
        answer = await pacer.post(channel, lambda: client.chat_postMessage(channel=channel, text=text))
        return str(answer["ts"])

    async def edit(channel: str, text: str) -> None:
        ts = status[channel]
        await pacer.update(channel, ts, lambda: client.chat_update(channel=channel, ts=ts, text=text))

    for channel in ("C1", "C2"):
        status[channel] = await post(channel, "status 0")
    await asyncio.gather(
        *(post(c, f"m{n}") for n in range(10) for c in ("C1", "C2")),
        *(edit(c, f"s{n}") for n in range(10) for c in ("C1", "C2")),
    )
    for channel in ("C1", "C2"):
        texts = [m.text for m in fake.channel_messages(channel)]
        assert texts == ["s9"] + [f"m{n}" for n in range(10)]  # every post, in order; the last edit
    assert any(c.status == 429 for c in fake.calls)


async def test_pacer_spaces_calls_per_channel_with_fake_clock() -> None:
    clock = FakeClock()
    pacer = ChannelPacer(interval=1.0, clock=clock, sleep=clock.sleep)
    starts: dict[str, list[float]] = defaultdict(list)

    async def call(channel: str, n: int) -> int:
        starts[channel].append(clock())
        clock.now += 0.2  # the request itself takes time
        return n

    async def paced(channel: str, n: int) -> int:
        return await pacer.post(channel, lambda: call(channel, n))

    results = await asyncio.gather(*(paced(ch, n) for n in range(8) for ch in ("C1", "C2")))
    assert results == [n for n in range(8) for _ in ("C1", "C2")]
    for channel in ("C1", "C2"):
        gaps = [b - a for a, b in itertools.pairwise(starts[channel])]
        assert len(gaps) == 7 and all(gap >= 1.0 for gap in gaps), gaps
    assert pacer.calls_made == 16


async def test_pacer_spacing_seen_by_the_server(fake: FaultySlack) -> None:
    client = fast_client(fake)
    pacer = ChannelPacer(interval=0.05)
    async def post(channel: str, n: int) -> None:
        await pacer.post(channel, lambda: client.chat_postMessage(channel=channel, text=str(n)))

    await asyncio.gather(*(post(ch, n) for n in range(5) for ch in ("C1", "C2")))
    for channel in ("C1", "C2"):
        times = [c.at for c in fake.calls_for("chat.postMessage") if c.params["channel"] == channel]
        assert len(times) == 5
        assert all(b - a >= 0.05 for a, b in itertools.pairwise(times))
        assert [m.text for m in fake.channel_messages(channel)] == ["0", "1", "2", "3", "4"]


async def test_updates_coalesce_and_posts_keep_order() -> None:
    clock = FakeClock()
    pacer = ChannelPacer(interval=1.0, clock=clock, sleep=clock.sleep)
    sent: list[str] = []
    release = asyncio.Event()

    def factory(label: str, *, block: bool = False) -> Callable[[], Awaitable[str]]:
        async def run() -> str:
            if block:
                await release.wait()
            sent.append(label)
            return label

        return run

    first = asyncio.create_task(pacer.update("C1", "status", factory("s1", block=True)))
    await asyncio.sleep(0)
    waiting = [
        asyncio.create_task(pacer.update("C1", "status", factory("s2"))),
        asyncio.create_task(pacer.post("C1", factory("p1"))),
        asyncio.create_task(pacer.update("C1", "status", factory("s3"))),
        asyncio.create_task(pacer.post("C1", factory("p2"))),
        asyncio.create_task(pacer.update("C1", "status", factory("s4"))),
    ]
    await asyncio.sleep(0)
    assert pacer.pending("C1") == 3
    release.set()
    results = await asyncio.gather(first, *waiting)
    assert sent == ["s1", "s4", "p1", "p2"]
    assert results == ["s1", "s4", "p1", "s4", "p2", "s4"]
    assert pacer.coalesced == 2


async def test_a_failing_call_reaches_its_caller_and_the_channel_goes_on() -> None:
    pacer = ChannelPacer(interval=0.0)

    async def boom() -> None:
        raise RuntimeError("slack said no")

    async def fine() -> str:
        return "ok"

    outcome = await asyncio.gather(pacer.post("C1", boom), pacer.post("C1", fine), return_exceptions=True)
    assert isinstance(outcome[0], RuntimeError) and outcome[1] == "ok"
    await pacer.drain()
    await pacer.aclose()
    with pytest.raises(ValueError):
        ChannelPacer(interval=-1)


async def test_calls_and_retries_are_counted_by_method_outcome_and_reason(fake: FaultySlack) -> None:
    from handlers.delivery.slack_web import SLACK_STATS

    calls, retries = SLACK_STATS.calls(), SLACK_STATS.retries()
    fake.fail_next("chat.postMessage", status=429, retry_after=0, count=2)
    fake.fail_next("chat.postMessage", status=503)
    fake.fail_next("chat.update", status=200, error="message_not_found")
    client = fast_client(fake)
    await client.chat_postMessage(channel="C1", text="hello")
    with pytest.raises(SlackApiError):
        await client.chat_update(channel="C1", ts="1.2", text="gone")

    def moved(now: Mapping[Any, int], before: Mapping[Any, int]) -> dict[Any, int]:
        return {key: count - before.get(key, 0) for key, count in now.items() if count != before.get(key, 0)}

    assert moved(SLACK_STATS.calls(), calls) == {("chat.postMessage", "ok"): 1, ("chat.update", "error"): 1}
    assert moved(SLACK_STATS.retries(), retries) == {"rate_limited": 2, "server_error": 1}


async def test_connection_retries_are_counted() -> None:
    import socket

    from handlers.delivery.slack_web import SLACK_STATS

    with socket.socket() as closed:  # a port nothing listens on: every connection is refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    before = SLACK_STATS.retries().get("connection_error", 0)
    client = make_web_client(token=TOKEN, base_url=f"http://127.0.0.1:{port}/api/", max_retries=2,
                             backoff_factor=0.001, jitter=0)
    with pytest.raises(Exception):  # noqa: B017 (aiohttp's connection error, whichever subclass)
        await client.auth_test()
    assert SLACK_STATS.retries().get("connection_error", 0) - before == 2
    assert SLACK_STATS.calls().get(("auth.test", "error"), 0) >= 1
