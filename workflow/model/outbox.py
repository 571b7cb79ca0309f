"""What the Slack outbox holds, as values every floor may know: a call to make (``Outgoing``), a row a sender
took (``Claimed``), and the kinds and states of its rows. The rows themselves are
``workflow.store.outbox``'s; the sender that delivers them is ``handlers.delivery.outbox_sender``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

PENDING, REFUSED = "pending", "refused"
UPSERT, REPLY = "upsert", "reply"
# The plan's timeline picture, uploaded into its thread after the outcome; rendered when it is sent.
PICTURE = "picture"
# An answer only one person sees (``chat.postEphemeral``) that Slack did not take when it was given: kept
# until Slack takes it, but only for as long as a ``response_url`` lives, 30 minutes
# (https://api.slack.com/interactivity/handling#message_responses): an answer later than that answers a
# question nobody is waiting on any more, so it expires instead (logged and audited).
EPHEMERAL = "ephemeral"
EPHEMERAL_LIFE_S = 30 * 60.0
CLAIM_TTL_S = 60.0  # the default: two lease lengths; a sender bounds each call to well within it


@dataclass(frozen=True, kw_only=True)
class Outgoing:
    """One Slack call to make, as the notifier decided it."""

    channel: str
    plan_id: int | None
    kind: str  # UPSERT | REPLY | PICTURE | EPHEMERAL
    payload: dict[str, Any]
    role: str | None = None
    in_thread: bool = False
    edit_only: bool = False
    broadcast: bool = False


@dataclass(frozen=True, kw_only=True)
class Claimed:
    """A row a sender took, with what it needs to make the call."""

    id: int
    channel: str
    plan_id: int | None
    kind: str
    role: str | None
    in_thread: bool
    edit_only: bool
    broadcast: bool
    payload: dict[str, Any]
    attempts: int



# What a sender turns an event row into: its Slack calls (``kind`` is the event's class name).
Draw = Callable[[str, dict[str, Any]], list[Outgoing]]
