"""What the plan message and ``/dm-upgrade status`` say beyond the path itself: the path's
warnings (preview, known issues next to their hop, support, catalog age), the plan's notes (who can
approve, when the bot acts on its own) and the next step (who must do what, by when).

Pure functions of a ``PlanSnapshot`` and the workflow settings. Text that comes from a catalog or a person
is escaped before it goes into mrkdwn.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dms.packages import package_file
from dms.upgrade_path import Hop, PathWarning, WarningKind
from handlers import safe_text as safe
from workflow.approvals import overrides_needed
from workflow.model.snapshot import PlanSnapshot
from workflow.model.states import PlanState
from workflow.settings import WorkflowSettings

_LABEL: dict[WarningKind, str] = {
    WarningKind.PREVIEW: "Preview release",
    WarningKind.KNOWN_ISSUE: "Known issue",
    WarningKind.SUPPORT: "Support",
    WarningKind.CATALOG: "Release catalog",
}
# What a cancel can and cannot do once a hop runs on the DMS (the confirmation and the thread say it).
CANCEL_RUNNING_EFFECT = (
    "The bot starts no further step or hop. It cannot stop the hop already running on the DMS: those "
    "agents keep upgrading. The bot watches them until they settle and then reports where each one ended. "
    "Nothing is rolled back."
)
KEY_FUNCTIONALITIES_KEY = "verify.key_functionalities"
_BEFORE_WINDOW = frozenset({PlanState.SCHEDULED, PlanState.PRECHECKED, PlanState.BLOCKED})
_BEFORE_APPROVAL = frozenset({PlanState.PLANNED, *_BEFORE_WINDOW, PlanState.AWAITING_APPROVAL})


def _at(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def warning_line(warning: PathWarning) -> str:
    url = warning.url.replace("<", "").replace(">", "").replace("|", "")
    link = f" (<{url}|docs>)" if url else ""
    return f":warning: *{_LABEL[warning.kind]}*: {safe.literal(warning.text)}{link}"


def plan_warning_lines(snap: PlanSnapshot) -> list[str]:
    """The warnings that belong to the whole plan (a hop's known issue is shown next to its hop)."""
    return [warning_line(w) for w in snap.warnings if w.hop is None or w.hop >= len(snap.hops)]


def hop_warning_lines(snap: PlanSnapshot, position: int) -> list[str]:
    return [f"    {warning_line(w)}" for w in snap.warnings if w.hop == position]


# ---------------------------------------------------------------------------------------------- notes


def approver_note(snap: PlanSnapshot, *, settings: WorkflowSettings) -> str | None:
    """Said at plan time, not only at the click: nobody but the requester can approve this plan."""
    if snap.state not in _BEFORE_APPROVAL or settings.upgrade_approver_group:
        return None
    others = {user for user in settings.upgrade_approvers if user != snap.requester}
    if others:
        return None
    fix = ("Set `UPGRADE_APPROVERS` (Slack user ids) or `UPGRADE_APPROVER_GROUP` (a user group) to name "
           "a second person before the window opens")
    if snap.requester in settings.upgrade_approvers:
        if settings.allow_self_approval:
            return (f":warning: The only approver is the requester, <@{snap.requester}> "
                    f"(`ALLOW_SELF_APPROVAL` is on): nobody else reviews this upgrade. {fix}.")
        return (f":warning: The only approver is the requester, <@{snap.requester}>, who may not approve "
                f"their own upgrade: nobody can approve this plan. {fix}.")
    return f":warning: No upgrade approver is configured: nobody can approve this plan. {fix}."


def automatic_steps(snap: PlanSnapshot, *, settings: WorkflowSettings) -> str | None:
    """When the bot will run the pre-check, send the reminder and ask for the approval."""
    if snap.state not in _BEFORE_WINDOW or snap.window_start is None:
        return None
    start = snap.window_start
    steps = [
        ("pre-upgrade check", start - timedelta(hours=settings.precheck_lead_hours)),
        ("reminder of the open checklist items", start - timedelta(hours=settings.reminder_lead_hours)),
        ("approval request", start),
    ]
    parts = [f"{name} {'as soon as possible' if at <= snap.updated_at else 'at ' + _at(at)}"
             for name, at in steps]
    return ":stopwatch: The bot acts on its own: " + "; ".join(parts) + "."


def plan_notes(snap: PlanSnapshot, *, settings: WorkflowSettings) -> tuple[str, ...]:
    return tuple(note for note in (approver_note(snap, settings=settings),
                                   automatic_steps(snap, settings=settings)) if note)


# ---------------------------------------------------------------------------------------------- next step


def _approvers(settings: WorkflowSettings, *, requester: str) -> str:
    names = [f"<@{user}>" for user in settings.upgrade_approvers if user != requester]
    if settings.upgrade_approver_group:
        names.append(f"<!subteam^{settings.upgrade_approver_group}>")
    return ", ".join(names[:10]) or "an upgrade approver"


def next_step(snap: PlanSnapshot, *, settings: WorkflowSettings, now: datetime) -> str:
    """One line for the top of ``status``: who must do what, by when."""
    who = f"<@{snap.requester}>"
    state = snap.state
    start = _at(snap.window_start) if snap.window_start else "the window"
    end = _at(snap.window_end) if snap.window_end else "the end of the window"
    open_items = [item for item in snap.open_required_manual if item.phase.value != "verify"]
    if state is PlanState.PLANNED:
        return f"*Next:* {who} sets the upgrade window (the *Set window* button on the plan message)."
    if state is PlanState.BLOCKED:
        return (f"*Next:* {who} fixes what the pre-upgrade check found and runs it again "
                f"(`/dm-upgrade check {snap.id}`) before {start}; else an approver must override it.")
    if state in _BEFORE_WINDOW:
        if open_items:
            return (f"*Next:* {who} ticks {len(open_items)} open checklist item(s) before {start}, "
                    f"e.g. “{safe.literal(open_items[0].title)}”.")
        precheck = snap.window_start - timedelta(hours=settings.precheck_lead_hours) if snap.window_start \
            else now
        if state is PlanState.SCHEDULED and precheck > now:
            return f"*Next:* the bot runs the pre-upgrade check at {_at(precheck)}; nothing to do until then."
        return f"*Next:* the bot asks {_approvers(settings, requester=snap.requester)} to approve at {start}."
    if state is PlanState.AWAITING_APPROVAL:
        needs = overrides_needed(snap)
        extra = f" with an override reason ({safe.literal('; '.join(needs))})" if needs else ""
        return (f"*Next:* {_approvers(settings, requester=snap.requester)} approves or rejects{extra} "
                f"before {end}.")
    if state in (PlanState.EXECUTING, PlanState.VERIFYING):
        eta = f"; ETA {_at(snap.eta)}" if snap.eta else ""
        return f"*Next:* nothing to do: the bot is upgrading (watch the plan's thread){eta}."
    if state is PlanState.CANCELLING:
        return ("*Next:* nothing to do: the bot watches the agents until they settle, then reports where "
                "they ended.")
    if state is PlanState.DONE:
        item = next((i for i in snap.checklist if i.key == KEY_FUNCTIONALITIES_KEY), None)
        if item is not None and not item.checked:
            return (f"*Next:* {who} checks the key functionalities and ticks “{item.title}” on the plan "
                    "message.")
        return "*Next:* nothing: the upgrade is done and verified."
    # Escaped: in mrkdwn ``<version>`` is a link, even inside backticks.
    usage = safe.literal("`/dm-upgrade plan <version>`")
    return f"*Next:* nothing for this plan ({state.label}); plan a new one with {usage}."


def package_file_text(hop: Hop) -> str:
    """The exact file to put in DMS_PACKAGE_FOLDER on the DMA for this hop (``dms.packages``)."""
    try:
        return f"`{safe.name(package_file(hop))}`"
    except ValueError:  # a name that cannot be a file on the DMA: say so rather than post it
        return "(no valid package file name for this hop)"
