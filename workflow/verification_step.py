"""The MOP's last phase, "Verify the upgrade", as the execution runs it once every hop is installed.

The verification compares the DMS with the baseline the day-before check took (agents on the target,
active elements not below it, no new Critical alarms, key elements active), stores the run, and ticks the
execute and verify items of the checklist, each saying who established it (``workflow.verified_items``:
the bot and DataMiner's exit codes with the script driver, the people who clicked with the watch driver).
"""

from __future__ import annotations

from sqlmodel import Session

from dms.client import DmsClient
from dms.models import Baseline, CheckResult, CheckStatus
from dms.verification import run_verification
from dms.versions import Version
from workflow import verified_items
from workflow.context import WorkflowContext
from workflow.events import CheckFinished
from workflow.model.clock import utc_now
from workflow.store import check_runs

BOT = "bot"


async def verify(
    host: WorkflowContext, *, plan_id: int, client: DmsClient, target: Version, key_elements: list[str],
    dms_name: str, driver: str,
) -> tuple[tuple[CheckResult, ...], bool]:
    """Run, store and announce the verification; returns its results and whether it passed."""
    baseline = await _baseline(host, plan_id)
    started = host.now()
    results = tuple(await run_verification(client, target=target, baseline=baseline,
                                           key_elements=key_elements))
    passed = not any(r.status is CheckStatus.FAIL for r in results)

    def store(session: Session) -> None:
        now = host.now()
        check_runs.store(session, plan_id=plan_id, dms_name=dms_name, kind="verify", results=results,
                         actor=BOT, passed=passed, started_at=started, now=now)
        verified_items.after_verification(session, plan_id=plan_id, results=list(results), driver=driver,
                                          now=now)

    await host.unit(store)
    await host.emit(CheckFinished, plan_id, kind="post", results=results, passed=passed)
    return results, passed


async def _baseline(host: WorkflowContext, plan_id: int) -> Baseline:
    """What the last pre-check saw; without one (checked by hand), nothing to compare counts."""
    run = await host.unit(lambda session: check_runs.last_precheck(session, plan_id=plan_id))
    if run is None or not run.baseline:
        return Baseline(taken_at=utc_now())
    return Baseline.model_validate(run.baseline)
