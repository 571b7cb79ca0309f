"""The soak's re-check of one upgraded DMS: the post-upgrade verification again (``dms.verification``:
every agent Running on the target, active elements not below the baseline, no new Critical alarm, the key
elements active), against the baseline the DMS's own pre-check took before its upgrade.

A DMS that does not answer is a regression too: the bot can no longer say its agents run the target. Every
result says the bot checked it (``Source.BOT``), through the DMS's Web Services.

When a person resumes a campaign halted by a soak regression, they accept what was found (their reason is
audited): the soak then compares with the DMS as it is at the resume (``fresh_baseline``), so the same alarm
does not halt the campaign again, while anything newer still does.
"""

from __future__ import annotations

import logging

from sqlmodel import Session

from dms.exceptions import DmsError
from dms.models import Baseline, CheckResult, CheckStatus
from dms.prechecks import make_baseline, read_cluster, result
from dms.verification import run_verification
from dms.versions import Version
from workflow.dms_access import DmsAccess
from workflow.model.clock import Clock
from workflow.model.errors import UserError
from workflow.store import check_runs

log = logging.getLogger(__name__)

REACHABLE = "soak_reachable"


def plan_baseline(session: Session, *, plan_id: int, now: Clock) -> Baseline:
    """What the DMS's last pre-check saw; without one (checked by hand) nothing to compare counts with."""
    run = check_runs.last_precheck(session, plan_id=plan_id)
    if run is None or not run.baseline:
        return Baseline(taken_at=now())
    return Baseline.model_validate(run.baseline)


async def recheck(access: DmsAccess, *, dms_name: str, target: Version, baseline: Baseline
                  ) -> tuple[CheckResult, ...]:
    """One soak check of ``dms_name``; never raises for a DMS that does not answer (that is a finding)."""
    keys = list(access.target(dms_name).key_elements)
    client = access.client(dms_name)
    try:
        found = await run_verification(client, target=target, baseline=baseline, key_elements=keys)
    except DmsError as exc:
        log.info("soak check of %s: the DMS did not answer (%s)", dms_name, type(exc).__name__)
        return (result(REACHABLE, "The DMS answers", CheckStatus.FAIL,
                       f"{dms_name} did not answer: {type(exc).__name__}"),)
    finally:
        await client.close()
    return tuple(found)


def regressions(results: tuple[CheckResult, ...]) -> tuple[CheckResult, ...]:
    return tuple(item for item in results if item.status is CheckStatus.FAIL)


async def fresh_baseline(access: DmsAccess, *, dms_name: str, now: Clock) -> Baseline:
    """The DMS as it is now, as a baseline (what a person accepted by resuming)."""
    keys = list(access.target(dms_name).key_elements)
    client = access.client(dms_name)
    try:
        reading = await read_cluster(client, key_elements=keys)
    except DmsError as exc:
        raise UserError(f"{dms_name} did not answer ({type(exc).__name__}), so the bot cannot take what "
                        "it shows now as the soak's new baseline; try again when it answers") from None
    finally:
        await client.close()
    taken = make_baseline(states=reading.states, statistics=reading.statistics, alarms=reading.alarms)
    return taken.model_copy(update={"taken_at": now()})


def describe(dms_name: str, found: tuple[CheckResult, ...]) -> str:
    """One line per DMS for a halt's reason: what the soak found on it."""
    return f"{dms_name}: " + "; ".join(f"{item.title}: {item.detail}" for item in found)
