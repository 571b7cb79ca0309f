"""``dm-upgrade campaign <target> on <dms> ... [then <dms> ...] [soak <duration>]``: a campaign planned dry
and printed as its card (the same card ``/dm-upgrade campaign`` answers in Slack, as text).

Every DMS is read (its agents and version), gets its own path and estimate to the target, and each wave a
proposed window; nothing is stored, approved or booked, and no database is opened. The DMSs are those of
DMS_TARGETS_FILE (each ``simulated`` entry served by a simulated DMS of its own); with neither DMS_URL nor
DMS_TARGETS_FILE set, a simulated fleet of three DMSs on three versions (``bot.simulated.DEMO_FLEET``).

Exit codes: 0 planned, 2 bad input, a DMS that cannot be read or planned, or invalid settings.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import TextIO

from pydantic import ValidationError

from bot import simulated
from bot.cli_path import settings_error
from bot.settings import Settings
from dms.catalog import load_catalog
from dms.exceptions import DmsError
from handlers.blocks.campaign import campaign_card
from handlers.blocks.render import render_message
from simulator import SimulatorError
from workflow import campaigns
from workflow.dms_access import DmsAccess
from workflow.model.campaign import CampaignPlan, CampaignRequest, parse_campaign
from workflow.model.errors import ConfigError, UserError
from workflow.targets import load_targets


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("words", nargs="+", metavar="TARGET on DMS [DMS ...] [then DMS ...] [soak DURATION]",
                        help="as in Slack, e.g. 10.5 on staging then prod-eu prod-us soak 24h: the waves "
                             "in order, separated by `then`; soak (default 24h, at most 30d) waits between "
                             "waves")


async def _access(stack: AsyncExitStack, settings: Settings) -> DmsAccess:
    """The configured DMSs, every simulated one served by a simulator of its own; nothing configured: the
    simulated demo fleet."""
    if settings.dms_targets_file is None and settings.dms_simulated:
        targets = await simulated.serve_targets(stack, settings, simulated.demo_fleet(settings),
                                                versions=simulated.DEMO_FLEET)
    else:
        targets = await simulated.serve_targets(stack, settings, load_targets(settings))
    return DmsAccess(settings=settings, targets=targets)


async def plan(settings: Settings, request: CampaignRequest, *, now: datetime) -> CampaignPlan:
    catalog = load_catalog(settings.release_catalog)
    async with AsyncExitStack() as stack:
        access = await _access(stack, settings)
        return await campaigns.plan_campaign(request, access=access, catalog=catalog, settings=settings,
                                             now=now)
    raise AssertionError("unreachable")  # pragma: no cover - for type checkers: the block always returns


def render_text(campaign: CampaignPlan) -> str:
    card = campaign_card(campaign)
    return render_message(card.blocks, card.text).text


def run(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None,
        now: datetime | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        settings = Settings()
        request = parse_campaign(list(args.words))
        campaign = asyncio.run(plan(settings, request, now=now or datetime.now(UTC)))
    except ValidationError as exc:
        print(f"dm-upgrade campaign: {settings_error(exc)}", file=err)
        return 2
    except UserError as exc:
        print(f"dm-upgrade campaign: {exc.message}", file=err)
        return 2
    except (ConfigError, DmsError, ValueError, SimulatorError) as exc:  # targets, catalog, simulator
        print(f"dm-upgrade campaign: {exc}", file=err)
        return 2
    print(render_text(campaign), file=out)
    return 0
