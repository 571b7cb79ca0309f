"""The console after a finished upgrade: the timeline picture is written to a file (path printed, the
end-of-plan one and the one asked for with /dm-upgrade timeline), and ``home`` prints the Home tab."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from bot.console.runner import ConsoleOptions, run_console
from bot.settings import Settings
from tests.bot.console.test_console import TICKS, in_order
from tests.handlers.blocks.test_timeline_chart import png_size


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)


async def test_a_finished_console_upgrade_leaves_a_timeline_png_and_home_shows_it(tmp_path: Path) -> None:
    script = "\n".join([
        "/dm-upgrade plan 10.5", TICKS, "window now for 2h", "/dm-upgrade check", "/as bob", "home",
        "click 1", "/dm-upgrade timeline 1", "home",
    ]) + "\n"
    options = ConsoleOptions(speed=3000, pacer_interval_s=0.05, settle_timeout_s=60,
                             files_dir=tmp_path / "files")
    out = io.StringIO()
    code = await run_console(Settings(_env_file=None), options=options, stdin=io.StringIO(script), stdout=out,
                             interactive=False)
    text = out.getvalue()
    assert code == 0, text
    in_order(text, "bob> home", "[home] == DataMiner upgrades ==", "Waiting on you", "Plan #1",
             "Your approval is requested", "bob> click 1", "Upgrade done", "[file] Plan #1 timeline:",
             "bob> /dm-upgrade timeline 1", "[file] Plan #1 timeline:", "bob> home", "Last result per DMS")
    paths = re.findall(r"\[file\] Plan #1 timeline: (\S+)", text)
    assert len(paths) == 2 and len(set(paths)) == 2
    for path in map(Path, paths):
        assert path.parent == tmp_path / "files" and png_size(path.read_bytes())[0] == 1200
