"""``dm-upgrade catalog sync``: the release catalog rebuilt from a local clone of dataminer-docs.

What the sync writes and what it keeps: it rewrites the ``[[releases]]`` (``dms/docs_release_notes.py``)
and the ``[[known_issues]]`` (``dms/docs_known_issues.py``), sets ``docs_snapshot`` and ``docs_commit``,
and adds ``[docs]`` links for Known issues pages it adds (or moves a link whose page moved). Everything
else of the input catalog is kept as its text, comments included: the helpers, checks, requirements,
support dates, the other ``[docs]`` links, and the reviewed parts of known issues (their effect,
workaround, ``avoid_via``, package, and ranges marked ``reviewed``). Releases of lines the notes do not
cover (9.x) are kept from the input catalog too.

The result is validated like ``dm-upgrade catalog check`` before anything is written: a sync never writes
a catalog the bot would refuse.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from dms.catalog import Catalog, ReleaseEntry, location_text, validation_errors
from dms.docs_known_issues import IssueSync, read_issue_pages, sync_issues
from dms.docs_pages import DocsError, Snapshot, git_snapshot
from dms.docs_release_notes import read_releases, release_entries
from dms.known_issues import KnownIssue
from dms.versions import Version

_HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_-]+)\s*\]\]?")
# "| August 12, 2026 |" or "| 15 April, 2026 |": the last column of the Known issues index.
_MONTH_DAY = re.compile(r"\|\s*(\d{1,2} )?([A-Z][a-z]+),? (\d{1,2},? )?(\d{4})\s*\|\s*$")
RELEASES_NOTE = (
    "# --- Releases: written by `dm-upgrade catalog sync` from release-notes/General of dataminer-docs\n"
    "# (\"- Preview\" titles are previews). Lines without release notes (9.x: the highest CUs other pages\n"
    "# mention) are kept from the catalog the sync started from. ---\n"
)
ISSUES_NOTE = (
    "# --- Known issues that touch upgrades: written by `dm-upgrade catalog sync` from\n"
    "# dataminer/Troubleshooting/Known_issues. Kept from this file: effect, workaround, package, avoid_via;\n"
    "# and the ranges of an entry marked `reviewed` while its page still says `affected` word for word. ---\n"
)


@dataclass
class SyncResult:
    text: str  # the new catalog file
    snapshot: Snapshot
    issues: IssueSync
    changes: list[str] = field(default_factory=list)  # the readable diff against the input catalog


def snapshot_of(docs: Path) -> Snapshot:
    """The docs clone's last commit date, or (not a git work tree) the newest "Date added" of the
    Known issues index: a lower bound, so the catalog looks older rather than fresher than it is."""
    found = git_snapshot(docs)
    if found is not None:
        return found
    index = docs / "dataminer/Troubleshooting/Known_issues/Known_issues.md"
    days = []
    for line in index.read_text(encoding="utf-8").splitlines() if index.is_file() else []:
        if match := _MONTH_DAY.search(line):
            text = f"{match[2]} {(match[1] or match[3] or '').strip(', ')} {match[4]}"
            try:
                days.append(datetime.strptime(text, "%B %d %Y").date())
            except ValueError:
                continue
    if not days:
        raise DocsError(f"{docs}: not a git clone and no dated Known issues index: cannot tell its age")
    return Snapshot(day=max(days), commit="", source="newest date on the Known issues page")


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | date):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON string escapes are TOML basic-string escapes
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{key} = {toml_value(item)}" for key, item in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} as TOML")


def array_table(name: str, entries: list[dict[str, Any]]) -> str:
    blocks = []
    for entry in entries:
        lines = [f"[[{name}]]"] + [f"{key} = {toml_value(value)}" for key, value in entry.items()
                                   if value not in ([], "", None, False)]
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def _blocks(text: str) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """The file as its preamble and blocks: a table header with the comment lines right above it."""
    lines = text.splitlines(keepends=True)
    starts = [index for index, line in enumerate(lines) if _HEADER.match(line)]
    cuts = []
    for index in starts:
        while index > 0 and lines[index - 1].lstrip().startswith("#"):
            index -= 1
        cuts.append(index)
    if not cuts:
        return lines, []
    blocks = []
    for number, (cut, start) in enumerate(zip(cuts, starts, strict=True)):
        end = cuts[number + 1] if number + 1 < len(cuts) else len(lines)
        name = _HEADER.match(lines[start])
        blocks.append((name[1] if name else "", lines[cut:end]))
    return lines[: cuts[0]], blocks


def _preamble(lines: list[str], snapshot: Snapshot) -> str:
    values = {"docs_snapshot": toml_value(snapshot.day), "docs_commit": toml_value(snapshot.commit)}
    kept = [line for line in lines if not re.match(r"^\s*(docs_snapshot|docs_commit)\s*=", line)]
    at = next((i + 1 for i, line in enumerate(kept) if re.match(r"^\s*docs_base\s*=", line)), len(kept))
    new = [f"{key} = {value}\n" for key, value in values.items() if key != "docs_commit" or snapshot.commit]
    return "".join(kept[:at] + new + kept[at:])


def _docs_block(lines: list[str], issues: IssueSync) -> str:
    out = []
    for line in lines:
        key = re.match(r"^\s*([A-Za-z0-9_]+)\s*=", line)
        if key and key[1] in issues.moved_docs:
            line = f"{key[1]} = {toml_value(issues.moved_docs[key[1]])}\n"
        out.append(line)
    while out and not out[-1].strip():
        out.pop()
    out += [f"{key} = {toml_value(path)}\n" for key, path in issues.new_docs.items()]
    return "".join(out) + "\n"


def render(text: str, *, releases: list[dict[str, Any]], issues: IssueSync, snapshot: Snapshot) -> str:
    """The input catalog's text with the synced parts replaced (see the module docstring)."""
    preamble, blocks = _blocks(text)
    out = [_preamble(preamble, snapshot)]
    done: set[str] = set()
    generated = {"releases": RELEASES_NOTE + array_table("releases", releases) + "\n",
                 "known_issues": ISSUES_NOTE + array_table("known_issues", issues.entries) + "\n"}
    for name, lines in blocks:
        if name in generated:
            if name not in done:
                out.append(generated[name])
                done.add(name)
        elif name == "docs":
            out.append(_docs_block(lines, issues))
        else:
            out.append("".join(lines))
    out += [generated[name] for name in generated if name not in done]
    return "".join(out)


