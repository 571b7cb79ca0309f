"""Known issues that touch upgrading, read off dataminer-docs' Known issues pages into catalog entries.

Source: one page per issue under ``dataminer/Troubleshooting/Known_issues/`` (front matter ``uid``, a "# "
title, "## Affected versions", "## Fix", "## Workaround", "## Cause" or "## Issue description"; the index
is https://docs.dataminer.services/dataminer/Troubleshooting/Known_issues/Known_issues.html).

Which issues are kept: a page touches upgrading when its title or "Affected versions" speaks of an upgrade,
an upgrade prerequisite or a .dmupgrade package (not of a downgrade: the bot plans upgrades; and not the
other sections: nearly every fix says "upgrade to", nearly every cause mentions some migration), or when
the catalog already holds an entry for it (a person judged that it matters to an upgrade, e.g. a memory
leak in a call the bot itself makes, or a BPA the BrokerGateway migration runs). The others are listed as
left out.

How versions are read: ``dms/docs_versions.py``; the affected versions become ``to_versions`` (landing
there exposes the agents) unless the catalog's entry for the page scopes the start instead. Pages whose
versions cannot be read with certainty keep their reviewed ranges, or are listed for a person.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dms.docs_pages import DocsError, Page, read_page
from dms.docs_versions import Uncertain, clean, read_affected, spans
from dms.versions import Version

KNOWN_ISSUES = Path("dataminer/Troubleshooting/Known_issues")
_UPGRADE = re.compile(r"upgrad|prerequisite|\.dmupgrade", re.IGNORECASE)
_DOWNGRADE = re.compile(r"downgrad", re.IGNORECASE)
_TEXT_SECTIONS = ("Issue description", "Description", "Cause", "Symptom", "Symptoms")

Entry = dict[str, Any]


@dataclass
class IssueSync:
    """What the sync made of the Known issues pages."""

    entries: list[Entry] = field(default_factory=list)
    new_docs: dict[str, str] = field(default_factory=dict)  # [docs] key -> path, for pages not linked yet
    moved_docs: dict[str, str] = field(default_factory=dict)  # [docs] key -> its page's new path
    uncertain: list[str] = field(default_factory=list)  # one line per page a person must read
    left_out: list[str] = field(default_factory=list)  # uids of pages that do not touch upgrading


def read_issue_pages(docs: Path) -> list[Page]:
    root = docs / KNOWN_ISSUES
    if not root.is_dir():
        raise DocsError(f"{docs}: no {KNOWN_ISSUES.as_posix()} folder: not a clone of dataminer-docs")
    pages = [
        read_page(path, relative=path.relative_to(docs).as_posix())
        for path in sorted(root.glob("*.md"))
        if path.stem != "Known_issues"  # the index table, not an issue
    ]
    if not pages:
        raise DocsError(f"{root}: no Known issues pages")
    return pages


def touches_upgrade(page: Page) -> bool:
    text = f"{page.title} {page.section('Affected versions')}"
    return _UPGRADE.search(text) is not None and _DOWNGRADE.search(page.title) is None


def _one_line(markdown: str) -> str:
    return " ".join(clean(markdown).splitlines())


def _sentences(markdown: str, *, limit: int = 2) -> str:
    lines = clean(markdown).splitlines()
    if not lines:
        return ""
    parts = re.split(r"(?<=[.!?])\s+", lines[0])
    return " ".join(parts[:limit]).rstrip(":")


def fixed_in(page: Page) -> str:
    for line in clean(page.section("Fix")).splitlines():
        found = re.search(r"\binstall (?:dataminer )?(.+?)\.?$", line, re.IGNORECASE)
        if found:
            return found[1]
    return "no fix yet"


def _workaround(page: Page) -> str:
    lines = clean(page.section("Workaround")).splitlines()
    if not lines:
        return ""
    more = " (the page has the full steps)" if len(lines) > 1 else ""
    return lines[0].rstrip(":") + more


def page_doc_path(page: Page) -> str:
    return page.path.removesuffix(".md")


def _slug(uid: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", uid.lower().removeprefix("ki_")).strip("_")


def _find(existing: Sequence[Entry], page: Page, docs: dict[str, str]) -> Entry | None:
    for entry in existing:
        if entry.get("uid") == page.uid:
            return entry
    for entry in existing:
        if docs.get(entry.get("doc", ""), "").partition("#")[0] == page_doc_path(page):
            return entry
    return None


def _doc_key(page: Page, docs: dict[str, str], result: IssueSync) -> str:
    for key, path in docs.items():
        if path == page_doc_path(page):
            return key
    key = "ki_" + _slug(page.uid)
    result.new_docs[key] = page_doc_path(page)
    return key


def _ranges(page: Page, versions: Sequence[Version]) -> list[dict[str, str]]:
    affected = read_affected(page.section("Affected versions"), page.section("Fix"))
    found = spans(affected, versions)
    if not found:
        raise Uncertain("none of the catalog's releases is affected")
    return found


def _update(entry: Entry, page: Page, versions: Sequence[Version], result: IssueSync) -> Entry:
    """An entry the catalog already has: the page's title, fix and affected text; ranges as the docs say."""
    text = _one_line(page.section("Affected versions"))
    updated = {**entry, "uid": page.uid, "title": page.title, "fixed_in": fixed_in(page), "affected": text}
    if entry.get("reviewed"):
        if entry.get("affected") != text:
            result.uncertain.append(f"{page.uid}: affected versions changed since the review: was "
                                    f"'{entry.get('affected', '')}', now '{text}' (ranges kept: review them)")
        return updated
    side = "from_versions" if entry.get("from_versions") and not entry.get("to_versions") else "to_versions"
    try:
        updated[side] = _ranges(page, versions)
    except Uncertain as why:
        result.uncertain.append(f"{page.uid}: affected versions not understood ({why}): '{text}' "
                                "(ranges kept from the catalog)")
    return updated


