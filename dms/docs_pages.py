"""One Markdown page of dataminer-docs: its front matter, its title and its "## " sections.

DocFX pages start with YAML front matter between ``---`` lines holding at least ``uid:``; the title is the
first "# " heading. A page that breaks this is an error naming the file: a sync must stop rather than build
a catalog from a page it misread.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from dms.exceptions import CatalogError


class DocsError(CatalogError):
    """The documentation folder or one of its pages cannot be read; the message names the file."""


@dataclass(frozen=True)
class Page:
    path: str  # relative to the docs clone, e.g. dataminer/Troubleshooting/Known_issues/KI_x.md
    uid: str
    title: str
    sections: dict[str, str] = field(default_factory=dict)  # "Affected versions" -> its Markdown
    body: str = ""

    def section(self, *names: str) -> str:
        """The first of ``names`` the page has (headings compared without case), else ""."""
        lowered = {key.lower(): value for key, value in self.sections.items()}
        for name in names:
            if name.lower() in lowered:
                return lowered[name.lower()]
        return ""


def _front_matter(text: str, relative: str) -> tuple[dict[str, str], str]:
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != "---":
        raise DocsError(f"{relative}: no front matter (the page must start with a --- line)")
    try:
        end = next(index for index, line in enumerate(lines[1:], start=1) if line.strip() == "---")
    except StopIteration:
        raise DocsError(f"{relative}: front matter is not closed by a --- line") from None
    front: dict[str, str] = {}
    for line in lines[1:end]:
        key, colon, value = line.partition(":")
        if colon and not line.startswith((" ", "\t", "-")):
            front[key.strip()] = value.strip().strip("'\"")
    if not front.get("uid"):
        raise DocsError(f"{relative}: front matter has no uid")
    return front, "\n".join(lines[end + 1 :])


def read_page(path: Path, *, relative: str) -> Page:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise DocsError(f"{relative}: cannot read: {error}") from None
    front, body = _front_matter(text, relative)
    title = ""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in body.splitlines():
        if not title and line.startswith("# "):
            title = line[2:].strip()
        elif line.startswith("## "):
            current = sections.setdefault(line[3:].strip(), [])
        elif current is not None:
            current.append(line)
    if not title:
        raise DocsError(f"{relative}: no title (a line starting with '# ')")
    return Page(path=relative, uid=front["uid"], title=title, body=body,
                sections={name: "\n".join(lines).strip() for name, lines in sections.items()})


@dataclass(frozen=True)
class Snapshot:
    day: date
    commit: str  # "" when the folder is not a git work tree
    source: str  # how ``day`` was found, for the report


def _git(docs: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(docs), *args], capture_output=True, text=True, timeout=30,
                              check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_snapshot(docs: Path) -> Snapshot | None:
    """The docs clone's last commit and its date (``git log -1``); None when ``docs`` is not the top of a
    git work tree (a copy of the pages inside some other repository says nothing about the docs' age)."""
    top = _git(docs, "rev-parse", "--show-toplevel")
    if top is None or Path(top).resolve() != docs.resolve():
        return None
    last = _git(docs, "log", "-1", "--format=%H %cs") or ""
    found = re.fullmatch(r"([0-9a-f]{40}) (\d{4}-\d{2}-\d{2})", last)
    if found is None:
        return None
    return Snapshot(day=date.fromisoformat(found[2]), commit=found[1], source="git log -1")
