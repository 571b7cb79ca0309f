"""The fake Slack Web API, driven through a real slack_sdk AsyncWebClient over loopback HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.console.fake_slack import FakeEvent
from tests.support.fake_slack_faults import FaultySlack

TOKEN = "xoxb-test-token"
SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "*hello*"}}


@pytest.fixture
async def fake() -> AsyncIterator[FaultySlack]:
    server = FaultySlack()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def client(fake: FaultySlack) -> AsyncWebClient:
    assert fake.base_url is not None
    # No retry handlers: these tests look at single answers, including failures.
    return AsyncWebClient(token=TOKEN, base_url=fake.base_url, retry_handlers=[])


async def test_base_url_is_loopback_api_root(fake: FaultySlack) -> None:
    assert fake.base_url is not None
    assert fake.base_url.startswith("http://127.0.0.1:")
    assert fake.base_url.endswith("/api/")


async def test_post_message_answers_realistic_ts_and_message(
    fake: FaultySlack, client: AsyncWebClient
) -> None:
    first = await client.chat_postMessage(channel="C1", text="one", blocks=[SECTION])
    second = await client.chat_postMessage(channel="C1", text="two")
    assert first["ok"] and first["channel"] == "C1"
    assert first["message"]["text"] == "one" and first["message"]["blocks"] == [SECTION]
    ts1, ts2 = first["ts"], second["ts"]
    assert ts1 != ts2 and float(ts2) > float(ts1)
    seconds, micros = ts1.split(".")
    assert len(seconds) == 10 and len(micros) == 6
    assert fake.message("C1", ts1).blocks == [SECTION]
    assert [m.text for m in fake.channel_messages("C1")] == ["one", "two"]


async def test_threads_broadcast_and_updates_keep_latest(fake: FaultySlack, client: AsyncWebClient) -> None:
    parent = (await client.chat_postMessage(channel="C1", text="plan"))["ts"]
    reply = await client.chat_postMessage(channel="C1", text="status 0%", thread_ts=parent)
    await client.chat_postMessage(channel="C1", text="failed", thread_ts=parent, reply_broadcast=True)
    await client.chat_update(channel="C1", ts=reply["ts"], text="status 50%", blocks=[SECTION])
    await client.chat_update(channel="C1", ts=reply["ts"], text="status 100%")
    status = fake.message("C1", reply["ts"])
    assert status.text == "status 100%" and status.edits == 2
    assert status.blocks == []  # an update without blocks removes them, as on Slack
    assert [m.text for m in fake.thread("C1", parent)] == ["status 100%", "failed"]
    assert [m.text for m in fake.channel_messages("C1")] == ["plan", "failed"]
    with pytest.raises(SlackApiError) as err:
        await client.chat_postMessage(channel="C1", text="x", thread_ts="1.000000")
    assert err.value.response["error"] == "thread_not_found"


async def test_update_and_delete_of_unknown_message_fail(fake: FaultySlack, client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as err:
        await client.chat_update(channel="C1", ts="1700000000.999999", text="x")
    assert err.value.response["error"] == "message_not_found"
    ts = (await client.chat_postMessage(channel="C1", text="bye"))["ts"]
    await client.chat_delete(channel="C1", ts=ts)
    assert fake.message("C1", ts).deleted and fake.channel_messages("C1") == []
    with pytest.raises(SlackApiError):
        await client.chat_delete(channel="C1", ts=ts)


async def test_message_without_content_and_oversized_blocks_are_refused(client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as err, pytest.warns(UserWarning, match="text"):
        await client.chat_postMessage(channel="C1", text="")
    assert err.value.response["error"] == "no_text"
    with pytest.raises(SlackApiError) as err:
        await client.chat_postMessage(channel="C1", text="x", blocks=[SECTION] * 51)
    assert err.value.response["error"] == "invalid_blocks"


async def test_ephemeral_and_views(fake: FaultySlack, client: AsyncWebClient) -> None:
    eph = await client.chat_postEphemeral(channel="C1", user="U2", text="only you")
    assert eph["message_ts"] and fake.ephemerals[0].ephemeral_to == "U2"
    modal = {"type": "modal", "callback_id": "w", "title": {"type": "plain_text", "text": "W"}, "blocks": []}
    opened = await client.views_open(trigger_id="1.2.abc", view=modal)
    view_id = opened["view"]["id"]
    assert fake.views[view_id]["callback_id"] == "w"
    updated = await client.views_update(view_id=view_id, view={**modal, "callback_id": "w2"})
    assert updated["view"]["id"] == view_id and fake.views[view_id]["callback_id"] == "w2"
    with pytest.raises(SlackApiError) as err:
        await client.views_open(trigger_id="", view=modal)
    assert err.value.response["error"] == "invalid_trigger_id"


async def test_groups_users_and_auth(fake: FaultySlack, client: AsyncWebClient) -> None:
    fake.set_group_members("S1", ["U1", "U2"])
    fake.set_user_name("U1", "alice")
    assert (await client.usergroups_users_list(usergroup="S1"))["users"] == ["U1", "U2"]
    assert (await client.users_info(user="U1"))["user"]["name"] == "alice"
    with pytest.raises(SlackApiError) as err:
        await client.users_info(user="U9")
    assert err.value.response["error"] == "user_not_found"
    fake.set_groups_require_paid_plan()
    with pytest.raises(SlackApiError) as err:
        await client.usergroups_users_list(usergroup="S1")
    assert err.value.response["error"] == "plan_upgrade_required"
    auth = await client.auth_test()
    assert auth["user_id"] == fake.bot_user_id and auth["team_id"] == fake.team_id


async def test_tokens_are_checked_and_never_recorded(fake: FaultySlack) -> None:
    assert fake.base_url is not None
    bad = AsyncWebClient(token="xoxp-user-token", base_url=fake.base_url, retry_handlers=[])
    with pytest.raises(SlackApiError) as err:
        await bad.chat_postMessage(channel="C1", text="x")
    assert err.value.response["error"] == "invalid_auth"
    app_level = AsyncWebClient(token="xapp-1-abc", base_url=fake.base_url, retry_handlers=[])
    assert (await app_level.apps_connections_open(app_token="xapp-1-abc"))["ok"]
    assert fake.messages == {}
    assert all("token" not in call.params for call in fake.calls)
    assert "xoxp-user-token" not in repr(fake.calls)


async def test_form_encoded_bodies_are_accepted(fake: FaultySlack) -> None:
    assert fake.base_url is not None
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            fake.base_url + "chat.postMessage",
            data={"channel": "C1", "text": "form", "blocks": '[{"type": "divider"}]', "token": TOKEN},
        )
    body = answer.json()
    assert body["ok"], body
    assert fake.message("C1", body["ts"]).blocks == [{"type": "divider"}]


async def test_fail_next_answers_429_with_retry_after_then_recovers(
    fake: FaultySlack, client: AsyncWebClient
) -> None:
    fake.fail_next("chat.postMessage", status=429, retry_after=7, count=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as err:
            await client.chat_postMessage(channel="C1", text="x")
        assert err.value.response.status_code == 429
        assert err.value.response.headers["Retry-After"] == "7"
    assert (await client.chat_postMessage(channel="C1", text="x"))["ok"]
    statuses = [call.status for call in fake.calls_for("chat.postMessage")]
    assert statuses == [429, 429, 200]
    assert len(fake.channel_messages("C1")) == 1


async def test_fail_next_5xx_and_slack_errors(fake: FaultySlack, client: AsyncWebClient) -> None:
    fake.fail_next("*", status=503)
    fake.fail_next("chat.update", status=200, error="cant_update_message")
    with pytest.raises(SlackApiError) as err:
        await client.auth_test()
    assert err.value.response.status_code == 503
    ts = (await client.chat_postMessage(channel="C1", text="x"))["ts"]
    with pytest.raises(SlackApiError) as err:
        await client.chat_update(channel="C1", ts=ts, text="y")
    assert err.value.response["error"] == "cant_update_message"
    with pytest.raises(ValueError):
        fake.fail_next("chat.update", status=200)


async def test_storm_lets_one_call_in_n_through(fake: FaultySlack, client: AsyncWebClient) -> None:
    fake.start_storm(methods=["chat.postMessage"], failures_per_success=2, retry_after=0)
    statuses = []
    for _ in range(6):
        try:
            await client.chat_postMessage(channel="C1", text="x")
            statuses.append(200)
        except SlackApiError as err:
            statuses.append(err.response.status_code)
    assert statuses == [429, 429, 200, 429, 429, 200]
    assert (await client.auth_test())["ok"]  # other methods are not in the storm
    fake.stop_storm()
    assert (await client.chat_postMessage(channel="C1", text="x"))["ok"]


async def test_subscribers_see_posts_and_edits_in_order(fake: FaultySlack, client: AsyncWebClient) -> None:
    queue = fake.subscribe()
    seen: list[str] = []

    async def listener(event: FakeEvent) -> None:
        assert event.message is not None
        seen.append(f"{event.kind}:{event.message.text}")

    fake.on_event(listener)
    ts = (await client.chat_postMessage(channel="C1", text="a"))["ts"]
    await client.chat_update(channel="C1", ts=ts, text="b")
    first, second = queue.get_nowait(), queue.get_nowait()
    assert first.kind == "posted" and first.message is not None and first.message.text == "a"
    assert second.kind == "updated" and second.message is not None and second.message.edits == 1
    assert seen == ["posted:a", "updated:b"]
    fake.unsubscribe(queue)
    await client.chat_postMessage(channel="C1", text="c")
    assert queue.empty()


async def test_unknown_methods_are_recorded(fake: FaultySlack, client: AsyncWebClient) -> None:
    assert (await client.api_call("reactions.add", params={"channel": "C1"}))["ok"]
    assert fake.calls[-1].method == "reactions.add" and fake.calls[-1].params == {"channel": "C1"}
    strict = FaultySlack(unknown_methods_ok=False)
    base = await strict.start()
    try:
        other = AsyncWebClient(token=TOKEN, base_url=base, retry_handlers=[])
        with pytest.raises(SlackApiError) as err:
            await other.api_call("nope.nothing")
        assert err.value.response["error"] == "unknown_method"
    finally:
        await strict.stop()
