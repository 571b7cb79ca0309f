"""Every Slack payload the bot accepts, as pydantic models of Slack's documented shapes, checked at the edge.

The first Bolt global middleware (``ValidatePayload``) reads each request's body against the model of its kind
before any listener runs: slash commands (api.slack.com/interactivity/slash-commands, "app command payload"),
``block_actions``, ``view_submission`` and ``view_closed`` (api.slack.com/reference/interaction-payloads),
and the Events API's ``event_callback``. Only the fields the bot reads are constrained; Slack adds fields
over time, and those pass. Anything else (a wrong type, a string where an object goes, a huge number, a
object in the wrong place) is answered 400 with one log line: no listener runs, nothing changes. A
well-formed click whose button value the bot did not write reaches its listener without a value, which
tells the person so.

The listener then gets the typed button value in ``context["button"]`` (``handlers.button_values``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from handlers import button_values

log = logging.getLogger(__name__)

# Slack ids (users, channels, teams, views) are short ASCII; text is capped far above Slack's own caps.
SlackId = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")]
Text = Annotated[str, Field(max_length=40_000)]


class _Part(BaseModel):
    model_config = ConfigDict(extra="allow")


class User(_Part):
    id: SlackId


class Option(_Part):
    value: Annotated[str, Field(max_length=150)]


class BlockAction(_Part):
    action_id: Annotated[str, Field(min_length=1, max_length=255)]
    block_id: Annotated[str, Field(max_length=255)] | None = None
    value: Annotated[str, Field(max_length=2000)] | None = None
    selected_options: list[Option] | None = None


class Container(_Part):
    type: Annotated[str, Field(max_length=40)] = ""
    channel_id: SlackId | None = None
    message_ts: Annotated[str, Field(max_length=40)] | None = None
    thread_ts: Annotated[str, Field(max_length=40)] | None = None


class Channel(_Part):
    id: SlackId


class ViewState(_Part):
    values: dict[str, dict[str, dict[str, Any]]] = {}


class View(_Part):
    id: SlackId | None = None
    type: Annotated[str, Field(min_length=1, max_length=40)]  # "modal" or "home"; Bolt itself reads it
    callback_id: Annotated[str, Field(max_length=255)] = ""
    private_metadata: Annotated[str, Field(max_length=3000)] = ""
    state: ViewState | None = None


class BlockActions(_Part):
    type: Literal["block_actions"]
    user: User
    actions: Annotated[list[BlockAction], Field(min_length=1, max_length=20)]
    container: Container | None = None
    channel: Channel | None = None
    view: View | None = None
    trigger_id: Annotated[str, Field(max_length=255)] = ""


class ViewSubmission(_Part):
    type: Literal["view_submission"]
    user: User
    view: View
    trigger_id: Annotated[str, Field(max_length=255)] = ""


class ViewClosed(_Part):
    type: Literal["view_closed"]
    user: User
    view: View


class Event(_Part):
    type: Annotated[str, Field(min_length=1, max_length=80)]
    user: SlackId | None = None
    tab: Annotated[str, Field(max_length=20)] | None = None


class EventCallback(_Part):
    type: Literal["event_callback"]
    event: Event


class SlashCommand(_Part):
    command: Annotated[str, Field(min_length=2, max_length=40, pattern=r"^/")]
    text: Text = ""
    user_id: SlackId
    channel_id: SlackId
    trigger_id: Annotated[str, Field(max_length=255)] = ""
    response_url: Annotated[str, Field(max_length=500)] = ""


INTERACTIONS: dict[str, type[_Part]] = {
    "block_actions": BlockActions, "view_submission": ViewSubmission, "view_closed": ViewClosed,
    "event_callback": EventCallback,
}


def check(body: dict[str, Any]) -> button_values.ButtonValue | None:
    """The body against its model; the first action's typed button value (None when it carries none).
    ValueError (ValidationError, BadButtonValue) when the body is not a payload the bot accepts."""
    if "command" in body:
        SlashCommand.model_validate(body)
        return None
    kind = body.get("type")
    model = INTERACTIONS.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise ValueError(f"not a payload the bot accepts (type {str(kind)[:40]!r})")
    payload = model.model_validate(body)
    if isinstance(payload, BlockActions):
        action = payload.actions[0]
        return button_values.parse(action.action_id, action.value)
    return None


class ValidatePayload(AsyncMiddleware):
    """Bolt global middleware: 400 and one log line for a payload the bot does not accept.

    A class, not a function: Bolt builds a function middleware's arguments from the body first (its
    workflow-step helpers index ``body["view"]["type"]``), which is itself what a hostile body breaks."""

    async def async_process(self, *, req: AsyncBoltRequest, resp: BoltResponse,
                            next: Callable[[], Awaitable[BoltResponse]]) -> BoltResponse:
        body = req.body if isinstance(req.body, dict) else {}
        if body.get("type") in ("url_verification", "ssl_check") or body.get("ssl_check"):
            return await next()  # Slack's own checks, answered by Bolt
        try:
            req.context["button"] = check(body)
        except button_values.BadButtonValue as exc:
            # A well-formed click on a button whose value the bot cannot read (an old message, a hand-made
            # request): the listener answers the person ("does not name a plan"), nothing else happens.
            log.warning("a button's value is not one the bot wrote: %s", exc)
            req.context["button"] = None
        except (ValueError, ValidationError) as exc:
            what = exc.errors()[0]["loc"] if isinstance(exc, ValidationError) else str(exc)[:120]
            log.warning("refused a Slack payload that is not one the bot accepts: %s", what)
            return BoltResponse(status=400, body="")
        return await next()
