"""A separate process for the campaign SIGKILL test: runs the campaign poll until a campaign reaches a status.

    python -m tests.workflow.campaign_runner --db URL --now ISO --speed 600 --campaign 1 \
        --target staging=http://127.0.0.1:PORT ... --until wave_running:2

Its clock starts at ``--now`` and runs ``--speed`` times faster than real time, so a soak of an hour with a
re-check every 10 minutes passes in seconds; the test SIGKILLs it in the middle of the soak and starts
another, which resumes the soak from the database.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import datetime, timedelta

from dms.catalog import load_catalog
from tests.support.approvers import StaticApprovers
from tests.support.notifier import RecordingNotifier
from tests.workflow.conftest import engine_settings
from workflow.campaign_engine import CampaignEngine
from workflow.dms_access import DmsAccess
from workflow.engine import UpgradeEngine
from workflow.model.campaign_states import CampaignState, CampaignStatus
from workflow.settings import SIMULATED
from workflow.store.database import make_engine
from workflow.targets import TargetConfig

LEASE_SECONDS = 1.0


async def run(args: argparse.Namespace) -> int:
    base, started = datetime.fromisoformat(args.now), time.monotonic()

    def clock() -> datetime:
        return base + timedelta(seconds=(time.monotonic() - started) * args.speed)

    # A short lease: after a SIGKILL the next process takes the poll over once the dead one's lease expired.
    settings = engine_settings(dms_url=SIMULATED, database_url=args.db, lease_seconds=LEASE_SECONDS)
    targets = {}
    for given in args.target:
        name, url = given.split("=", 1)
        targets[name] = TargetConfig(name=name, url=url, user=settings.dms_user,
                                     password=settings.dms_password)
    db = make_engine(args.db)
    engine = UpgradeEngine(settings=settings, db=db, catalog=load_catalog(), notifier=RecordingNotifier(),
                           approvers=StaticApprovers(settings.upgrade_approvers),
                           dms_access=DmsAccess(settings=settings, targets=targets), clock=clock)
    campaigns = CampaignEngine(engine, poll_seconds=0.05, soak_check_minutes=args.check_minutes)
    state, wave = args.until.split(":")
    until = CampaignStatus(CampaignState(state), int(wave))
    await campaigns.start()
    print("campaigns started", flush=True)
    deadline = time.monotonic() + 60
    while (await campaigns.view(args.campaign)).status != until:
        if time.monotonic() > deadline:
            print(f"timed out: {(await campaigns.view(args.campaign)).status}", flush=True)
            return 1
        await asyncio.sleep(0.05)
    print(f"reached {until.label}", flush=True)
    await campaigns.stop()
    await engine.stop()
    db.dispose()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--now", required=True)
    parser.add_argument("--speed", type=float, required=True)
    parser.add_argument("--campaign", type=int, required=True)
    parser.add_argument("--check-minutes", type=int, default=10)
    parser.add_argument("--target", action="append", default=[])
    parser.add_argument("--until", required=True)
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
