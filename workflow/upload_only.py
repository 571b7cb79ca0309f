"""*Upload only* of the first hop's package: a person's step in Cube, confirmed or reported in Slack.

No documented automation uploads a package with its prerequisite checks without upgrading: *Upload only*
exists only in Cube's System Center and in the Update Center (dataminer-docs:
dataminer/Administrator_guide/DataMiner_Agents/Upgrading_a_DMA/Upgrading_a_DataMiner_Agent_in_System_Center.md),
and the Taskbar Utility's command line has none. So the day-before check asks a person for it, naming the
exact file, and records what they report: "Done in Cube: checks passed" ticks the checklist item
``precheck.upload`` with who and when; "Checks failed" takes the report's text, unticks the item and blocks
the plan. The approval waits for the confirmation or an override reason (a required item of the pre-check
phase, ``workflow.approvals``). Only the first hop: a later hop's package checks the DMS it will be installed
on, and its prerequisite checks run again when its upgrade starts (Preparing_to_upgrade_a_DataMiner_Agent.md).
"""

from __future__ import annotations

from sqlmodel import Session

from dms.models import CheckResult, CheckStatus, Source
from dms.packages import package_file
from dms.upgrade_path import UpgradePath
from workflow.context import WorkflowContext
from workflow.events import StateChanged, UploadOnlyReported
from workflow.model import text
from workflow.model.checklist import StepKey
from workflow.model.errors import RuleViolation
from workflow.roles import Action, Permissions
from workflow.store import audit, checklist, plans
from workflow.store.states import PlanState, get_plan, transition

ITEM = StepKey.PRECHECK_UPLOAD
FAILED_MARK = "prerequisite checks failed"  # in the item's detail while the last report was a failure
# Before the window: a report can still change what the approval sees.
OPEN = frozenset({PlanState.PLANNED, PlanState.SCHEDULED, PlanState.PRECHECKED, PlanState.BLOCKED,
                  PlanState.AWAITING_APPROVAL})
BLOCKABLE = frozenset({PlanState.SCHEDULED, PlanState.PRECHECKED})


def first_file(path: UpgradePath) -> str | None:
    return package_file(path.hops[0]) if path.hops else None


def instructions(file: str) -> tuple[str, ...]:
    return (
        "In DataMiner Cube, open System Center > Agents > Manage > Upgrade.",
        f"Add or select the package {file} and select All Agents in cluster.",
        "Click Upload only: DataMiner uploads it to every agent and runs its prerequisite checks, "
        "without upgrading.",
        "When Cube shows the result, click Done in Cube: checks passed, or Checks failed with what it "
        "reported.",
    )


def result(session: Session, *, plan_id: int, file: str) -> CheckResult:
    """The pre-check line for Upload only: what a person reported, or not checked yet."""
    title = f"Upload only of {file} in Cube (its prerequisite checks)"
    item = next((i for i in checklist.items(session, plan_id=plan_id) if i.key == ITEM), None)
    if item is not None and item.checked:
        return CheckResult(name="prerequisites", title=title, status=CheckStatus.PASS,
                           detail=item.detail, source=Source.PERSON)
    if item is not None and FAILED_MARK in (item.detail or ""):
        return CheckResult(name="prerequisites", title=title, status=CheckStatus.FAIL,
                           detail=item.detail, source=Source.PERSON)
    return CheckResult(name="prerequisites", title=title, status=CheckStatus.MANUAL,
                       source=Source.NOT_CHECKED,
                       detail="not checked by the bot (no documented automation has Upload only): a person "
                              "runs it in System Center and clicks Done in Cube below")


async def report(
    context: WorkflowContext, permissions: Permissions, *, plan_id: int, actor: str, passed: bool,
    what: str = "",
) -> None:
    """A person's report of Upload only; ``what`` is Cube's report when the checks failed (required then)."""
    await permissions.require(plan_id=plan_id, action=Action.CUBE_STEP, actor=actor)
    said = text.reason(what)
    if not passed and not said:
        raise RuleViolation("Say what Cube reported: which prerequisite check failed, and its message")

    def unit(session: Session) -> tuple[str, tuple[PlanState, PlanState] | None]:
        plan = get_plan(session, plan_id=plan_id)
        state = PlanState(plan.state)
        if state not in OPEN:
            raise RuleViolation(f"Plan #{plan_id} is {state.label}: Upload only is reported before the "
                                "window")
        file = first_file(plans.stored_path(session, plan)) or "the package"
        now = context.now()
        stamp = f"{now:%Y-%m-%d %H:%M} UTC"
        # The mention last: a renderer escapes the text and keeps only a trailing "by <@U…>" as a mention.
        if passed:
            detail = (f"Upload only of {file}: prerequisite checks passed in Cube ({stamp}), confirmed by "
                      f"<@{actor}>")
        else:
            detail = f"Upload only of {file}: {FAILED_MARK} in Cube ({stamp}): {said}; reported by <@{actor}>"
        checklist.record_person(session, plan_id=plan_id, step=checklist.STEPS_BY_KEY[ITEM], actor=actor,
                                checked=passed, detail=detail, now=now)
        audit.record(session, actor=actor, action="upload_only.reported", plan_id=plan_id, reason=said,
                     detail={"file": file, "passed": passed}, now=now)
        if passed or state not in BLOCKABLE:
            return file, None
        transition(session, plan_id=plan_id, to=PlanState.BLOCKED, actor=actor, now=now,
                   reason=f"Upload only of {file} failed its prerequisite checks in Cube: {said}")
        return file, (state, PlanState.BLOCKED)

    file, moved = await context.unit(unit)
    await context.emit(UploadOnlyReported, plan_id, actor=actor, passed=passed, report=said, file=file)
    if moved is not None:
        await context.emit(StateChanged, plan_id, from_state=moved[0].value, to_state=moved[1].value,
                           actor=actor, reason="Upload only failed in Cube")
