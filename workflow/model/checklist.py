"""The MOP "Upgrading a DMA/DMS" as a checklist catalogue: phases, item kinds, and every step's typed id.

Every step of the MOP becomes an item with a stable key, its phase, a kind (``auto``: the bot verifies and
ticks it; ``manual``: a person ticks it and we record who and when) and a required flag. The plan's path
adds its requirements (``.NET``, ports, ...) and the target adds its key functionalities: free-text ones
are manual items (identified before, checked after) and key elements are automatic ones. A new item goes
here (a ``StepKey`` member and its ``Step``); ``workflow.store.checklist`` stores and ticks them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class StepKey(StrEnum):
    """The id of every item the catalogue defines itself (the path and the target add more, with slugs).
    One name per item, so the modules that tick items cannot drift from the catalogue by a typo."""

    DETERMINE_WINDOW = "determine.window"
    DETERMINE_TRACK = "determine.track"
    DETAILS_CONNECT = "details.connect"
    DETAILS_NO_PROBLEMS = "details.no_problems"
    DETAILS_KEY_FUNCTIONALITIES = "details.key_functionalities"
    DETAILS_KNOWN_ISSUES = "details.known_issues"
    DETAILS_REQUIREMENTS = "details.requirements"
    DETAILS_HOTFIXES = "details.hotfixes"
    DETAILS_TIME_SLOT = "details.time_slot"
    DETAILS_BACKUP = "details.backup"
    PRECHECK_CONNECT = "precheck.connect"
    PRECHECK_HEALTH = "precheck.health"
    PRECHECK_UPLOAD = "precheck.upload"
    EXECUTE_OPEN = "execute.open"
    EXECUTE_AGENTS_MEET_REQUIREMENTS = "execute.agents_meet_requirements"
    EXECUTE_ALL_AGENTS = "execute.all_agents"
    EXECUTE_FAILOVER = "execute.failover"
    EXECUTE_UPLOAD_ONLY = "execute.upload_only"
    EXECUTE_UPGRADE = "execute.upgrade"
    VERIFY_AGENTS_RUNNING = "verify.agents_running"
    VERIFY_KEY_FUNCTIONALITIES = "verify.key_functionalities"
    PRECHECK_KEY_ELEMENTS = "precheck.key_elements"
    VERIFY_KEY_ELEMENTS = "verify.key_elements"
    PRECHECK_HOTFIXES_UPLOADED = "precheck.hotfixes_uploaded"
    VERIFY_HOTFIXES_INSTALLED = "verify.hotfixes_installed"


STEP_KEYS = frozenset(key.value for key in StepKey)


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
    Step(StepKey.DETERMINE_WINDOW, Phase.DETERMINE, A, True, "Upgrade window chosen",
         "Verify when the upgrade should take place"),
    Step(StepKey.DETERMINE_TRACK, Phase.DETERMINE, A, True, "Main or Feature Release track determined",
         "Determine whether a Main Release or Feature Release upgrade is required"),
    Step(StepKey.DETAILS_CONNECT, Phase.DETAILS, A, True, "Connected to the DMS with administrator rights",
         "Connect to the system using the designated VPN or host PC"),
    Step(StepKey.DETAILS_NO_PROBLEMS, Phase.DETAILS, A, True,
         "No active problems that can endanger the upgrade",
         "Verify that there are no active problems in the DMS"),
    Step(StepKey.DETAILS_KEY_FUNCTIONALITIES, Phase.DETAILS, M, True,
         "Key DMS functionalities identified and not affected by the upgrade",
         "Check the key DMS functionalities"),
    Step(StepKey.DETAILS_KNOWN_ISSUES, Phase.DETAILS, M, True,
         "Release notes and known issues of the target version reviewed",
         "Verify if there are any known issues in the version you intend to upgrade to"),
    Step(StepKey.DETAILS_REQUIREMENTS, Phase.DETAILS, M, True,
         "Minimum requirements met; extra software (e.g. .NET) planned",
         "Check if the minimum requirements are met for the upgrade"),
    Step(StepKey.DETAILS_HOTFIXES, Phase.DETAILS, M, False,
         "Hotfixes to install after the upgrade identified",
         "Check if any hotfixes need to be installed after the upgrade"),
    Step(StepKey.DETAILS_TIME_SLOT, Phase.DETAILS, A, True, "Estimated duration fits the time slot",
         "Determine how much time will be required for the upgrade"),
    Step(StepKey.DETAILS_BACKUP, Phase.DETAILS, M, True,
         "Backup taken (VM snapshot, or Windows/DataMiner backup)",
         "Make sure a backup has been taken before the proposed time of the upgrade"),
    Step(StepKey.PRECHECK_CONNECT, Phase.PRECHECK, A, True, "Connected to the DMS on the day before",
         "Connect to the system using the designated VPN or host PC"),
    Step(StepKey.PRECHECK_HEALTH, Phase.PRECHECK, A, True, "System health checked again",
         "Check the system health again"),
    # A person's: Upload only exists only in Cube (workflow.upload_only), so a person reports its outcome.
    Step(StepKey.PRECHECK_UPLOAD, Phase.PRECHECK, M, True,
         "Upload only done in Cube; prerequisite checks passed",
         "Upload the DataMiner upgrade package(s)", "first hop's package, in System Center"),
    Step(StepKey.EXECUTE_OPEN, Phase.EXECUTE, A, True, "Upgrade started on every hop (by the bot or in Cube)",
         "Open DataMiner Cube"),
    Step(StepKey.EXECUTE_AGENTS_MEET_REQUIREMENTS, Phase.EXECUTE, M, True,
         "All agents meet the minimum requirements (e.g. .NET installed)",
         "Make sure all Agents in the DataMiner System meet the minimum requirements"),
    Step(StepKey.EXECUTE_ALL_AGENTS, Phase.EXECUTE, A, True, "All agents in the cluster upgraded",
         "If you are upgrading a DataMiner System that consists of more than one Agent"),
    Step(StepKey.EXECUTE_FAILOVER, Phase.EXECUTE, A, True, "Failover pairs upgraded simultaneously",
         "If you are upgrading a DMA that is part of a Failover pair"),
    Step(StepKey.EXECUTE_UPLOAD_ONLY, Phase.EXECUTE, A, True,
         "Packages uploaded (upload only) and verified first",
         "When you have selected the upgrade packages, first click Upload only"),
    Step(StepKey.EXECUTE_UPGRADE, Phase.EXECUTE, A, True, "Upgrade procedure followed for every hop",
         "Follow the upgrade procedure described in"),
    Step(StepKey.VERIFY_AGENTS_RUNNING, Phase.VERIFY, A, True, "Every DMA is running the target version",
         "When the upgrade is ready, verify that each DMA in the DataMiner System is running"),
    Step(StepKey.VERIFY_KEY_FUNCTIONALITIES, Phase.VERIFY, M, True,
         "Key functionalities checked after the upgrade",
         "check the key functionalities identified during the"),
)
del A, M
STEPS_BY_KEY = {step.key: step for step in MOP_STEPS}
# Items whose tick is a person's report of something done in Cube: a tick on the checklist itself says so.
PERSON_REPORTED = frozenset({StepKey.PRECHECK_UPLOAD})

# Short names people type (`tick backup`): shown beside each item, the same in every plan, so a runbook
# that ticks by name works whatever the plan's numbering (the path and the target add items before some).
# Items the path or the target adds have none (they differ from plan to plan); their full key is accepted.
SHORT_NAMES: dict[StepKey, str] = {
    StepKey.DETERMINE_WINDOW: "window",
    StepKey.DETERMINE_TRACK: "track",
    StepKey.DETAILS_CONNECT: "connect",
    StepKey.DETAILS_NO_PROBLEMS: "no-problems",
    StepKey.DETAILS_KEY_FUNCTIONALITIES: "key-functions",
    StepKey.DETAILS_KNOWN_ISSUES: "release-notes",
    StepKey.DETAILS_REQUIREMENTS: "requirements",
    StepKey.DETAILS_HOTFIXES: "hotfixes",
    StepKey.DETAILS_TIME_SLOT: "time-slot",
    StepKey.DETAILS_BACKUP: "backup",
    StepKey.PRECHECK_CONNECT: "precheck-connect",
    StepKey.PRECHECK_HEALTH: "precheck-health",
    StepKey.PRECHECK_UPLOAD: "upload-only",
    StepKey.EXECUTE_OPEN: "upgrade-started",
    StepKey.EXECUTE_AGENTS_MEET_REQUIREMENTS: "agents-ready",
    StepKey.EXECUTE_ALL_AGENTS: "all-agents",
    StepKey.EXECUTE_FAILOVER: "failover",
    StepKey.EXECUTE_UPLOAD_ONLY: "packages-uploaded",
    StepKey.EXECUTE_UPGRADE: "procedure",
    StepKey.VERIFY_AGENTS_RUNNING: "agents-on-target",
    StepKey.VERIFY_KEY_FUNCTIONALITIES: "key-functions-after",
    StepKey.PRECHECK_KEY_ELEMENTS: "key-elements",
    StepKey.VERIFY_KEY_ELEMENTS: "key-elements-after",
    StepKey.PRECHECK_HOTFIXES_UPLOADED: "hotfixes-uploaded",
    StepKey.VERIFY_HOTFIXES_INSTALLED: "hotfixes-installed",
}
_BY_SHORT_NAME = {name: key for key, name in SHORT_NAMES.items()}


def short_name(key: str) -> str | None:
    """The item's short name, or None for an item the path or the target added."""
    return SHORT_NAMES.get(StepKey(key)) if key in STEP_KEYS else None


