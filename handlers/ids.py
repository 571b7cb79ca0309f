"""Identifiers of the Slack surface: the slash command, the scopes, action/block/callback ids.

One place for every id, so Block Kit builders, listeners (``app.action(ActionId.APPROVE)``), the console and
``manifest.yml`` agree. Values are short: Slack allows 255 characters for ``action_id``/``block_id`` and
``callback_id``, and ids travel in every interaction payload.
"""

from __future__ import annotations

import re
from enum import StrEnum

SLASH_COMMAND = "/dm-upgrade"

USAGE = (
    "plan <version> [on <dms>] [from <version>] [track main|feature|preview] [at YYYY-MM-DD HH:MM [for 4h]] "
    "| campaign <version> on <dms> [then <dms>] [soak 24h] | status [id] [full] | tick <id> <item> | check "
    "| cancel <id> | history | timeline [id] | help"
)

# The bot scopes the code needs, and the Web API methods that need each (see manifest.yml).
BOT_SCOPES: dict[str, tuple[str, ...]] = {
    "commands": ("slash command /dm-upgrade",),
    "chat:write": ("chat.postMessage", "chat.update", "chat.postEphemeral", "chat.delete"),
    # /dm-upgrade works in any public channel without inviting the bot first (else: not_in_channel).
    "chat:write.public": ("chat.postMessage to public channels the bot is not a member of",),
    "usergroups:read": ("usergroups.users.list",),
    "users:read": ("users.info",),
    "files:write": ("files.getUploadURLExternal", "files.completeUploadExternal (the timeline picture)"),
}

MAX_ID_LENGTH = 255


class ActionId(StrEnum):
    """``action_id`` of interactive elements."""

    # Plan message buttons
    SET_WINDOW = "plan.window"
    RUN_CHECK = "plan.check"
    CANCEL = "plan.cancel"
    # Approval request buttons (each behind a confirm dialog)
    APPROVE = "approval.approve"
    REJECT = "approval.reject"
    # App Home buttons: open a plan's thread (a link), run a plan's pre-check
    HOME_THREAD = "home.thread"
    HOME_CHECK = "home.check"
    # The Cancel button while a hop runs, and the confirmation a cancel asks for then
    CANCEL_RUNNING = "plan.cancel_running"
    # The reason input of the override and reject modals
    DECISION_REASON = "decision.reason"
    # Watch driver: a person confirms a step done in DataMiner Cube (value "<plan>:<hop index>:<step>")
    CUBE_DONE = "cube.done"
    # The short status's button that shows the whole plan (value: the plan id)
    STATUS_FULL = "status.full"
    # The day before: a person reports Upload only in Cube (value: the plan id)
    UPLOAD_PASSED = "upload_only.passed"
    UPLOAD_FAILED = "upload_only.failed"
    # The stored campaign's card (value: the campaign id) and its modal's inputs
    CAMPAIGN_APPROVE = "campaign.approve"
    CAMPAIGN_HALT = "campaign.halt"
    CAMPAIGN_RESUME = "campaign.resume"
    CAMPAIGN_SKIP = "campaign.skip"
    CAMPAIGN_ABORT = "campaign.abort"
    CAMPAIGN_REASON = "campaign.reason"
    CAMPAIGN_SKIP_DMS = "campaign.skip_dms"
    CAMPAIGN_MOVE = "campaign.move"
    # Window modal inputs
    WINDOW_DATE = "window.date"
    WINDOW_TIME = "window.time"
    WINDOW_DURATION = "window.duration"


class BlockId(StrEnum):
    """``block_id`` of blocks that listeners or view submissions address."""

    PLAN_HEADER = "plan.header"
    PLAN_ACTIONS = "plan.actions"
    PLAN_STATUS = "plan.status"
    APPROVAL_ACTIONS = "approval.actions"
    APPROVAL_DECISION = "approval.decision"
    CANCEL_CONFIRM = "cancel.confirm"
    DECISION_REASON = "decision.reason"
    WINDOW_DATE = "window.date"
    WINDOW_TIME = "window.time"
    WINDOW_DURATION = "window.duration"
    CAMPAIGN_ACTIONS = "campaign.actions"
    CAMPAIGN_REASON = "campaign.reason"
    CAMPAIGN_SKIP_DMS = "campaign.skip_dms"


class CallbackId(StrEnum):
    """``callback_id`` of modals."""

    WINDOW_MODAL = "window.modal"
    OVERRIDE_MODAL = "approval.override.modal"
    REJECT_MODAL = "approval.reject.modal"
    UPLOAD_FAILED_MODAL = "upload_only.failed.modal"
    CAMPAIGN_MODAL = "campaign.modal"  # halt, resume, skip or abort: the reason (and the DMS to skip)


# The checklist is one checkboxes element per MOP phase; the phase name is part of the ids, so one listener
# (matching CHECKLIST_ACTION_PATTERN) serves every phase.
_CHECKLIST_PREFIX = "checklist."
_PHASE_RE = re.compile(r"^[a-z0-9_-]{1,64}$")
CHECKLIST_ACTION_PATTERN = re.compile(r"^checklist\.[a-z0-9_-]{1,64}$")


def checklist_action_id(phase: str) -> str:
    """``action_id`` of the checkboxes of one phase, e.g. ``checklist.preparation``."""
    if not _PHASE_RE.match(phase):
        raise ValueError(f"invalid checklist phase id {phase!r}: use 1-64 of a-z, 0-9, '_' and '-'")
    return _CHECKLIST_PREFIX + phase


def checklist_block_id(phase: str) -> str:
    """``block_id`` of the block holding one phase's checkboxes."""
    return checklist_action_id(phase)


def checklist_phase(action_id: str) -> str:
    """The phase a checklist ``action_id`` belongs to; ``ValueError`` for anything else."""
    if not CHECKLIST_ACTION_PATTERN.match(action_id):
        raise ValueError(f"not a checklist action id: {action_id!r}")
    return action_id.removeprefix(_CHECKLIST_PREFIX)
