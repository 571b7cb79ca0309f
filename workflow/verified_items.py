"""The checklist items the bot verifies itself, ticked (or unticked) from check results.

A later run overrides an earlier one: a health check that failed yesterday and passes today ticks the
item again, and the other way round. Items a plan does not have (no key elements) are skipped.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from dms.models import CheckResult, CheckStatus
from workflow.store import checklist

HEALTH_CHECKS = frozenset({"agents_running", "alarms_blocking", "one_version", "failover_pairs"})
_KEYS_OK, _KEYS_BAD = "all key elements active", "a key element is not active"


def _apply(
    session: Session, *, plan_id: int, ticks: dict[str, tuple[bool, str]], now: datetime | None
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
    uploads = [r for r in results if r.name == "prerequisites"]
    uploaded = bool(uploads) and all(r.status is CheckStatus.PASS for r in uploads)
    connect = (reachable, "connected through the Web Services API" if reachable else "the DMS did not answer")
    health = (healthy, "health checks passed" if healthy else "health checks failed")
    ticks = {
        "details.connect": connect,
        "precheck.connect": connect,
        "details.no_problems": health,
        "precheck.health": health,
        "precheck.upload": (uploaded, _upload_detail(uploaded, staged="staged" in names)),
    }
    if "key_element" in names:
        ok = "key_element" not in failed
        ticks["precheck.key_elements"] = (ok, _KEYS_OK if ok else _KEYS_BAD)
    _apply(session, plan_id=plan_id, ticks=ticks, now=now)


def _upload_detail(uploaded: bool, *, staged: bool) -> str:
    if not uploaded:
        return "not uploaded"
    if staged:  # later hops' packages are checked right before their hop (workflow.precheck_runner)
        return "the first hop's package uploaded (Upload only); later hops staged"
    return "every package uploaded (Upload only)"


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
            item = ticked.get("details.backup")
        elif result.status is CheckStatus.MANUAL and result.name == "requirement":
            matches = [(text, i) for text, i in by_requirement.items() if f": {text} (" in result.detail]
            what, item = matches[0] if matches else ("", None)
        if item is None:
            confirmed.append(result)
            continue
        who = f"<@{item.checked_by}>" if item.checked_by else "a person"
        detail = f"{what}: confirmed by {who}" if what else f"confirmed by {who}"
        confirmed.append(result.model_copy(update={"status": CheckStatus.PASS, "detail": detail}))
    return confirmed


def after_verification(
    session: Session, *, plan_id: int, results: list[CheckResult], now: datetime | None = None
) -> None:
    failed = {r.name for r in results if r.status is CheckStatus.FAIL}
    on_target = "on_target" not in failed
    agents = (on_target, "every agent runs the target version" if on_target else "not every agent upgraded")
    done = (True, "the bot drove every hop")
    ticks = {
        "execute.open": done,
        "execute.upload_only": (True, "every package uploaded and its prerequisite checks passed first"),
        "execute.upgrade": done,
        "execute.all_agents": agents,
        "execute.failover": (on_target, "failover pairs upgraded simultaneously"),
        "verify.agents_running": agents,
    }
    if "key_element" in {r.name for r in results}:
        ok = "key_element" not in failed
        ticks["verify.key_elements"] = (ok, _KEYS_OK if ok else _KEYS_BAD)
    _apply(session, plan_id=plan_id, ticks=ticks, now=now)
