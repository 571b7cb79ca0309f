"""The buttons of a stored campaign's card (``handlers.blocks.campaign.stored_card``) and the modal they open.

- *Approve the campaign* (behind Slack's confirm dialog): ``CampaignEngine.approve``.
- *Halt*, *Resume…*, *Skip a DMS…*, *Move a window…*, *Abort…*: the roles table is asked first (a refusal
  is audited and told to the clicker, no form opens), then a modal asks for the reason (required to resume
  and to skip) and, to skip or move a window, which DMS (and, to move it, the new start and length). Its
  submission calls the engine before acking, as the decision modals do: a refusal can only be shown on the
  modal's field in the ack itself.

Listeners stay thin (ack, parse, one engine call); every rule is the campaign engine's. What was done is
told in the channel, as a plan's approval is: the campaign card is redrawn and its thread says who did it and
why (``handlers.delivery.campaign_drawing``, through the outbox); the clicker is told only a refusal.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from handlers.blocks import campaign as blocks_campaign
from handlers.button_values import CampaignButton
from handlers.delivery.ephemerals import Ephemerals
from handlers.ids import ActionId, BlockId, CallbackId
from handlers.listeners.actions import Click
from handlers.listeners.command_parser import ParseError, parse_duration, parse_start
from handlers.listeners.commands import UNEXPECTED
from handlers.listeners.middleware import ListenerWork
from workflow.campaign_engine import CampaignEngine
from workflow.campaign_roles import CampaignAction
from workflow.model.campaign_view import CampaignView
from workflow.model.errors import UserError

log = logging.getLogger(__name__)

# The buttons that open the modal, and the campaign action each is checked as.
FORMS: dict[ActionId, CampaignAction] = {
    ActionId.CAMPAIGN_HALT: CampaignAction.HALT,
    ActionId.CAMPAIGN_RESUME: CampaignAction.RESUME,
    ActionId.CAMPAIGN_SKIP: CampaignAction.SKIP,
    ActionId.CAMPAIGN_ABORT: CampaignAction.ABORT,
    ActionId.CAMPAIGN_MOVE: CampaignAction.MOVE_WINDOW,
}


def _campaign_id(click: Click) -> int:
    if not isinstance(click.button, CampaignButton):
        raise UserError("This button does not name a campaign")
    return click.button.campaign_id


async def _on_click(campaigns: CampaignEngine, client: AsyncWebClient, click: Click) -> None:
    campaign_id = _campaign_id(click)
    action = ActionId(str(click.action.get("action_id") or ""))
    if action is ActionId.CAMPAIGN_APPROVE:
        await campaigns.approve(campaign_id=campaign_id, actor=click.user)  # told on the card's thread
        return
    await campaigns.authorize(campaign_id=campaign_id, action=FORMS[action], actor=click.user)
    view = await campaigns.view(campaign_id)
    await client.views_open(trigger_id=click.trigger_id,
                            view=blocks_campaign.campaign_modal(view, action=action, channel=click.channel))


def _typed(values: dict[str, Any], block: BlockId, action: ActionId) -> dict[str, Any]:
    found = (values.get(block.value) or {}).get(action.value) or {}
    return found if isinstance(found, dict) else {}


def _values(view: dict[str, Any]) -> tuple[str, str]:
    """The reason typed and the DMS picked (empty when none)."""
    values = (view.get("state") or {}).get("values") or {}
    reason = _typed(values, BlockId.CAMPAIGN_REASON, ActionId.CAMPAIGN_REASON)
    picked = _typed(values, BlockId.CAMPAIGN_SKIP_DMS, ActionId.CAMPAIGN_SKIP_DMS)
    option = picked.get("selected_option") or {}
    return str(reason.get("value") or "").strip(), str(option.get("value") or "")


def _window(view: dict[str, Any]) -> tuple[datetime, timedelta | None]:
    """The new window's start and length (None: keep it) typed in the move form; UserError if unreadable."""
    values = (view.get("state") or {}).get("values") or {}
    date = str(_typed(values, BlockId.WINDOW_DATE, ActionId.WINDOW_DATE).get("selected_date") or "")
    time = str(_typed(values, BlockId.WINDOW_TIME, ActionId.WINDOW_TIME).get("selected_time") or "")
    length = str(_typed(values, BlockId.WINDOW_DURATION, ActionId.WINDOW_DURATION).get("value") or "").strip()
    try:
        start = parse_start(date, time)
        return start, timedelta(minutes=parse_duration(length)) if length else None
    except ParseError as exc:
        raise UserError(str(exc)) from None


