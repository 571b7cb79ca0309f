"""The checklist items the bot verifies itself, ticked (or unticked) from check results.

A later run overrides an earlier one: a health check that failed yesterday and passes today ticks the
item again, and the other way round. Items a plan does not have (no key elements) are skipped.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from dms.models import CheckResult, CheckStatus, Source
from workflow.model.checklist import StepKey
from workflow.store import audit, checklist

HEALTH_CHECKS = frozenset({"agents_running", "alarms_blocking", "one_version", "failover_pairs"})
_KEYS_OK, _KEYS_BAD = "all key elements active", "a key element is not active"


def _apply(
    session: Session, *, plan_id: int, ticks: dict[StepKey, tuple[bool, str]], now: datetime | None
) -> None:
    keys = {item.key for item in checklist.items(session, plan_id=plan_id)}
    for key, (ok, detail) in ticks.items():
        if key in keys:
            checklist.auto_tick(session, plan_id=plan_id, key=key, checked=ok, detail=detail, now=now)


def after_precheck(
    session: Session, *, plan_id: int, results: list[CheckResult], now: datetime | None = None
) -> None:
    names = {r.name for r in results}
    failed = {r.name for r in results if r.status is CheckStatus.FAIL}
    reachable = "dms_reachable" not in failed
    healthy = reachable and not (failed & HEALTH_CHECKS)
    connect = (reachable, "connected through the Web Services API" if reachable else "the DMS did not answer")
    health = (healthy, "health checks passed" if healthy else "health checks failed")
    ticks = {
        StepKey.DETAILS_CONNECT: connect,
        StepKey.PRECHECK_CONNECT: connect,
        StepKey.DETAILS_NO_PROBLEMS: health,
        StepKey.PRECHECK_HEALTH: health,
    }
    if "key_element" in names:
        ok = "key_element" not in failed
        ticks[StepKey.PRECHECK_KEY_ELEMENTS] = (ok, _KEYS_OK if ok else _KEYS_BAD)
    _apply(session, plan_id=plan_id, ticks=ticks, now=now)


def with_confirmations(session: Session, *, plan_id: int, results: list[CheckResult]) -> list[CheckResult]:
    """Manual check results that a person already confirmed on the checklist become passes.

    The API cannot see .NET versions or backups, so the check asks a person; once the matching item is
    ticked, repeating "confirm ..." on every run would only teach people to ignore the check.
    """
    ticked = {item.key: item for item in checklist.items(session, plan_id=plan_id) if item.checked}
    by_requirement = {
        item.title.removeprefix(checklist.REQUIREMENT_PREFIX): item
        for item in ticked.values()
        if item.key.startswith("details.requirement.")
    }
    confirmed: list[CheckResult] = []
    for result in results:
        item, what = None, ""
        if result.status is CheckStatus.MANUAL and result.name == "backup":
            item = ticked.get(StepKey.DETAILS_BACKUP)
        elif result.status is CheckStatus.MANUAL and result.name == "requirement":
            matches = [(text, i) for text, i in by_requirement.items() if f": {text} (" in result.detail]
            what, item = matches[0] if matches else ("", None)
        if item is None:
            confirmed.append(result)
            continue
        who = f"<@{item.checked_by}>" if item.checked_by else "a person"
        detail = f"{what}: confirmed by {who}" if what else f"confirmed by {who}"
        confirmed.append(result.model_copy(update={"status": CheckStatus.PASS, "detail": detail,
                                                   "source": Source.PERSON}))
    return confirmed


def after_verification(
    session: Session, *, plan_id: int, results: list[CheckResult], driver: str, now: datetime | None = None
) -> None:
    """The execute and verify items, each saying who established it: with the script driver the bot drove
    the hops and DataMiner reported their exit codes; with the watch driver people clicked in Cube (named
    from their "Done in Cube" confirmations) and the bot watched."""
    failed = {r.name for r in results if r.status is CheckStatus.FAIL}
    on_target = "on_target" not in failed
    agents = (on_target, "every agent runs the target version (checked by the bot)" if on_target
              else "not every agent upgraded")
    items = {item.key: item for item in checklist.items(session, plan_id=plan_id)}
    upload = items.get(StepKey.PRECHECK_UPLOAD)
    rerun = "each hop's prerequisite checks ran again when its upgrade started"
    ticks: dict[str, tuple[bool, str, str]]
    if driver == "watch":
        people = _cube_confirmations(session, plan_id=plan_id)
        uploaders, upgraders = people.get("upload", []), people.get("upgrade", [])
        ticks = {
            StepKey.EXECUTE_OPEN: (
                bool(upgraders), f"done in Cube by {_names(upgraders)}; the bot watched the agents",
                _first(upgraders)),
            StepKey.EXECUTE_UPLOAD_ONLY: (
                bool(uploaders), f"Upload only done in Cube by {_names(uploaders)} (Done in Cube)",
                _first(uploaders)),
            StepKey.EXECUTE_UPGRADE: (
                bool(upgraders), f"Upgrade clicked in Cube by {_names(upgraders)} (Done in Cube)",
                _first(upgraders)),
        }
    else:
        drove = ("the bot drove every hop through the orchestrator script; SLTaskbarUtility exited with "
                 "code 0 for each (reported by DataMiner)")
        confirmed = upload is not None and upload.checked
        first = f"hop 1: {upload.detail}" if confirmed and upload is not None else \
            "hop 1: Upload only was not confirmed in Cube (approved with an override)"
        ticks = {
            StepKey.EXECUTE_OPEN: (True, drove, BOT),
            StepKey.EXECUTE_UPLOAD_ONLY: (
                confirmed, f"{first}; {rerun} (exit code 0, reported by DataMiner)",
                (upload.checked_by or BOT) if confirmed and upload is not None else BOT),
            StepKey.EXECUTE_UPGRADE: (True, drove, BOT),
        }
    ticks |= {
        StepKey.EXECUTE_ALL_AGENTS: (*agents, BOT),
        StepKey.EXECUTE_FAILOVER: (on_target, "failover pairs upgraded simultaneously (checked by the bot)",
                                   BOT),
        StepKey.VERIFY_AGENTS_RUNNING: (*agents, BOT),
    }
    if "key_element" in {r.name for r in results}:
        ok = "key_element" not in failed
        ticks[StepKey.VERIFY_KEY_ELEMENTS] = (ok, _KEYS_OK if ok else _KEYS_BAD, BOT)
    keys = {item.key for item in checklist.items(session, plan_id=plan_id)}
    for key, (ok, detail, actor) in ticks.items():
        if key in keys:
            checklist.auto_tick(session, plan_id=plan_id, key=key, checked=ok, detail=detail, actor=actor,
                                now=now)


BOT = "bot"


def _cube_confirmations(session: Session, *, plan_id: int) -> dict[str, list[str]]:
    """Who clicked Done in Cube for each step, in order, each person once."""
    found: dict[str, list[str]] = {}
    for row in audit.events(session, plan_id=plan_id):
        if row.action != "cube.confirmed":
            continue
        step = str((row.detail or {}).get("step", ""))
        people = found.setdefault(step, [])
        if row.actor not in people:
            people.append(row.actor)
    return found


def _names(people: list[str]) -> str:
    return ", ".join(f"<@{person}>" for person in people) or "nobody"


def _first(people: list[str]) -> str:
    return people[0] if people else BOT
