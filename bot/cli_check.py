"""``dm-upgrade check [--target VERSION] [--json]``: the pre-upgrade checks against DMS_URL, printed.

``--target`` adds the upgrade's own checks (``bot.cli_check_target``): the path, the package inventory and
*Upload only* of the first hop's package with its prerequisite checks. The output ends with what was not
checked, so "ready to upgrade" never claims more than was looked at.

Exit codes: 0 nothing fails (warnings and manual confirmations allowed), 1 a check fails, 2 the DMS could not
be used (unreachable, credentials refused, answers we cannot read) or the settings are invalid.
With ``DMS_URL=simulated`` an in-process simulated DMS is started from the ``SIM_*`` settings.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from contextlib import AsyncExitStack
from typing import Any

from pydantic import ValidationError

from bot import simulated
from bot.cli_check_target import NOT_CHECKED_WITHOUT_TARGET, check_target
from bot.cli_path import settings_error
from bot.settings import Settings
from dms.client import DmsClient
from dms.exceptions import DmsApiError, PathError, VersionError
from dms.models import CheckStatus
from dms.prechecks import PrecheckReport, run_prechecks

_MARKS = {
    CheckStatus.PASS: "PASS",
    CheckStatus.WARN: "WARN",
    CheckStatus.FAIL: "FAIL",
    CheckStatus.MANUAL: "TODO",  # a person confirms what the API cannot see
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the results and the baseline as JSON")
    parser.add_argument("--key-element", action="append", default=[], metavar="NAME",
                        help="an element that must be active (repeatable)")
    parser.add_argument("--target", nargs="+", default=None, metavar="VERSION",
                        help="also upload the first hop's package towards VERSION (Upload only), running "
                             "its prerequisite checks, e.g. --target 10.5")


def make_client(settings: Settings, *, url: str | None = None) -> DmsClient:
    """A client configured from the settings; ``url`` overrides DMS_URL (e.g. a simulator's address)."""
    verify: bool | str = True
    if not settings.dms_tls_verify:
        verify = False
    elif settings.dms_ca_bundle is not None:
        verify = str(settings.dms_ca_bundle)
    return DmsClient(
        url=url or settings.dms_url,
        user=settings.dms_user,
        password=settings.dms_password,
        agent_url_template=settings.dms_agent_url_template,
        verify=verify,
        timeout_s=settings.dms_timeout_seconds,
        retries=settings.dms_retries,
        concurrency=settings.dms_concurrency,
        max_agents=settings.dms_max_agents, agent_allow=settings.dms_agent_allow,
        allow_plain_http=settings.dms_allow_plain_http,
    )


async def check(
    settings: Settings, *, key_elements: list[str], target: str | None = None
) -> tuple[PrecheckReport, tuple[str, ...]]:
    """The report and what it did not check."""
    async with AsyncExitStack() as stack:
        url = await simulated.start(stack, settings) if settings.dms_simulated else None
        client = make_client(settings, url=url)
        stack.push_async_callback(client.close)
        if target is not None:
            scale = settings.sim_speed if settings.dms_simulated else settings.dms_time_scale
            checked = await check_target(client, settings, target=target, key_elements=key_elements,
                                         time_scale=scale)
            return checked.report, checked.not_checked
        report = await run_prechecks(client, path=None, key_elements=key_elements,
                                     blocking_severities=settings.blocking_alarm_severities)
        return report, (NOT_CHECKED_WITHOUT_TARGET, "the items marked TODO, which only a person can confirm")
    raise AssertionError("unreachable")  # pragma: no cover - for type checkers: the block always returns


def render_text(report: PrecheckReport, not_checked: tuple[str, ...] = ()) -> str:
    lines = []
    for result in report.results:
        where = f" [{result.agent}]" if result.agent else ""
        how = f" ({result.established})"
        lines.append(f"{_MARKS[result.status]}  {result.title}{where}: {result.detail}{how}")
    counts = {status: sum(r.status is status for r in report.results) for status in CheckStatus}
    verdict = "ready to upgrade" if report.passed else "NOT ready: fix the failures and check again"
    lines.append("")
    lines.append(f"{counts[CheckStatus.PASS]} passed, {counts[CheckStatus.WARN]} warnings, "
                 f"{counts[CheckStatus.FAIL]} failed, {counts[CheckStatus.MANUAL]} to confirm by hand: "
                 f"{verdict}")
    lines += [f"Not checked: {line}" for line in not_checked]
    return "\n".join(lines)


def render_json(report: PrecheckReport, not_checked: tuple[str, ...] = ()) -> str:
    data: dict[str, Any] = {
        "passed": report.passed,
        "not_checked": list(not_checked),
        "results": [result.model_dump(mode="json") for result in report.results],
        "baseline": report.baseline.model_dump(mode="json"),
    }
    return json.dumps(data, indent=2)


def run(args: argparse.Namespace) -> int:
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"dm-upgrade check: {settings_error(exc)}", file=sys.stderr)
        return 2
    target = " ".join(args.target) if getattr(args, "target", None) else None
    try:
        report, not_checked = asyncio.run(check(settings, key_elements=list(args.key_element), target=target))
    except (PathError, VersionError) as exc:  # no path to the target, or no version at all
        print(f"dm-upgrade check: {exc}", file=sys.stderr)
        return 2
    except DmsApiError as exc:
        print(f"dm-upgrade check: cannot use the DMS: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # e.g. an unreadable CA bundle or an empty DMS_URL
        print(f"dm-upgrade check: invalid settings: {exc}", file=sys.stderr)
        return 2
    print(render_json(report, not_checked) if args.json else render_text(report, not_checked))
    return 0 if report.passed else 1
