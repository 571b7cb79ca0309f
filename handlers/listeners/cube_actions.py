"""A person's steps in Cube: "Done in Cube" (watch driver) and the day-before Upload only report. Ack, then
ask the engine; a refusal (no role on the plan, a step already confirmed) is told to the clicker only. The
"Checks failed" modal's submission calls the engine before acking: only the ack can show a field error."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from handlers import safe_text as safe
from handlers.blocks.cube import upload_failed_modal
from handlers.button_values import CubeStepButton
from handlers.delivery.ephemerals import Ephemerals
from handlers.ids import ActionId, BlockId, CallbackId
from handlers.listeners import actions
from handlers.listeners.middleware import ListenerWork
from workflow.engine import UpgradeEngine
from workflow.model.errors import UserError

log = logging.getLogger(__name__)


async def _done_in_cube(engine: UpgradeEngine, client: AsyncWebClient, click: actions.Click) -> None:
    step = click.button
    if not isinstance(step, CubeStepButton):
        raise UserError("This button does not name a step of a plan; use /dm-upgrade status")
    await engine.confirm_cube_step(plan_id=step.plan_id, hop_index=step.hop_index, step=step.step,
                                   actor=click.user)


async def _upload_passed(engine: UpgradeEngine, client: AsyncWebClient, click: actions.Click) -> None:
    await engine.report_upload_only(plan_id=click.plan_id(), actor=click.user, passed=True)


async def _upload_failed(engine: UpgradeEngine, client: AsyncWebClient, click: actions.Click) -> None:
    snap = await engine.read_status(plan_id=click.plan_id())
    view = upload_failed_modal(snap, channel=click.channel)
    await client.views_open(trigger_id=click.trigger_id, view=view)


def _report(view: dict[str, Any]) -> tuple[int | None, str]:
    try:
        plan_id: int | None = int(json.loads(view.get("private_metadata") or "{}")["plan_id"])
    except (ValueError, KeyError, TypeError, OverflowError, RecursionError):
        plan_id = None
    values = view.get("state", {}).get("values", {}) if isinstance(view.get("state"), dict) else {}
    block = values.get(BlockId.DECISION_REASON.value) if isinstance(values, dict) else None
    state = block.get(ActionId.DECISION_REASON.value) if isinstance(block, dict) else None
    text = state.get("value") if isinstance(state, dict) else None
    return plan_id, str(text or "").strip()


async def _submit_failed(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], *,
                         engine: UpgradeEngine) -> None:
    field = BlockId.DECISION_REASON.value
    user_field = body.get("user")
    user = safe.slack_id(user_field.get("id") if isinstance(user_field, dict) else user_field)
    plan_id, report = _report(view)
    if user is None or plan_id is None:
        await ack(response_action="errors", errors={field: "This form lost its plan; click the button again"})
        return
    try:
        await engine.report_upload_only(plan_id=plan_id, actor=user, passed=False, report=report)
    except UserError as exc:
        await ack(response_action="errors", errors={field: exc.message[:2000]})
        return
    except Exception:
        log.exception("recording the Upload only report of plan #%s failed", plan_id)
        await ack(response_action="errors", errors={field: "The bot could not record it; see its log"})
        return
    await ack()


def register(app: AsyncApp, *, engine: UpgradeEngine, work: ListenerWork,
             tell: Ephemerals | None = None) -> None:
    for action, job, refused in (
        (ActionId.CUBE_DONE, _done_in_cube, "Not confirmed"),
        (ActionId.UPLOAD_PASSED, _upload_passed, "Not recorded"),
        (ActionId.UPLOAD_FAILED, _upload_failed, "Not recorded"),
    ):
        app.action(action.value)(actions.listener(engine=engine, work=work, job=job, refused=refused,
                                                  tell=tell))

    @app.view(CallbackId.UPLOAD_FAILED_MODAL.value)
    async def on_upload_failed(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        async with work.track():
            await _submit_failed(ack, body, view, engine=engine)
