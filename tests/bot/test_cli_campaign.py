"""``dm-upgrade campaign``: a campaign planned dry and printed as its card; with no DMS configured, on the
simulated demo fleet (three DMSs on three versions); with a targets file, each simulated entry served by a
simulated DMS of its own."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest

from bot import cli_campaign
from bot.cli import main
from bot.simulated import DEMO_FLEET

NOW = datetime(2026, 12, 1, 9, 59, 10, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in ("DMS_URL", "DMS_TARGETS_FILE", "DMS_USER", "DMS_PASSWORD", "SIM_VERSION", "SIM_FAULTS",
                 "RELEASE_CATALOG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SIM_AGENTS", "2")
    monkeypatch.setenv("SIM_FAILOVER_PAIRS", "0")


def test_the_demo_fleet_plans_three_paths(capsys: pytest.CaptureFixture[str]) -> None:
    out, err = StringIO(), StringIO()
    args = argparse.Namespace(words=["10.5", "on", "staging", "then", "prod-eu", "prod-us", "soak", "24h"])
    assert cli_campaign.run(args, out=out, err=err, now=NOW) == 0, err.getvalue()
    text = out.getvalue()
    assert text.startswith("== Campaign to 10.5.0 CU18: 3 DMSs in 2 waves ==")
    for name, version in DEMO_FLEET.items():
        assert f"{name} (2 agents) on {version}:" in text
    assert "1 hop: 10.5.0 CU18 (full)" in text and "2 hops: 10.4.0 CU21" in text
    assert "3 hops: 10.3.0 CU22" in text
    assert "Wave 1: 2026-12-01 10:00 UTC to" in text and "not booked" in text
    assert "Earliest end: 2026-12-02" in text


def test_registered_as_a_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["campaign", "10.5", "on", "staging", "prod-us"]) == 0
    out = capsys.readouterr().out
    assert "2 DMSs in 1 wave" in out and "soak" not in out.split("Earliest end")[1].split("\n")[0]


@pytest.mark.parametrize(("words", "problem"), [
    (["10.5", "on", "staging", "then", "mars"], "no DMS target named 'mars' (known: prod-eu, prod-us"),
    (["10.5", "on", "staging", "then"], "Wave 2 is empty"),
    (["10.5", "on", "staging", "then", "prod-eu", "soak", "0h"], "longer than 0 minutes"),
    (["10.3", "on", "staging"], "DMS 'staging' (10.4.0 CU3)"),
])
def test_bad_input_exits_2_with_one_line(words: list[str], problem: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["campaign", *words]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith("dm-upgrade campaign: ") and problem in captured.err


def test_a_targets_file_of_simulated_dmss(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    targets = tmp_path / "targets.toml"
    targets.write_text('[[targets]]\nname = "lab-a"\nurl = "simulated"\n'
                       '[[targets]]\nname = "lab-b"\nurl = "simulated"\n', encoding="utf-8")
    monkeypatch.setenv("DMS_TARGETS_FILE", str(targets))
    monkeypatch.setenv("SIM_VERSION", "10.3.0 CU5")
    assert main(["campaign", "10.4", "on", "lab-a", "then", "lab-b", "soak", "2d"]) == 0
    out = capsys.readouterr().out
    assert "lab-a (2 agents) on 10.3.0 CU5" in out and "lab-b (2 agents) on 10.3.0 CU5" in out
    assert "Soak 2d after wave 1" in out
    assert main(["campaign", "10.4", "on", "staging"]) == 2  # the demo fleet is only for no configuration
    assert "known: lab-a, lab-b" in capsys.readouterr().err
