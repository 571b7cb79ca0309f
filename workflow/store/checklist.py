"""The MOP "Upgrading a DMA/DMS" as a per-plan checklist.

Every step of the MOP becomes an item with a stable key, its phase, a kind (``auto``: the bot verifies and
ticks it; ``manual``: a person ticks it and we record who and when) and a required flag. The plan's path
adds its requirements (``.NET``, ports, ...) and the target adds its key functionalities: free-text ones
are manual items (identified before, checked after) and key elements are automatic ones.
Execution is refused while required manual items of earlier phases are open (unless overridden).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlmodel import Session, col, select

from workflow.store import audit
from workflow.store.clock import utc_now
from workflow.store.errors import NotFound, RuleViolation
from workflow.store.states import PlanState, get_plan
from workflow.store.tables import ChecklistItem


class Phase(StrEnum):
    """The MOP's phases, in order (plus the final verification, the MOP's last execute step)."""

    DETERMINE = "determine"
    DETAILS = "details"
    PRECHECK = "precheck"
    EXECUTE = "execute"
    VERIFY = "verify"

    @property
    def label(self) -> str:
        return PHASE_TITLES[self]

    @property
    def order(self) -> int:
        return list(Phase).index(self)


REQUIREMENT_PREFIX = "Requirement met: "  # then the requirement's text, as the catalog words it

# Approval starts the execution at once, so the gate covers every phase before the verification: the
# execute phase's manual items are the MOP's "before you upgrade" prerequisites (agents meet the minimum
# requirements); items only a running upgrade can satisfy are automatic or not required.
APPROVAL_GATE = Phase.VERIFY

PHASE_TITLES: dict[Phase, str] = {
    Phase.DETERMINE: "Determine the upgrade version and time slot",
    Phase.DETAILS: "Establish the details for the upgrade",
    Phase.PRECHECK: "Perform a pre-upgrade check on the day before the upgrade",
    Phase.EXECUTE: "Execute the DataMiner upgrade",
    Phase.VERIFY: "Verify the upgrade",
}


class Kind(StrEnum):
    AUTO = "auto"
    MANUAL = "manual"


@dataclass(frozen=True)
class Step:
    key: str
    phase: Phase
    kind: Kind
    required: bool
    title: str
    mop: str  # the start of the MOP step it comes from (the tests prove every MOP step is covered)
    detail: str = ""  # shown under the title (a checkbox label holds 75 characters): e.g. which helper


A, M = Kind.AUTO, Kind.MANUAL
MOP_STEPS: tuple[Step, ...] = (
    Step("determine.window", Phase.DETERMINE, A, True, "Upgrade window chosen",
         "Verify when the upgrade should take place"),
    Step("determine.track", Phase.DETERMINE, A, True, "Main or Feature Release track determined",
         "Determine whether a Main Release or Feature Release upgrade is required"),
    Step("details.connect", Phase.DETAILS, A, True, "Connected to the DMS with administrator rights",
         "Connect to the system using the designated VPN or host PC"),
    Step("details.no_problems", Phase.DETAILS, A, True, "No active problems that can endanger the upgrade",
         "Verify that there are no active problems in the DMS"),
    Step("details.key_functionalities", Phase.DETAILS, M, True,
         "Key DMS functionalities identified and not affected by the upgrade",
         "Check the key DMS functionalities"),
    Step("details.known_issues", Phase.DETAILS, M, True,
         "Release notes and known issues of the target version reviewed",
         "Verify if there are any known issues in the version you intend to upgrade to"),
    Step("details.requirements", Phase.DETAILS, M, True,
         "Minimum requirements met; extra software (e.g. .NET) planned",
         "Check if the minimum requirements are met for the upgrade"),
    Step("details.hotfixes", Phase.DETAILS, M, False, "Hotfixes to install after the upgrade identified",
         "Check if any hotfixes need to be installed after the upgrade"),
    Step("details.time_slot", Phase.DETAILS, A, True, "Estimated duration fits the time slot",
         "Determine how much time will be required for the upgrade"),
    Step("details.backup", Phase.DETAILS, M, True,
         "Backup taken (VM snapshot, or Windows/DataMiner backup)",
         "Make sure a backup has been taken before the proposed time of the upgrade"),
    Step("precheck.connect", Phase.PRECHECK, A, True, "Connected to the DMS on the day before",
         "Connect to the system using the designated VPN or host PC"),
    Step("precheck.health", Phase.PRECHECK, A, True, "System health checked again",
         "Check the system health again"),
    # A person's: Upload only exists only in Cube (workflow.upload_only), so a person reports its outcome.
    Step("precheck.upload", Phase.PRECHECK, M, True, "Upload only done in Cube; prerequisite checks passed",
         "Upload the DataMiner upgrade package(s)", "first hop's package, in System Center"),
    Step("execute.open", Phase.EXECUTE, A, True, "Upgrade started on every hop (by the bot or in Cube)",
         "Open DataMiner Cube"),
    Step("execute.agents_meet_requirements", Phase.EXECUTE, M, True,
         "All agents meet the minimum requirements (e.g. .NET installed)",
         "Make sure all Agents in the DataMiner System meet the minimum requirements"),
    Step("execute.all_agents", Phase.EXECUTE, A, True, "All agents in the cluster upgraded",
         "If you are upgrading a DataMiner System that consists of more than one Agent"),
    Step("execute.failover", Phase.EXECUTE, A, True, "Failover pairs upgraded simultaneously",
         "If you are upgrading a DMA that is part of a Failover pair"),
    Step("execute.upload_only", Phase.EXECUTE, A, True, "Packages uploaded (upload only) and verified first",
         "When you have selected the upgrade packages, first click Upload only"),
    Step("execute.upgrade", Phase.EXECUTE, A, True, "Upgrade procedure followed for every hop",
         "Follow the upgrade procedure described in"),
    Step("verify.agents_running", Phase.VERIFY, A, True, "Every DMA is running the target version",
         "When the upgrade is ready, verify that each DMA in the DataMiner System is running"),
    Step("verify.key_functionalities", Phase.VERIFY, M, True, "Key functionalities checked after the upgrade",
         "check the key functionalities identified during the"),
)
del A, M
STEPS_BY_KEY = {step.key: step for step in MOP_STEPS}
# Items whose tick is a person's report of something done in Cube: a tick on the checklist itself says so.
PERSON_REPORTED = frozenset({"precheck.upload"})

# Watch driver only: a person uploads each hop's package in Cube and confirms it here; the execution loop
# waits for this tick (and clears it at the start of every hop). Not required for the approval.
UPLOAD_CONFIRMED = Step("execute.upload_confirmed", Phase.EXECUTE, Kind.MANUAL, False,
                        "(watch driver) Upload verified in Cube, for the current hop",
                        "When you have selected the upgrade packages, first click Upload only")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "item"


def build_steps(
    *,
    requirements: Sequence[str] = (),
    key_elements: Sequence[str] = (),
    key_checks: Sequence[str] = (),
    hotfixes: int = 0,
    path_items: Sequence[tuple[str, str]] = (),
    known_issues: Sequence[str] = (),
) -> list[Step]:
    """The plan's checklist: the MOP's steps plus the path's requirements, the target's key items and,
    when hotfixes are expected (``HOTFIXES``), their upload and installation. ``path_items`` are
    ``UpgradePath.checklist_items()`` (helper prerequisites in "details", post-migration steps in
    "verify"); ``known_issues`` are the texts of the path's known-issue warnings, each a manual item."""
    steps = list(MOP_STEPS)
    keys = {step.key for step in steps}

    def add(step: Step) -> None:
        key, suffix = step.key, 2
        while key in keys:  # two texts with the same slug still get distinct, stable keys
            key, suffix = f"{step.key}-{suffix}", suffix + 1
        keys.add(key)
        steps.append(Step(key, step.phase, step.kind, step.required, step.title, step.mop, step.detail))

    for text in dict.fromkeys(requirements):
        add(Step(f"details.requirement.{_slug(text)}", Phase.DETAILS, Kind.MANUAL, True,
                 f"{REQUIREMENT_PREFIX}{text}", "path requirement"))
    for text in dict.fromkeys(key_checks):
        add(Step(f"details.key.{_slug(text)}", Phase.DETAILS, Kind.MANUAL, True,
                 f"Key functionality identified: {text}", "target key check"))
        add(Step(f"verify.key.{_slug(text)}", Phase.VERIFY, Kind.MANUAL, True,
                 f"Key functionality works after the upgrade: {text}", "target key check"))
    for phase_name, text in dict.fromkeys(path_items):
        # "NATSMigration.dmupgrade (BrokerGateway migration): TLS 1.2 enabled ...": the step is the title,
        # the helper it belongs to the detail, so the step itself fits a checkbox label.
        helper, sep, what = text.partition(": ")
        title, detail = (what, helper) if sep and what else (text, "")
        phase = Phase(phase_name)
        add(Step(f"{phase.value}.helper.{_slug(text)}", phase, Kind.MANUAL, True, title, "helper step",
                 detail))
    for text in dict.fromkeys(known_issues):
        # A person decides how to handle a known issue the path could not avoid; the approval waits for it.
        short = text.replace(": Known issue: ", ": ", 1)
        add(Step(f"details.known_issue.{_slug(text)}", Phase.DETAILS, Kind.MANUAL, True,
                 f"Known issue handled: {short}", "path known issue"))
    if key_elements:
        names = ", ".join(key_elements)
        add(Step("precheck.key_elements", Phase.PRECHECK, Kind.AUTO, True,
                 f"Key elements active: {names}", "target key elements"))
        add(Step("verify.key_elements", Phase.VERIFY, Kind.AUTO, True,
                 f"Key elements active after the upgrade: {names}", "target key elements"))
    if hotfixes:
        # The bot drives only the path's packages; hotfixes are uploaded with them (MOP pre-check) and
        # installed by a person after the last hop, so both are manual and required.
        add(Step("precheck.hotfixes_uploaded", Phase.PRECHECK, Kind.MANUAL, True,
                 f"Hotfix package(s) uploaded as well ({hotfixes} expected)",
                 "If any hotfixes are required, upload these packages as well"))
        add(Step("verify.hotfixes_installed", Phase.VERIFY, Kind.MANUAL, True,
                 "Hotfixes installed after the upgrade", "Check if any hotfixes need to be installed"))
    # Keep the phase order for display; items within a phase keep their insertion order.
    return sorted(steps, key=lambda step: step.phase.order)