def key_named(name: str, *, keys: Sequence[str]) -> str | None:
    """The key among ``keys`` (one plan's items) that ``name`` (a short name or a full key) names."""
    wanted = name.strip().lower()
    key = _BY_SHORT_NAME.get(wanted, wanted)
    return key if key in keys else None

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
        add(Step(StepKey.PRECHECK_KEY_ELEMENTS, Phase.PRECHECK, Kind.AUTO, True,
                 f"Key elements active: {names}", "target key elements"))
        add(Step(StepKey.VERIFY_KEY_ELEMENTS, Phase.VERIFY, Kind.AUTO, True,
                 f"Key elements active after the upgrade: {names}", "target key elements"))
    if hotfixes:
        # The bot drives only the path's packages; hotfixes are uploaded with them (MOP pre-check) and
        # installed by a person after the last hop, so both are manual and required.
        add(Step(StepKey.PRECHECK_HOTFIXES_UPLOADED, Phase.PRECHECK, Kind.MANUAL, True,
                 f"Hotfix package(s) uploaded as well ({hotfixes} expected)",
                 "If any hotfixes are required, upload these packages as well"))
        add(Step(StepKey.VERIFY_HOTFIXES_INSTALLED, Phase.VERIFY, Kind.MANUAL, True,
                 "Hotfixes installed after the upgrade", "Check if any hotfixes need to be installed"))
    # Keep the phase order for display; items within a phase keep their insertion order.
    return sorted(steps, key=lambda step: step.phase.order)
