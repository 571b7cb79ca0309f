"""Reading the "Affected versions" and "Fix" sentences of DataMiner's Known issues pages at CU precision.

The pages (https://docs.dataminer.services/dataminer/Troubleshooting/Known_issues/Known_issues.html, one page
per issue under ``dataminer/Troubleshooting/Known_issues/`` of dataminer-docs) write versions in a few forms:

- "From DataMiner 10.4.0 [CU18]/10.5.0 [CU6]/10.5.9 onwards", "10.5.0 [CU1]/10.5.4 or higher": one start
  point per release line, affected until the "Fix" (``Install DataMiner 10.5.0 [CU11]/10.6.2.``);
- "DataMiner 10.4.0 [CU4] to 10.4.0 [CU11]", "10.4.7 to 10.5.1": both ends included;
- "DataMiner 10.5.9", "DataMiner 10.5.0 [CU11] and 10.6.2": those releases only.

Only a sentence that is nothing but one of these forms is read. Anything else (a condition such as "after
migration to BrokerGateway", a build number, two paragraphs) is *uncertain* and goes to a person, never
guessed. So is a main release named without a CU where it ends a range or stands alone ("10.4.0, 10.4.1 or
10.4.2"): it may mean CU0 only or every CU of 10.4.0, and the page does not say which.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dms.catalog_types import reached
from dms.exceptions import VersionError
from dms.versions import Track, Version, parse_version

Affected = Callable[[Version], bool]

_VERSION = re.compile(
    r"\b(\d{1,2}\.\d{1,2}(?:\.\d{1,2})?)(?:\s*\[?\s*CU\s*(\d{1,2})(?:\s*\])?)?", re.IGNORECASE
)
_FILLER = re.compile(
    r"\b(?:dataminer|main release versions?|feature release versions?|versions?|the|all versions)\b",
    re.IGNORECASE,
)
_SEP = r"(?:/|,? and |,? or |, )"
_OPEN = re.compile(rf"^(?:from |starting from )?V(?:{_SEP}V)*(?: onwards| or higher| and higher| and later)$")
_FROM = re.compile(rf"^from V(?:{_SEP}V)*$")
_RANGE = re.compile(r"^(?:from )?V(?:/V)* (?:to|up to|up to and including|through) V(?:/V)*$")
_POINTS = re.compile(rf"^V(?:{_SEP}V)*$")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_LINK = re.compile(r"\[([^\]]*)\]\((?:xref:)?[^)]*\)")


class Uncertain(Exception):
    """The sentence is not one of the forms this module reads with certainty; the text says why."""


@dataclass(frozen=True)
class Token:
    version: Version
    explicit_cu: bool  # "10.4.0 [CU0]" names the CU; "10.4.0" does not
    two_part: bool  # "10.5 [CU6]": the release line without a build number


def clean(text: str) -> str:
    """Markdown of a page section as plain text on one line per paragraph or bullet."""
    text = _COMMENT.sub("", text).replace("<br>", "\n")
    text = _LINK.sub(r"\1", text)
    text = re.sub(r"[*_`]", "", text)
    lines = []
    for raw in text.splitlines():
        line = re.sub(r"^\s*(?:[-+]|\d+\.)\s+", "", raw).strip()
        if line:
            lines.append(re.sub(r"\s+", " ", line))
    return "\n".join(lines)


def tokens(text: str) -> tuple[str, list[Token]]:
    """``text`` with every version replaced by ``V``, and the versions in order."""
    found: list[Token] = []

    def swap(match: re.Match[str]) -> str:
        number, cu = match[1], match[2]
        try:
            version = parse_version(f"{number} CU{cu}" if cu else number)
        except VersionError:
            raise Uncertain(f'"{match[0]}" is not a DataMiner version') from None
        found.append(Token(version, cu is not None, number.count(".") == 1))
        return "V"

    return _VERSION.sub(swap, text), found


def _shape(line: str) -> tuple[str, list[Token]]:
    shaped, found = tokens(line.lower())
    shaped = _FILLER.sub(" ", shaped)
    shaped = re.sub(r"\s+", " ", shaped).strip(" .;:")
    shaped = re.sub(r"\s*/\s*", "/", shaped).replace(" ,", ",")
    return shaped, found


def fix_points(fix_text: str) -> list[Version]:
    """The releases the "Fix" section names (``Install DataMiner 10.5.0 [CU5]/10.5.8.``); none: no fix yet."""
    for line in clean(fix_text).splitlines():
        if re.search(r"\binstall dataminer\b", line, re.IGNORECASE):
            _, found = tokens(line)
            return [token.version for token in found]
    return []


def _bare_main(token: Token) -> bool:
    return token.version.track is Track.MAIN and not token.explicit_cu


def _through(last: Token) -> Version:
    """The first version after an inclusive end: a feature release's CUs are included with it."""
    version = last.version
    if version.track is Track.FEATURE and not last.explicit_cu:
        return Version(version.major, version.minor, version.build + 1)
    return version.with_cu(version.cu + 1)


