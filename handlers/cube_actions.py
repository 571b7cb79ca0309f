"""The "Done in Cube" button (watch driver): ack, then confirm the step with the engine; a refusal (not
the requester or an approver, a step already confirmed) is told to the clicker only."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from handlers import actions
from handlers.blocks_cube import parse_button_value
from handlers.ids import ActionId
from handlers.middleware import ListenerWork
from workflow.engine import UpgradeEngine
from workflow.store.errors import UserError


async def _done_in_cube(engine: UpgradeEngine, client: AsyncWebClient, click: actions.Click) -> None:
    try:
        plan_id, hop_index, step = parse_button_value(str(click.action.get("value") or ""))
    except ValueError:
        raise UserError("This button does not name a step of a plan; use /dm-upgrade status") from None
    await engine.confirm_cube_step(plan_id=plan_id, hop_index=hop_index, step=step, actor=click.user)


def register(app: AsyncApp, *, engine: UpgradeEngine, work: ListenerWork) -> None:
    listener = actions.listener(engine=engine, work=work, job=_done_in_cube, refused="Not confirmed")
    app.action(ActionId.CUBE_DONE.value)(listener)
