"""``dm-upgrade timeline ID --out FILE`` on a database holding a finished upgrade."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot import cli
from tests.handlers.blocks.test_timeline_chart import png_size
from tests.support.timeline_plans import real_timeline


async def test_timeline_writes_the_png_and_prints_its_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await real_timeline(tmp_path, "finished")
    database = tmp_path / "copy.db"
    shutil.copyfile(tmp_path / "finished.db", database)
    out = tmp_path / "pictures" / "plan-1.png"
    out.parent.mkdir()
    code = cli.main(["timeline", "1", "--out", str(out), "--database-url", f"sqlite:///{database}",
                     "--time-scale", "2000"])
    assert code == 0
    assert capsys.readouterr().out.strip() == str(out.resolve())
    assert png_size(out.read_bytes())[0] == 1200


async def test_an_unknown_plan_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await real_timeline(tmp_path, "finished")
    code = cli.main(["timeline", "42", "--out", str(tmp_path / "x.png"),
                     "--database-url", f"sqlite:///{tmp_path / 'finished.db'}"])
    assert code == 1
    assert "There is no upgrade plan #42" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_in_an_empty_folder_it_says_there_is_no_database_and_creates_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    code = cli.main(["timeline", "1"])
    assert code != 0
    assert "no database at" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # neither dm-upgrade.db nor a picture


def test_an_empty_database_file_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    code = cli.main(["timeline", "1", "--out", str(tmp_path / "x.png"), "--database-url", f"sqlite:///{empty}"])
    assert code != 0
    assert "no dm-upgrade database" in capsys.readouterr().err
    assert empty.stat().st_size == 0 and not (tmp_path / "x.png").exists()
