"""The README's console session runs itself: its lines are piped into the console and the output is compared
with the transcript line by line, so the README cannot drift from the bot again.

The transcript is the fenced block of "## A console session": ``$ printf '%s\\n' "line" ... |
.venv/bin/dm-upgrade console [options]``, then the expected output. A line that is ``...`` (at any
indentation, maybe with a comment after it) stands for any number of lines. Times, dates, durations,
message labels and file paths are masked on both sides; everything else must be equal. The session runs
in-process with the options the README gives and Slack's pacing shortened (it does not show in the output).
"""

from __future__ import annotations

import argparse
import io
import re
import shlex
from functools import cache
from pathlib import Path

import pytest

from bot.console.runner import ConsoleOptions, add_arguments, run_console
from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
MASKS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\[file\] (.*?): \S+$"), r"[file] \1: <path>"),
    (re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2})?( UTC)?"), "<time>"),
    (re.compile(r"\d{4}-\d{2}-\d{2}"), "<date>"),
    (re.compile(r"\b\d{1,2}:\d{2}\b"), "<hh:mm>"),
    (re.compile(r"\b\d+(?:\.\d+)?(?:h\d+m|m\d+s|ms|h|m|s)\b"), "<duration>"),
    # The thread's order is the bot's to choose (a picture may come before or after a result): a label
    # names a message, not its place.
    (re.compile(r"\bm\d+\b"), "m#"),
)


def mask(line: str) -> str:
    for pattern, replacement in MASKS:
        line = pattern.sub(replacement, line)
    return line.rstrip()


def is_gap(line: str) -> bool:
    return line.strip().startswith("...")


def transcript() -> tuple[list[str], list[str], list[str]]:
    """(the lines piped in, the console's options, the expected output) of the README's session."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## A console session\n(.*?)(?=^## )", text, re.S | re.M)
    assert section is not None, "README.md has no '## A console session' section"
    block = re.search(r"^```\n(.*?)^```", section.group(1), re.S | re.M)
    assert block is not None, "the console session has no fenced block"
    lines = block.group(1).splitlines()
    command = ""
    while lines and (not command or command.endswith("\\")):
        command = command.removesuffix("\\") + " " + lines.pop(0).strip()
    words = shlex.split(command.strip().removeprefix("$ "))
    pipe = words.index("|")
    assert words[:2] == ["printf", "%s\\n"], words
    assert words[pipe + 1:pipe + 3] == [".venv/bin/dm-upgrade", "console"], words
    return words[2:pipe], words[pipe + 3:], lines


def first_mismatch(expected: list[str], actual: list[str]) -> int | None:
    """None if ``actual`` matches ``expected`` (gaps match any run of lines); else how many expected lines
    matched at best, to point at the first one that did not."""
    want = [None if is_gap(line) else mask(line) for line in expected]
    have = [mask(line) for line in actual]
    best = 0

    @cache
    def match(i: int, j: int) -> bool:
        nonlocal best
        best = max(best, i)
        if i == len(want):
            return j == len(have)
        if want[i] is None:
            return match(i + 1, j) or (j < len(have) and match(i, j + 1))
        return j < len(have) and want[i] == have[j] and match(i + 1, j + 1)

    return None if match(0, 0) else best


def test_the_matcher_masks_what_changes_and_nothing_else() -> None:
    assert mask("  Window: 2026-12-07 13:31 UTC to 2026-12-07 17:31 UTC") == "  Window: <time> to <time>"
    assert mask("  [m11] reply to m1 (also sent)") == "  [m#] reply to m# (also sent)"
    assert mask("        ✔ Hop 1/1 done in 4s: every agent runs 10.5.0 CU18.") == \
        "        ✔ Hop 1/1 done in <duration>: every agent runs 10.5.0 CU18."
    assert mask("  [file] Plan #1 timeline: /tmp/x/F1-plan-1.png") == "  [file] Plan #1 timeline: <path>"
    assert first_mismatch(["a", "  ...", "c"], ["a", "b", "b", "c"]) is None
    assert first_mismatch(["a", "...", "c"], ["a", "c"]) is None
    assert first_mismatch(["a", "c"], ["a", "b", "c"]) == 1
    assert first_mismatch(["a", "... (comment)"], ["a"]) is None
    assert first_mismatch(["10.5.0 CU18"], ["10.5.0 CU17"]) == 0  # versions are not masked


def _options(args: list[str], files: Path) -> ConsoleOptions:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    given = parser.parse_args(args)
    return ConsoleOptions(speed=given.speed, agents=given.agents, version=given.version, user=given.user,
                          faults=tuple(given.fault), play_cube=given.play_cube, pacer_interval_s=0.05,
                          settle_timeout_s=120, files_dir=files)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)


async def test_the_readme_console_session_is_what_the_console_prints(tmp_path: Path) -> None:
    lines_in, args, expected = transcript()
    out = io.StringIO()
    code = await run_console(Settings(_env_file=None), options=_options(args, tmp_path / "files"),
                             stdin=io.StringIO("\n".join(lines_in) + "\n"), stdout=out, interactive=False)
    actual = out.getvalue().splitlines()
    assert code == 0, out.getvalue()
    problem = first_mismatch(expected, actual)
    assert problem is None, (
        f"README.md's console session differs from the console from this line on:\n  {expected[problem]!r}\n"
        "(after masking times, durations and labels). What the console printed:\n" + out.getvalue())
    assert "— done" in actual[-1]  # the session reaches "done"
    assert list((tmp_path / "files").glob("*-plan-1-timeline.png"))  # the picture went where it was told