def create_items(session: Session, *, plan_id: int, steps: Sequence[Step]) -> list[ChecklistItem]:
    rows = [
        ChecklistItem(
            plan_id=plan_id,
            key=step.key,
            position=position,
            phase=step.phase.value,
            kind=step.kind.value,
            required=step.required,
            title=step.title,
            detail=step.detail,
        )
        for position, step in enumerate(steps)
    ]
    session.add_all(rows)
    session.flush()
    return rows


def ensure_item(session: Session, *, plan_id: int, step: Step) -> ChecklistItem:
    """The plan's item for ``step``, added after the last item of its phase when missing (a step that
    depends on the DMS's driver, or a plan created before the step existed)."""
    statement = select(ChecklistItem).where(ChecklistItem.plan_id == plan_id, ChecklistItem.key == step.key)
    existing = session.exec(statement).first()
    if existing is not None:
        return existing
    rows = items(session, plan_id=plan_id)
    before = [row for row in rows if Phase(row.phase).order <= step.phase.order]
    position = max((row.position for row in before), default=-1) + 1
    for row in rows:
        if row.position >= position:
            row.position += 1
            session.add(row)
    item = ChecklistItem(plan_id=plan_id, key=step.key, position=position, phase=step.phase.value,
                         kind=step.kind.value, required=step.required, title=step.title, detail=step.detail)
    session.add(item)
    session.flush()
    return item


