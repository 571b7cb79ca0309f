"""The README's quick start: two commands, and the second (the tests) is exactly what ``.ci/run`` runs.

Both are compared step by step after normalising spellings that do the same thing
(``.venv/bin/pip`` = ``.venv/bin/python -m pip``, ``.venv/bin/pytest`` = ``.venv/bin/python -m pytest``,
``--quiet`` dropped); CI may only add an upgrade of pip itself and the start of a throwaway PostgreSQL
(``source .ci/postgres && start_postgres``, which sets DMU_TEST_POSTGRES_URL for the PostgreSQL tests).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
Step = tuple[str, ...]


def quick_start_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## Quick start\n(.*?)(?=^## )", text, re.S | re.M)
    assert section is not None, "README.md has no '## Quick start' section"
    block = re.search(r"^```[a-z]*\n(.*?)^```", section.group(1), re.S | re.M)
    assert block is not None, "the quick start has no fenced command block"
    return [line.strip() for line in block.group(1).splitlines() if line.strip()]


def normalise(words: list[str]) -> Step:
    words = [w for w in words if w not in ("--quiet", "-q")]
    if words[:3] == [".venv/bin/python", "-m", "pip"]:
        words = [".venv/bin/pip", *words[3:]]
    if words[:3] == [".venv/bin/python", "-m", "pytest"]:
        words = [".venv/bin/pytest", *words[3:]]
    return tuple(words)


def steps_of_command(command: str) -> list[Step]:
    return [normalise(shlex.split(part)) for part in command.split("&&")]


def steps_of_script(path: Path) -> list[Step]:
    steps = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or line.startswith(("set ", "cd ")):
            continue
        steps.extend(steps_of_command(line))
    return steps


# What CI runs around the README's command: only the environment changes, never the command itself.
CI_SETUP_STEPS: set[Step] = {("source", ".ci/postgres"), ("start_postgres",), ("source", ".ci/mono"),
                              ("install_mono",)}


def is_ci_setup(step: Step) -> bool:
    pip_self_upgrade = step[:3] == (".venv/bin/pip", "install", "--upgrade") and step[3:] == ("pip",)
    return pip_self_upgrade or step in CI_SETUP_STEPS


def test_the_quick_start_is_two_commands() -> None:
    commands = quick_start_commands()
    assert len(commands) == 2, commands
    assert commands[0].startswith("python3 -m venv .venv") and "dm-upgrade" in commands[0]


def test_the_readme_test_command_is_what_ci_runs() -> None:
    readme_steps = steps_of_command(quick_start_commands()[1])
    assert readme_steps[-1][0] == ".venv/bin/pytest", "the second quick-start command must run the tests"
    ci_steps = [s for s in steps_of_script(ROOT / ".ci" / "run") if not is_ci_setup(s)]
    assert ci_steps == readme_steps


def test_the_comparison_can_tell_commands_apart() -> None:
    # The normalisation must not make different commands equal.
    base = steps_of_command("python3 -m venv .venv && .venv/bin/pip install -e '.[dev]' && .venv/bin/pytest")
    assert steps_of_command(".venv/bin/python -m pip install --quiet -e '.[dev]'") == [base[1]]
    assert steps_of_command(".venv/bin/pytest tests/bot") != [base[2]]
    assert steps_of_command(".venv/bin/pip install -e .") != [base[1]]


def readme() -> str:
    return (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_migration_the_readme_names_exists() -> None:
    versions = ROOT / "workflow" / "store" / "migrations" / "versions"
    named = set(re.findall(r"migration (\d{4})", readme()))
    assert named, "the README names no migration any more: drop this test"
    for number in named:
        assert list(versions.glob(f"{number}_*.py")), f"README names migration {number}; there is none"


def test_every_dm_upgrade_command_in_the_readme_parses() -> None:
    # As a shell would split them: a version with a space must be quoted (`--version '10.4.0 CU3'`).
    from bot.cli import SUBCOMMANDS, build_parser

    commands = []
    for block in re.findall(r"^```sh\n(.*?)^```", readme(), re.S | re.M):
        for line in block.splitlines():
            words = shlex.split(line.split("  #")[0])
            while words and "=" in words[0]:  # DMS_URL=... before the command
                words.pop(0)
            if words and words[0].endswith("bin/dm-upgrade") and words[1:2] and words[1] in SUBCOMMANDS:
                commands.append(words[1:])
    inline = re.findall(r"`dm-upgrade ((?:simulator|path|timeline|audit) [^`]*)`", readme())
    # Synopses ([--x]) and pipes are not commands to run.
    commands += [shlex.split(c) for c in inline if not any(mark in c for mark in ("[", "|", "..."))]
    assert len(commands) >= 5, commands
    for args in commands:
        try:
            build_parser(only=args[0]).parse_args(args)
        except SystemExit as exited:
            if exited.code == 0:  # --help
                continue
            raise AssertionError(f"README command does not parse: dm-upgrade {shlex.join(args)}") from None
