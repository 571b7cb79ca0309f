"""Which DataMiner releases exist, read off the General release notes of dataminer-docs.

Every release has one page under ``release-notes/General/General_Main_Release_10.N/`` or
``General_Feature_Release_10.N/``, named after it (``General_Main_Release_10.5.0_CU5.md``,
``General_Feature_Release_10.6.2_CU1.md``) and titled "# General Main Release 10.5.0 CU5". A release still
being written is titled "... - Preview" (the docs use a hyphen or an en dash). Other pages in those folders
(``..._fixes_1.md``, ``..._new_features.md``) are parts of a main release's notes and say nothing new.
The notes give no release dates (the release calendar is a picture on the "DataMiner release overview"
page), so the catalog records none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dms.docs_pages import DocsError, read_page
from dms.versions import Track, Version

GENERAL = Path("release-notes/General")
_FILE = re.compile(r"^General_(Main|Feature)_Release_(\d+\.\d+\.\d+)(?:_CU(\d+))?\.md$")
_TITLE = re.compile(
    r"^General (Main|Feature) Release (\d+\.\d+\.\d+)(?: CU(\d+))?(\s*[-\u2013]\s*Preview)?$"
)


@dataclass(frozen=True)
class NotedRelease:
    version: Version
    preview: bool
    page: str  # path inside the docs clone


def _read_one(docs: Path, path: Path) -> NotedRelease | None:
    named = _FILE.match(path.name)
    if named is None:
        return None  # a part of a release's notes (fixes, new features), not a release of its own
    relative = path.relative_to(docs).as_posix()
    page = read_page(path, relative=relative)
    titled = _TITLE.match(page.title)
    if titled is None:
        raise DocsError(f'{relative}: release title "{page.title}" is not "General Main|Feature Release '
                        'X.Y.Z[ CUn][ - Preview]"')
    if titled.group(1, 2, 3) != named.group(1, 2, 3):
        raise DocsError(f'{relative}: the title "{page.title}" names another release than the file')
    major, minor, build = (int(part) for part in titled[2].split("."))
    version = Version(major, minor, build, int(titled[3] or 0))
    kind = Track.MAIN if titled[1] == "Main" else Track.FEATURE
    if version.track is not kind:
        raise DocsError(f"{relative}: {version} is not a {kind.value} release number")
    return NotedRelease(version=version, preview=titled[4] is not None, page=relative)


def read_releases(docs: Path) -> list[NotedRelease]:
    """Every release with a page in the General release notes, in version order."""
    root = docs / GENERAL
    if not root.is_dir():
        raise DocsError(f"{docs}: no {GENERAL.as_posix()} folder: not a clone of dataminer-docs")
    found = [
        release
        for path in sorted(root.glob("General_*_Release_*/*.md"))
        if (release := _read_one(docs, path)) is not None
    ]
    if not found:
        raise DocsError(f"{root}: no release notes pages")
    return sorted(found, key=lambda release: release.version)


def _entry(base: Version, cus: list[NotedRelease]) -> dict[str, Any]:
    entry: dict[str, Any] = {"version": str(base)}
    top = max(release.version.cu for release in cus)
    if top:
        entry["cus"] = top
    previews = [release.version.cu for release in cus if release.preview]
    if previews and min(previews) == 0:
        entry["preview"] = True
    elif previews:
        entry["preview_from_cu"] = min(previews)
    return entry


def release_entries(found: list[NotedRelease]) -> list[dict[str, Any]]:
    """Catalog ``[[releases]]`` entries: main releases first, then feature releases, runs folded into
    ``through`` (a run is consecutive feature releases of one line without CUs or previews)."""
    by_release: dict[Version, list[NotedRelease]] = {}
    for release in found:
        by_release.setdefault(release.version.with_cu(0), []).append(release)
    mains = [_entry(base, cus) for base, cus in by_release.items() if base.track is Track.MAIN]
    features: list[dict[str, Any]] = []
    previous: Version | None = None
    for base, cus in by_release.items():
        if base.track is not Track.FEATURE:
            continue
        entry = _entry(base, cus)
        last = features[-1] if features else None
        plain = set(entry) == {"version"}
        if (last is not None and plain and set(last) <= {"version", "through"} and previous is not None
                and previous.line == base.line and previous.build + 1 == base.build):
            last["through"] = str(base)
        else:
            features.append(entry)
        previous = base
    return mains + features
