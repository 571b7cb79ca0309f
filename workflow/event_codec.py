"""Events to JSON and back, for the outbox of domain events (``workflow.store.event_outbox``).

An event travels through the database between the change that made it and the sender that draws it, maybe
in another process after a restart. Pydantic's ``TypeAdapter`` reads the events' dataclass fields, the
snapshot (a pydantic model) and the DMS models they carry, so a new event type needs no code here; a field
that cannot round-trip fails ``tests/workflow/test_event_codec.py``. A campaign's events
(``workflow.model.campaign_events``, each with its ``CampaignView``) travel the same way.
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic import TypeAdapter

from workflow.events import Event
from workflow.model.campaign_events import CampaignEvent

AnyEvent = Event | CampaignEvent


def _event_types() -> dict[str, type[AnyEvent]]:
    found: dict[str, type[AnyEvent]] = {}
    pending: list[type[AnyEvent]] = [Event, CampaignEvent]
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            found[sub.__name__] = sub
            pending.append(sub)
    return found


@functools.cache
def _adapter(kind: str) -> TypeAdapter[Any]:
    types = _event_types()
    if kind not in types:
        raise ValueError(f"unknown event kind {kind!r}")
    return TypeAdapter(types[kind])


def encode(event: AnyEvent) -> tuple[str, dict[str, Any]]:
    """The event's kind (its class name) and its fields as JSON-safe values."""
    kind = type(event).__name__
    body = _adapter(kind).dump_python(event, mode="json")
    assert isinstance(body, dict)
    return kind, body


def decode(kind: str, body: dict[str, Any]) -> AnyEvent:
    """The event ``encode`` gave ``kind`` and ``body`` for; ValueError when it cannot be read back."""
    event = _adapter(kind).validate_python(body)
    assert isinstance(event, Event | CampaignEvent)
    return event
