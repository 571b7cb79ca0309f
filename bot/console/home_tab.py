"""The console's ``home``: open the App Home tab as the acting user and print it.

Sends ``app_home_opened`` to the Bolt app exactly as Slack's Events API does (a signed JSON
``event_callback``), waits for the bot's ``views.publish``, and renders the published view as text.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

from bot.console.session import APP_ID, TEAM, ConsoleError, ConsoleSession
from handlers.blocks.render import render_view


async def open_home(session: ConsoleSession, *, timeout_s: float) -> list[str]:
    user = session.user_id
    now = time.time()
    body = json.dumps({
        "token": "unused-verification-token", "team_id": TEAM["id"], "api_app_id": APP_ID,
        "type": "event_callback", "event_id": f"Ev{int(now * 1000)}", "event_time": int(now),
        "event": {"type": "app_home_opened", "user": user, "channel": f"D{user}", "tab": "home",
                  "event_ts": f"{now:.6f}"},
    })
    timestamp = str(int(now))
    signature = SignatureVerifier(session.signing_secret).generate_signature(timestamp=timestamp, body=body)
    headers: dict[str, str | Sequence[str]] = {
        "content-type": "application/json", "x-slack-request-timestamp": timestamp,
        "x-slack-signature": signature or "",
    }
    response = await session.runtime.app.async_dispatch(AsyncBoltRequest(body=body, headers=headers))
    if response.status != 200:
        raise ConsoleError(f"the bot answered HTTP {response.status} to app_home_opened")
    await session.settle(timeout_s=timeout_s)
    view = session.fake.extras.home_views.get(user)
    if view is None:
        raise ConsoleError("the bot published no Home tab")
    text = session.transcript.names(render_view(view).text)
    return ["  [home] " + line for line in text.splitlines()]
