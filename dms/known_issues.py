"""Known issues that touch upgrades, as catalog data: which hops hit them, what happens, what avoids them.

The source is DataMiner's Known issues pages
(https://docs.dataminer.services/dataminer/Troubleshooting/Known_issues/Known_issues.html), one page per
issue. An issue is hit by an upgrade hop when the hop starts in ``from_versions`` (if given), lands in
``to_versions`` (if given) and uses the named package kind (if given). ``avoid_via`` names stops that the
documented workaround puts in between; the planner takes one when the catalog has it, and otherwise the
plan carries the issue as a warning.

``dm-upgrade catalog sync`` writes these entries from the pages (``dms/docs_known_issues.py``): ``uid`` names
the page, ``affected`` keeps its "Affected versions" text as read. Where a person set the ranges because the
text cannot be read with certainty (``reviewed = true``), the sync keeps them for as long as the page still
says exactly ``affected``, and asks for a new review when it says something else.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from dms.catalog_types import CatalogVersion, Entry, VersionRange
from dms.versions import Version


class KnownIssue(Entry):
    key: str = Field(min_length=1)
    uid: str = ""  # the page's uid in dataminer-docs (KI_...)
    title: str = Field(min_length=1)
    doc: str  # key of [docs]: the Known issues page
    effect: str = Field(min_length=1)  # what happens when the hop hits it
    workaround: str = ""
    fixed_in: str = "no fix yet"
    from_versions: list[VersionRange] = []
    to_versions: list[VersionRange] = []
    package: Literal["cu", "full"] | None = None
    avoid_via: list[CatalogVersion] = []
    affected: str = ""  # the page's "Affected versions", as the ranges were read from it
    reviewed: bool = False  # ranges set by a person from ``affected`` (not read automatically)
    note: str = ""  # the reviewer's reasoning, kept by the sync with the rest of the entry

    @model_validator(mode="after")
    def _scoped(self) -> KnownIssue:
        if not self.from_versions and not self.to_versions:
            raise ValueError("a known issue needs `from_versions` or `to_versions`")
        return self

    def hit_by(self, *, start: Version, landing: Version, package: str) -> bool:
        """Whether upgrading from ``start`` to ``landing`` with ``package`` ("cu"/"full") hits this issue."""
        if self.package is not None and self.package != package:
            return False
        if self.from_versions and not any(start in span for span in self.from_versions):
            return False
        return not self.to_versions or any(landing in span for span in self.to_versions)

    def describe(self) -> str:
        text = f"Known issue: {self.title}. {self.effect}"
        if self.workaround:
            text += f" Workaround: {self.workaround}"
        return f"{text} Fixed in: {self.fixed_in}."
