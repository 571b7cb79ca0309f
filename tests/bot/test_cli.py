"""The ``dm-upgrade`` entry point: ``--version``, and a reader that goes away (``| head -1``) ends the
command quietly instead of with a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from bot.cli import BROKEN_PIPE_EXIT, main
from bot.settings import Settings


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"dm-upgrade {metadata.version('dm-upgrade')}\n"


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    # The reader closes at once; the command's output (a multi-hop table) cannot all be written.
    reader = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.readline()"],
                              stdin=subprocess.PIPE)
    assert reader.stdin is not None
    writer = subprocess.run([sys.executable, "-m", "bot.cli", "path", "9.6.0.0-8538", "10.6", "--json"],
                            stdout=reader.stdin, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            env=clean_env(), timeout=60)
    reader.stdin.close()
    reader.wait(timeout=10)
    # Whether the pipe broke depends on how much the reader took: either way, no traceback.
    assert "Traceback" not in writer.stderr and "BrokenPipe" not in writer.stderr, writer.stderr
    assert writer.returncode in (0, BROKEN_PIPE_EXIT)


@pytest.mark.parametrize("command", [["path", "9.6.0.0-8538", "10.6"], ["audit"]])
def test_head_minus_1_gets_one_line_and_no_traceback(tmp_path: Path, command: list[str]) -> None:
    from workflow.store import audit
    from workflow.store.database import make_engine, migrate, session

    engine = make_engine(f"sqlite:///{tmp_path / 'dm-upgrade.db'}")
    migrate(engine)
    with session(engine) as db:
        for i in range(3000):  # more than a pipe buffer holds
            audit.record(db, actor="U1", action="test", plan_id=None, detail={"i": i})
    engine.dispose()
    line = " ".join([sys.executable, "-m", "bot.cli", *command]) + " | head -1"
    result = subprocess.run(["bash", "-c", line], capture_output=True, text=True,
                            cwd=tmp_path, env=clean_env(), timeout=60)
    assert result.stdout.count("\n") == 1
    assert result.stderr == "", result.stderr
