"""Approve, reject and cancel: the buttons, the modals that ask for a reason, and the cancel
confirmation while a hop runs. Listeners stay thin: ack, parse, ask the workflow, render; every rule (who
may decide, what needs an override) is the engine's, which audits refusals.

- *Approve*: when approving now would override something (a failed or missing pre-check, open items, a
  window shorter than the estimate), an approver gets a modal asking for the override reason first.
- *Reject*: an approver gets a modal asking for the reason; the rejection is announced in the channel.
- *Cancel* while a hop runs: the confirmation says what a cancel can and cannot do.

The modal submissions call the engine before acking, as the window form does: a refusal can only be
shown on the modal's field in the ack itself. Approving is a short database write.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from handlers.blocks import decisions as blocks_decisions
from handlers.button_values import CancelRunningButton
from handlers.delivery.ephemerals import Ephemerals
from handlers.ids import ActionId, BlockId, CallbackId
from handlers.listeners.actions import Click, Job, listener
from handlers.listeners.middleware import ListenerWork
from workflow.engine import UpgradeEngine
from workflow.model.errors import UserError

log = logging.getLogger(__name__)

_BUTTON_CANCEL = "with the Cancel button of the plan message"


async def _approve(engine: UpgradeEngine, client: AsyncWebClient, click: Click) -> None:
    asked = await engine.decision_prompt(plan_id=click.plan_id(), user=click.user, approving=True)
    if asked.ask_reason:
        view = blocks_decisions.override_modal(asked.snapshot, needs=asked.overrides, channel=click.channel)
        await client.views_open(trigger_id=click.trigger_id, view=view)
        return
    await engine.approve(plan_id=asked.snapshot.id, actor=click.user)


async def _reject(engine: UpgradeEngine, client: AsyncWebClient, click: Click) -> None:
    asked = await engine.decision_prompt(plan_id=click.plan_id(), user=click.user, approving=False)
    if asked.ask_reason:
        await client.views_open(trigger_id=click.trigger_id,
                                view=blocks_decisions.reject_modal(asked.snapshot, channel=click.channel))
        return
    await engine.reject(plan_id=asked.snapshot.id, actor=click.user, reason="no reason given (Reject button)")


async def _cancel(engine: UpgradeEngine, client: AsyncWebClient, click: Click) -> None:
    """The Cancel button of a plan that is not running (or of an older message): a running plan is
    confirmed again with what a cancel cannot do."""
    snap = await engine.read_status(plan_id=click.plan_id())
    if snap.state.in_flight:
        await click.answer(client, blocks_decisions.cancel_running_prompt(snap, reason=_BUTTON_CANCEL))
        return
    await engine.cancel(plan_id=snap.id, actor=click.user, reason=_BUTTON_CANCEL)


async def _cancel_running(engine: UpgradeEngine, client: AsyncWebClient, click: Click) -> None:
    """Confirmed: the plan message's button while running (Slack's confirm dialog said it), or the
    button of the confirmation that ``cancel`` and older messages answer with."""
    confirmed = click.button
    if not isinstance(confirmed, CancelRunningButton):
        raise UserError("This button does not name a plan; use /dm-upgrade status")
    await engine.cancel(plan_id=confirmed.plan_id, actor=click.user,
                        reason=confirmed.reason or _BUTTON_CANCEL)


ACTIONS: tuple[tuple[str, Job, str], ...] = (
    (ActionId.APPROVE.value, _approve, "Not approved"),
    (ActionId.REJECT.value, _reject, "Not rejected"),
    (ActionId.CANCEL.value, _cancel, "Not cancelled"),
    (ActionId.CANCEL_RUNNING.value, _cancel_running, "Not cancelled"),
)


def _reason(view: dict[str, Any]) -> str:
    values = (view.get("state") or {}).get("values") or {}
    state = (values.get(BlockId.DECISION_REASON.value) or {}).get(ActionId.DECISION_REASON.value) or {}
    return str(state.get("value") or "").strip()


def _plan_of(view: dict[str, Any]) -> int | None:
    try:
        return int(json.loads(view.get("private_metadata") or "{}")["plan_id"])
    except (ValueError, KeyError, TypeError):
        return None


async def _submit(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], *, engine: UpgradeEngine,
                  approving: bool) -> None:
    field = BlockId.DECISION_REASON.value
    plan_id, reason, user = _plan_of(view), _reason(view), str(body["user"]["id"])
    if plan_id is None:
        await ack(response_action="errors", errors={field: "This form lost its plan; click the button again"})
        return
    if not reason:
        await ack(response_action="errors", errors={field: "Give the reason: it is audited"})
        return
    try:
        if approving:
            await engine.approve(plan_id=plan_id, actor=user, override_reason=reason)
        else:
            await engine.reject(plan_id=plan_id, actor=user, reason=reason)
    except UserError as exc:
        await ack(response_action="errors", errors={field: exc.message[:2000]})
        return
    except Exception:
        log.exception("deciding plan #%s failed", plan_id)
        await ack(response_action="errors", errors={field: "The bot could not record it; see its log"})
        return
    await ack()


def register(app: AsyncApp, *, engine: UpgradeEngine, work: ListenerWork,
             tell: Ephemerals | None = None) -> None:
    for action, job, refused in ACTIONS:
        app.action(action)(listener(engine=engine, work=work, job=job, refused=refused, tell=tell))

    @app.view(CallbackId.OVERRIDE_MODAL.value)
    async def on_override(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        async with work.track():
            await _submit(ack, body, view, engine=engine, approving=True)

    @app.view(CallbackId.REJECT_MODAL.value)
    async def on_reject(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        async with work.track():
            await _submit(ack, body, view, engine=engine, approving=False)
