"""What each button carries in its ``value``, as one typed model per kind of button.

The blocks write a value with ``encode()``; the payload middleware (``handlers.listeners.payloads``) reads it
back with ``parse`` for the button's ``action_id`` before any listener runs, and hands the listener the typed
value (``context["button"]``). A value the bot did not write (a crafted request, a message from an older
version) is refused there once, with one log line, instead of by a hand-written check in every listener.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from typing import Annotated, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from handlers.ids import ActionId

# A plan id as the database can hold it: ASCII digits only ("²".isdigit() is True), at most 18 of them.
PlanId = Annotated[int, Field(ge=1, le=10**18 - 1)]
_DIGITS = re.compile(r"[0-9]{1,18}")
STEPS = ("upload", "upgrade")


class ButtonValue(BaseModel, ABC):
    """A button's value; subclasses say how it is written and read."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @abstractmethod
    def encode(self) -> str: ...

    @classmethod
    @abstractmethod
    def parse(cls, value: str) -> Self: ...


def _plan_id(text: str) -> int:
    if not _DIGITS.fullmatch(text):
        raise ValueError(f"not a plan id: {text[:20]!r}")
    return int(text)


class PlanButton(ButtonValue):
    """A button about one plan: its value is the plan id."""

    plan_id: PlanId

    def encode(self) -> str:
        return str(self.plan_id)

    @classmethod
    def parse(cls, value: str) -> Self:
        return cls(plan_id=_plan_id(value))


class CubeStepButton(ButtonValue):
    """Done in Cube for one step of one hop: ``<plan>:<hop index>:<step>``."""

    plan_id: PlanId
    hop_index: Annotated[int, Field(ge=0, le=999)]
    step: str

    def encode(self) -> str:
        return f"{self.plan_id}:{self.hop_index}:{self.step}"

    @classmethod
    def parse(cls, value: str) -> Self:
        plan, hop, step = value.split(":")
        if step not in STEPS or not _DIGITS.fullmatch(hop):
            raise ValueError(f"not a Cube step: {value[:40]!r}")
        return cls(plan_id=_plan_id(plan), hop_index=int(hop), step=step)


class CancelRunningButton(ButtonValue):
    """The confirmation of a cancel while a hop runs: the plan id, a newline, the reason typed with it."""

    plan_id: PlanId
    reason: str = Field(default="", max_length=2000)

    def encode(self) -> str:
        return f"{self.plan_id}\n{self.reason}"

    @classmethod
    def parse(cls, value: str) -> Self:
        number, _, reason = value.partition("\n")
        return cls(plan_id=_plan_id(number), reason=reason)


class CampaignButton(ButtonValue):
    """A button of a stored campaign's card: its value is the campaign id."""

    campaign_id: PlanId  # the same column type as a plan's id

    def encode(self) -> str:
        return str(self.campaign_id)

    @classmethod
    def parse(cls, value: str) -> Self:
        if not _DIGITS.fullmatch(value):
            raise ValueError(f"not a campaign id: {value[:20]!r}")
        return cls(campaign_id=int(value))


# Which model reads which button; a button not listed carries nothing the bot reads (links, checkboxes).
BY_ACTION: dict[str, type[ButtonValue]] = {
    ActionId.SET_WINDOW.value: PlanButton,
    ActionId.RUN_CHECK.value: PlanButton,
    ActionId.CANCEL.value: PlanButton,
    ActionId.APPROVE.value: PlanButton,
    ActionId.REJECT.value: PlanButton,
    ActionId.HOME_CHECK.value: PlanButton,
    ActionId.STATUS_FULL.value: PlanButton,
    ActionId.UPLOAD_PASSED.value: PlanButton,
    ActionId.UPLOAD_FAILED.value: PlanButton,
    ActionId.CUBE_DONE.value: CubeStepButton,
    ActionId.CANCEL_RUNNING.value: CancelRunningButton,
    ActionId.CAMPAIGN_APPROVE.value: CampaignButton,
    ActionId.CAMPAIGN_HALT.value: CampaignButton,
    ActionId.CAMPAIGN_RESUME.value: CampaignButton,
    ActionId.CAMPAIGN_SKIP.value: CampaignButton,
    ActionId.CAMPAIGN_ABORT.value: CampaignButton,
    ActionId.CAMPAIGN_MOVE.value: CampaignButton,
}


class BadButtonValue(ValueError):
    """The value is not what the bot writes for this button."""

    refusal: ClassVar[str] = "This button does not name a plan (or a step of one); use /dm-upgrade status"


def parse(action_id: str, value: str | None) -> ButtonValue | None:
    """The typed value of ``action_id``'s button (None for buttons that carry nothing); BadButtonValue."""
    model = BY_ACTION.get(action_id)
    if model is None:
        return None
    try:
        return model.parse(value or "")
    except (ValueError, ValidationError) as exc:
        raise BadButtonValue(f"{action_id}: {type(exc).__name__}") from None