def items(session: Session, *, plan_id: int) -> list[ChecklistItem]:
    statement = select(ChecklistItem).where(ChecklistItem.plan_id == plan_id)
    return list(session.exec(statement.order_by(col(ChecklistItem.position))))


def _item(session: Session, *, plan_id: int, key: str) -> ChecklistItem:
    statement = select(ChecklistItem).where(ChecklistItem.plan_id == plan_id, ChecklistItem.key == key)
    item = session.exec(statement).first()
    if item is None:
        raise NotFound(f"Plan #{plan_id} has no checklist item {key!r}")
    return item


def _set(
    session: Session,
    item: ChecklistItem,
    *,
    actor: str,
    checked: bool,
    detail: str,
    action: str,
    now: datetime | None,
) -> None:
    if item.checked == checked and (not detail or item.detail == detail):
        return  # idempotent: the engine may tick the same item after every check run
    item.checked = checked
    item.checked_by = actor if checked else None
    when = now or utc_now()
    item.checked_at = when if checked else None
    if detail:
        item.detail = detail
    session.add(item)
    audit.record(
        session,
        actor=actor,
        action=action,
        plan_id=item.plan_id,
        reason=detail,
        detail={"key": item.key, "checked": checked},
        now=when,
    )
    session.flush()


def tick(
    session: Session, *, plan_id: int, key: str, actor: str, checked: bool, now: datetime | None = None
) -> ChecklistItem:
    """A person ticks (or unticks) a manual item; automatic items are the bot's alone."""
    state = PlanState(get_plan(session, plan_id=plan_id).state)
    item = _item(session, plan_id=plan_id, key=key)
    # The MOP's last step (key functionalities checked after the upgrade) is a person's, and it can only
    # happen once the bot's verification moved the plan to DONE: those items stay open to ticking then.
    after_upgrade = state is PlanState.DONE and item.phase == Phase.VERIFY
    if state.terminal and not after_upgrade:
        raise RuleViolation(f"Plan #{plan_id} is {state.label}; its checklist is closed")
    if item.kind == Kind.AUTO:
        raise RuleViolation(f"{item.title!r} is checked by the bot itself; it cannot be ticked by hand")
    detail = ""
    if item.key in PERSON_REPORTED:  # replace what an earlier report said (e.g. "checks failed")
        stamp = f"{(now or utc_now()):%Y-%m-%d %H:%M} UTC"
        detail = (f"ticked on the checklist ({stamp}), confirmed by <@{actor}>" if checked
                  else f"unticked ({stamp}) by <@{actor}>")
    _set(session, item, actor=actor, checked=checked, detail=detail, action="checklist.tick", now=now)
    return item