def kept_releases(old: list[dict[str, Any]], noted_lines: set[tuple[int, int]]) -> list[dict[str, Any]]:
    """Entries of the input catalog for release lines the notes do not cover (the 9.x releases)."""
    return [entry for entry in old if ReleaseEntry.model_validate(entry).version.line not in noted_lines]


def _versions(entries: list[dict[str, Any]]) -> list[Version]:
    found: set[Version] = set()
    for entry in entries:
        found.update(ReleaseEntry.model_validate(entry).expand())
    return sorted(found)


def sync(docs: Path, *, catalog_text: str) -> SyncResult:
    """Build the new catalog text from the docs clone at ``docs`` and the input catalog's text."""
    if not docs.is_dir():
        raise DocsError(f"{docs}: not a folder")
    old = tomllib.loads(catalog_text)
    noted = read_releases(docs)
    releases = kept_releases(old.get("releases", []), {r.version.line for r in noted})
    releases += release_entries(noted)
    issues = sync_issues(read_issue_pages(docs), existing=old.get("known_issues", []),
                         docs=old.get("docs", {}), versions=_versions(releases))
    snapshot = snapshot_of(docs)
    text = render(catalog_text, releases=releases, issues=issues, snapshot=snapshot)
    problems = validation_errors(tomllib.loads(text))
    if problems:
        listed = "; ".join(f"{location_text(loc)}: {message}" for loc, message in problems[:5])
        raise DocsError(f"the synced catalog would be invalid, nothing written: {listed}")
    new = Catalog.model_validate(tomllib.loads(text))
    before = Catalog.model_validate(old)
    return SyncResult(text=text, snapshot=snapshot, issues=issues, changes=describe_changes(before, new))


# --- What changed: the sentences an operator reads after a sync ------------------------------------
def _names(versions: set[Version]) -> str:
    return ", ".join(str(version) for version in sorted(versions))


def release_changes(before: Catalog, after: Catalog) -> list[str]:
    old, new = set(before.versions), set(after.versions)
    released = {v for v in new if not after.is_preview(v)}
    lines = []
    if added := released - old:
        lines.append(f"new releases: {_names(added)}")
    if promoted := {v for v in released & old if before.is_preview(v)}:
        lines.append(f"previews that became releases: {_names(promoted)}")
    if previews := {v for v in new - old if after.is_preview(v)}:
        lines.append(f"new previews: {_names(previews)}")
    if gone := old - new:
        lines.append(f"releases no longer in the notes: {_names(gone)}")
    return lines


def _fields(issue: KnownIssue) -> dict[str, object]:
    return issue.model_dump(exclude={"key"})


def issue_changes(before: Catalog, after: Catalog) -> list[str]:
    old = {issue.key: issue for issue in before.known_issues}
    new = {issue.key: issue for issue in after.known_issues}
    lines = [f"new known issue: {key} ({new[key].title})" for key in new if key not in old]
    for key in new.keys() & old.keys():
        a, b = _fields(old[key]), _fields(new[key])
        if changed := sorted(name for name in a if a[name] != b[name]):
            lines.append(f"known issue {key} changed: {', '.join(changed)}")
    lines += [f"known issue gone: {key}" for key in old if key not in new]
    return lines


def link_changes(before: Catalog, after: Catalog) -> list[str]:
    lines = [f"link {key} moved: {before.docs[key]} -> {path}"
             for key, path in after.docs.items() if key in before.docs and before.docs[key] != path]
    lines += [f"new link {key}: {path}" for key, path in after.docs.items() if key not in before.docs]
    return lines


def describe_changes(before: Catalog, after: Catalog) -> list[str]:
    lines = release_changes(before, after) + issue_changes(before, after) + link_changes(before, after)
    if before.docs_snapshot != after.docs_snapshot:
        lines.append(f"documentation snapshot: {before.docs_snapshot or 'none'} -> {after.docs_snapshot}")
    return lines