def _metadata(view: dict[str, Any]) -> tuple[int, ActionId] | None:
    try:
        data = json.loads(view.get("private_metadata") or "{}")
        action = ActionId(str(data["action"]))
        return int(data["campaign_id"]), action
    except (ValueError, KeyError, TypeError):
        return None


async def _apply(campaigns: CampaignEngine, *, campaign_id: int, action: ActionId, actor: str, reason: str,
                 dms: str, window: tuple[datetime, timedelta | None] | None = None) -> CampaignView:
    if action is ActionId.CAMPAIGN_HALT:
        return await campaigns.halt(campaign_id=campaign_id, actor=actor, reason=reason)
    if action is ActionId.CAMPAIGN_RESUME:
        return await campaigns.resume(campaign_id=campaign_id, actor=actor, reason=reason)
    if action is ActionId.CAMPAIGN_SKIP:
        return await campaigns.skip(campaign_id=campaign_id, dms=dms, actor=actor, reason=reason)
    if action is ActionId.CAMPAIGN_ABORT:
        return await campaigns.abort(campaign_id=campaign_id, actor=actor, reason=reason)
    if action is ActionId.CAMPAIGN_MOVE and window is not None:
        start, length = window
        return await campaigns.move_window(campaign_id=campaign_id, dms=dms, start=start, length=length,
                                           actor=actor, reason=reason)
    raise UserError("This form does not name a campaign action")


async def submit(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], *,
                 campaigns: CampaignEngine) -> None:
    """The modal's submission: the engine decides; a refusal is shown on the reason field."""
    field = BlockId.CAMPAIGN_REASON.value
    found, (reason, dms) = _metadata(view), _values(view)
    if found is None:
        lost = "This form lost its campaign; click the button again"
        await ack(response_action="errors", errors={field: lost})
        return
    campaign_id, action = found
    try:
        window = _window(view) if action is ActionId.CAMPAIGN_MOVE else None
        await _apply(campaigns, campaign_id=campaign_id, action=action, actor=str(body["user"]["id"]),
                     reason=reason, dms=dms, window=window)
    except UserError as exc:
        await ack(response_action="errors", errors={field: exc.message[:2000]})
        return
    except Exception:
        log.exception("campaign #%s: %s failed", campaign_id, action.value)
        await ack(response_action="errors", errors={field: "The bot could not record it; see its log"})
        return
    await ack()


def register(app: AsyncApp, *, campaigns: CampaignEngine, work: ListenerWork,
             tell: Ephemerals | None = None) -> None:
    async def on_click(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient,
                       context: dict[str, Any]) -> None:
        await ack()
        click = Click(body, button=context.get("button"), tell=tell)
        if not click.valid:
            log.warning("ignored a campaign click without a valid user or channel id")
            return
        async with work.track():
            await work.after_acks()
            try:
                await _on_click(campaigns, client, click)
            except UserError as exc:
                await click.answer(client, f"Not done: {exc.message}")
            except Exception:
                log.exception("campaign action %s failed", click.action.get("action_id"))
                await click.answer(client, UNEXPECTED)

    for action in (ActionId.CAMPAIGN_APPROVE, *FORMS):
        app.action(action.value)(on_click)

    @app.view(CallbackId.CAMPAIGN_MODAL.value)
    async def on_submit(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        async with work.track():
            await submit(ack, body, view, campaigns=campaigns)