def _open(found: list[Token], fixes: list[Version]) -> Affected:
    # The same reading as the catalog's thresholds: a release line with no point of its own follows
    # an older line's point (what 10.5 brought, 10.6 keeps, fixes included). "From 10.4.0 onwards"
    # with no 10.4.x feature release named starts the whole 10.4 line: its feature releases too.
    starts = [token.version for token in found]
    lines = {v.line for v in starts if v.track is Track.FEATURE}
    starts += [Version(v.major, v.minor, 1) for v in starts if v.track is Track.MAIN and v.line not in lines]
    return lambda v: reached(v, starts) and not (bool(fixes) and reached(v, fixes))


def _not_fixed(affected: Affected, fixes: list[Version]) -> Affected:
    """A listed release is affected up to the fix of that release ("10.5.2" but "Fix: 10.5.2 [CU1]")."""
    def test(v: Version) -> bool:
        own = [fix for fix in fixes if (fix.line, fix.track, fix.build) == (v.line, v.track, v.build)]
        return affected(v) and not any(v >= fix for fix in own)
    return test


def _range(first: Token, last: Token) -> Affected:
    if first.version.track is not last.version.track:
        raise Uncertain("a range from a main release to a feature release (or back)")
    if _bare_main(last):
        raise Uncertain(f"the range ends at main release {last.version} without saying which CU")
    end, track = _through(last), first.version.track
    return lambda v: v.track is track and first.version <= v < end


def _ranges(starts: list[Token], ends: list[Token]) -> Affected:
    """"10.4.1/10.5.0 [CU0] up to and including 10.5.6/10.5.0 [CU3]": each start with the end of its track
    (a main release's end on its own line)."""
    if len(starts) == 1 and len(ends) == 1:
        return _range(starts[0], ends[0])
    pairs = []
    for start in starts:
        same = [end for end in ends if end.version.track is start.version.track
                and (start.version.track is Track.FEATURE or end.version.line == start.version.line)]
        if len(same) != 1:
            raise Uncertain(f"no single end for the range starting at {start.version}")
        pairs.append(_range(start, same[0]))
    if len(pairs) != len(ends):
        raise Uncertain("the range lists more ends than starts")
    return lambda v: any(test(v) for test in pairs)


def _points(found: list[Token]) -> Affected:
    for token in found:
        if _bare_main(token) or token.two_part:
            raise Uncertain(f"{token.version.main_release} is named without saying which CU")
    ends = [(token.version, _through(token)) for token in found]
    return lambda v: any(start <= v < end and v.track is start.track for start, end in ends)


def read_line(line: str, *, fixes: list[Version]) -> Affected:
    """One paragraph or bullet of "Affected versions" as a test on versions; ``Uncertain`` otherwise."""
    shaped, found = _shape(line)
    if not found:
        raise Uncertain("no version named")
    if _OPEN.match(shaped) or _FROM.match(shaped):
        return _open(found, fixes)
    if _RANGE.match(shaped):
        # The starts are the versions before the first space ("from" aside), the ends the rest.
        count = shaped.removeprefix("from ").split(" ")[0].count("V")
        return _not_fixed(_ranges(found[:count], found[count:]), fixes)
    if _POINTS.match(shaped):
        return _not_fixed(_points(found), fixes)
    raise Uncertain("not a form read automatically")


def read_affected(affected_text: str, fix_text: str) -> Affected:
    """The whole "Affected versions" section: every line must be read, the union is affected."""
    fixes = fix_points(fix_text)
    lines = clean(affected_text).splitlines()
    if not lines:
        raise Uncertain("the section is empty")
    tests = [read_line(line, fixes=fixes) for line in lines]
    return lambda v: any(test(v) for test in tests)


def spans(affected: Affected, versions: Sequence[Version]) -> list[dict[str, str]]:
    """The affected ones of ``versions`` (sorted) as catalog ranges: ``{"first": ..., "before": ...}``.

    Each run of consecutive affected versions becomes one range; a run reaching the newest version stays
    open, so the next release is covered until the documentation names a fix.
    """
    result: list[dict[str, str]] = []
    start: Version | None = None
    for version in versions:
        if affected(version):
            start = start or version
        elif start is not None:
            result.append({"first": str(start), "before": str(version)})
            start = None
    if start is not None:
        result.append({"first": str(start)})
    return result