def record_person(
    session: Session, *, plan_id: int, step: Step, actor: str, checked: bool, detail: str,
    now: datetime | None = None,
) -> ChecklistItem:
    """A person's report through a button (e.g. Upload only in Cube): recorded with who, as they said it."""
    item = ensure_item(session, plan_id=plan_id, step=step)
    _set(session, item, actor=actor, checked=checked, detail=detail, action="checklist.person", now=now)
    return item


def auto_tick(
    session: Session,
    *,
    plan_id: int,
    key: str,
    checked: bool = True,
    detail: str = "",
    actor: str = "bot",
    now: datetime | None = None,
) -> ChecklistItem:
    """The engine records what it verified; unknown keys raise NotFound (a programming error)."""
    item = _item(session, plan_id=plan_id, key=key)
    _set(session, item, actor=actor, checked=checked, detail=detail, action="checklist.auto", now=now)
    return item


def open_required_manual(session: Session, *, plan_id: int, before_phase: Phase) -> list[ChecklistItem]:
    """Required manual items still open in phases strictly before ``before_phase``."""
    limit = Phase(before_phase).order
    return [
        item
        for item in items(session, plan_id=plan_id)
        if item.kind == Kind.MANUAL
        and item.required
        and not item.checked
        and Phase(item.phase).order < limit
    ]