def _new(page: Page, docs: dict[str, str], versions: Sequence[Version], result: IssueSync) -> Entry | None:
    text = _one_line(page.section("Affected versions"))
    try:
        ranges = _ranges(page, versions)
    except Uncertain as why:
        result.uncertain.append(f"{page.uid}: affected versions not understood ({why}): '{text}' "
                                "(not added: add a reviewed entry)")
        return None
    effect = next((_sentences(page.section(name)) for name in _TEXT_SECTIONS if page.section(name)), "")
    return {
        "key": _slug(page.uid), "uid": page.uid, "title": page.title, "doc": _doc_key(page, docs, result),
        "effect": effect or page.title, "workaround": _workaround(page), "fixed_in": fixed_in(page),
        "to_versions": ranges, "affected": text,
    }


def sync_issues(pages: Sequence[Page], *, existing: Sequence[Entry], docs: dict[str, str],
                versions: Sequence[Version]) -> IssueSync:
    """Catalog entries for every page that touches upgrading, in the order of the existing catalog (new
    pages after)."""
    result = IssueSync()
    by_key: dict[str, Entry] = {}
    added: list[Entry] = []
    for page in pages:
        entry = _find(existing, page, docs)
        if entry is not None:
            doc_path = docs.get(entry["doc"], "")
            if doc_path and doc_path.partition("#")[0] != page_doc_path(page):
                result.moved_docs[entry["doc"]] = page_doc_path(page)
            by_key[entry["key"]] = _update(entry, page, versions, result)
        elif touches_upgrade(page):
            if (new := _new(page, docs, versions, result)) is not None:
                added.append(new)
        else:
            result.left_out.append(page.uid)
    seen = {page.uid for page in pages}
    for entry in existing:
        if entry["key"] in by_key:
            result.entries.append(by_key[entry["key"]])
        elif entry.get("uid") and entry["uid"] not in seen:
            result.uncertain.append(f"{entry['uid']}: the page is gone from the docs (entry dropped)")
        else:
            result.entries.append(entry)  # written by hand, no page: kept as it is
    result.entries += added
    return result
