"""What a path must say next to its hops: preview target, known issues hit, support status, stale catalog."""

from __future__ import annotations

from datetime import date

from dms.catalog import Catalog
from dms.known_issues import KnownIssue
from dms.upgrade_path import Hop, PathWarning, WarningKind
from dms.versions import Version


def path_warnings(
    *,
    current: Version,
    goal: Version,
    hops: tuple[Hop, ...],
    issues: list[tuple[int, KnownIssue]],
    catalog: Catalog,
    today: date | None,
) -> tuple[PathWarning, ...]:
    """Every warning of a path; support and freshness only when ``today`` is known."""
    warnings: list[PathWarning] = []
    if catalog.is_preview(goal):
        warnings.append(PathWarning(
            kind=WarningKind.PREVIEW,
            text=f"{goal} is a preview release, planned on explicit request: not for production; its "
                 "release notes may still change.",
            url=catalog.doc_url("mr_vs_fr"),
        ))
    for index, issue in issues:
        warnings.append(PathWarning(
            kind=WarningKind.KNOWN_ISSUE,
            text=f"Hop {index + 1} ({hops[index].version}): {issue.describe()}",
            url=catalog.doc_url(issue.doc),
            hop=index,
        ))
    if today is not None:
        warnings += support_warnings(current=current, goal=goal, catalog=catalog, today=today)
        stale = catalog.freshness_warning(today=today)
        if stale is not None:
            warnings.append(PathWarning(kind=WarningKind.CATALOG, text=stale))
    return tuple(warnings)


def support_warnings(*, current: Version, goal: Version, catalog: Catalog, today: date) -> list[PathWarning]:
    """Warnings when the current or the target version is out of support on ``today``."""
    url = catalog.doc_url("support")
    warnings = []
    for role, version in (("current", current), ("target", goal)):
        status = catalog.support_status(version, today=today)
        if not status.supported and not catalog.is_preview(version):
            warnings.append(PathWarning(kind=WarningKind.SUPPORT, text=f"The {role} version: {status.text}.",
                                        url=url))
    return warnings
