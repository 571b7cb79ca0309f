"""Appends hops to a path under construction, stepping around known issues where the docs show how."""

from __future__ import annotations

from collections.abc import Callable

from dms.catalog import Catalog
from dms.known_issues import KnownIssue
from dms.upgrade_path import Hop, PackageKind
from dms.versions import Version


def _kind(previous: Version, version: Version) -> PackageKind:
    same = (previous.major, previous.minor, previous.build) == (version.major, version.minor, version.build)
    return PackageKind.CU if same else PackageKind.FULL


class PathBuilder:
    """The hops so far, the version the agents would run, and the known issues the hops still hit."""

    def __init__(self, *, current: Version, catalog: Catalog) -> None:
        self.catalog = catalog
        self.position = current
        self.hops: list[Hop] = []
        self.issues: list[tuple[int, KnownIssue]] = []  # (hop index, issue) the path could not avoid
        self.baseline_given = False

    def upgrade(
        self, version: Version, rule: str | Callable[[Version], str], *, doc: str = "across_major"
    ) -> None:
        """One upgrade hop to ``version``; first a detour when a known issue documents one.

        ``rule`` may be a function of the version the hop starts from, which a detour changes.
        """
        detour = self._detour(version)
        if detour is not None:
            stop, issue = detour
            self._append(
                stop,
                f"Known issue \"{issue.title}\": its workaround is to go to {stop} first "
                f"({self.catalog.doc_url(issue.doc)}).",
                doc=issue.doc,
            )
        self._append(version, rule if isinstance(rule, str) else rule(self.position), doc=doc)

    def _detour(self, version: Version) -> tuple[Version, KnownIssue] | None:
        kind = _kind(self.position, version).value
        for issue in self.catalog.issues_hit(start=self.position, landing=version, package=kind):
            for stop in issue.avoid_via:
                usable = (
                    self.position < stop < version
                    and self.catalog.contains(stop)
                    and not self.catalog.is_preview(stop)
                )
                leg = _kind(stop, version).value
                second = self.catalog.issues_hit(start=stop, landing=version, package=leg)
                # Other issues may remain on the second leg (they become warnings); this one must not.
                if usable and issue not in second:
                    return stop, issue
        return None

    def _append(self, version: Version, rule: str, *, doc: str) -> None:
        kind = _kind(self.position, version)
        requirements = self.catalog.requirements_for(self.position, version)
        if not self.baseline_given:
            requirements = self.catalog.baseline_requirements() + requirements
            self.baseline_given = True
        label = "CU package" if kind is PackageKind.CU else "full upgrade package"
        preview = " (preview)" if self.catalog.is_preview(version) else ""
        for issue in self.catalog.issues_hit(start=self.position, landing=version, package=kind.value):
            self.issues.append((len(self.hops), issue))
        self.hops.append(
            Hop(
                version=version,
                package=kind,
                name=f"DataMiner {version}{preview} {label} (.dmupgrade)",
                rule=rule,
                rule_url=self.catalog.doc_url(doc),
                checks=self.catalog.checks_for(version),
                requirements=requirements,
            )
        )
        self.position = version

    def helper(self, key: str, rule: str) -> None:
        helper = self.catalog.helper(key)
        self.hops.append(
            Hop(
                version=self.position,
                package=PackageKind.HELPER,
                name=helper.name,
                rule=rule,
                rule_url=self.catalog.doc_url(helper.doc),
                restarts_agents=helper.restarts_agents,
                minutes=helper.minutes,
                minutes_documented=helper.minutes_documented,
                prerequisites=tuple(helper.prerequisites),
                post_steps=tuple(helper.post_steps),
            )
        )
