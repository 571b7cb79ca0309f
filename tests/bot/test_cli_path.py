"""``dm-upgrade path``: the table, the JSON object, and exit code 2 with a message for bad input."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from bot.cli import main


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in ("RELEASE_CATALOG", "PACKAGE_SIZE_MB", "UPLOAD_BANDWIDTH_MBPS", "AGENT_STARTUP_MINUTES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("HOTFIXES", raising=False)


def test_documented_example_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["path", "9.6.0.0-8538", "10.3", "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    data = json.loads(captured.out)
    assert set(data) == {"from", "to", "track", "hops", "estimate"}
    assert (data["from"], data["to"], data["track"]) == ("9.6.0", "10.3.0 CU22", "main")
    assert [(hop["version"], hop["package"]) for hop in data["hops"]] == [
        ("10.0.0 CU19", "full"), ("10.0.0 CU19", "helper"), ("10.2.0 CU21", "full"), ("10.3.0 CU22", "full")
    ]
    reasons = [hop["rule"].split(":")[0] for hop in data["hops"]]
    assert reasons == ["Rule 5", "Rule 6", "Rule 4", "Target 10.3.0 CU22"]
    for hop in data["hops"]:
        assert set(hop) == {"version", "package", "name", "rule", "rule_url", "checks", "requirements"}
        assert hop["rule_url"].startswith("https://docs.dataminer.services/")
    assert data["hops"][1]["name"] == "VerifyClusterPorts.dmupgrade"
    requirements = [req for hop in data["hops"] for req in hop["requirements"]]
    assert ".NET Framework 4.8" in requirements
    assert "ASP.NET Core hosting bundle (.NET 8)" in requirements
    assert any("9090, 4222, 6222 and 8222" in req for req in requirements)
    assert len(data["estimate"]["phases"]) == 4


def test_text_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["path", "10.4.0 CU6", "10.4.0 [CU8]"]) == 0
    out = capsys.readouterr().out
    assert "Upgrade path 10.4.0 CU6 -> 10.4.0 CU8 (main track)" in out
    assert "10.4.0 CU8  cu" in out
    assert "Execute the DataMiner upgrade" in out
    assert "Total" in out


def test_track_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["path", "10.2.0 CU3", "10.3", "--track", "feature", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["to"], data["track"]) == ("10.3.12", "feature")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["path", "10.x", "10.3"], "'10.x' is not a DataMiner version; accepted forms"),
        (["path", "10.2.0", "ten"], "'ten' is not a DataMiner version"),
        (["path", "10.4.0 CU3", "10.3"], "never downgrades"),
        (["path", "10.4.0 CU21", "10.4"], "already run 10.4.0 CU21"),
        (["path", "10.2.0", "10.3.0 CU40"], "nearest known"),
        (["path", "10.2.0", "10.3.4", "--track", "main"], "not on the main track"),
    ],
)
def test_bad_input_exits_2_with_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err


def test_release_catalog_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = resources.files("dms").joinpath("data/catalog.toml").read_text(encoding="utf-8")
    newer = tmp_path / "newer.toml"
    newer.write_text(text.replace("cus = 22", "cus = 23"), encoding="utf-8")
    monkeypatch.setenv("RELEASE_CATALOG", str(newer))
    assert main(["path", "10.2.0", "10.3", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["to"] == "10.3.0 CU23"

    broken = tmp_path / "broken.toml"
    broken.write_text(text.replace('version = "10.3.0"', 'version = "10.x"'), encoding="utf-8")
    monkeypatch.setenv("RELEASE_CATALOG", str(broken))
    assert main(["path", "10.2.0", "10.3"]) == 2
    assert '.version: "10.x" is not a DataMiner version' in capsys.readouterr().err


def test_estimate_uses_settings(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["path", "10.4.0 CU6", "10.4.0 CU8", "--json"]) == 0
    before = json.loads(capsys.readouterr().out)["estimate"]["phases"][3]["low_minutes"]
    monkeypatch.setenv("AGENT_STARTUP_MINUTES", "45")
    assert main(["path", "10.4.0 CU6", "10.4.0 CU8", "--json"]) == 0
    after = json.loads(capsys.readouterr().out)["estimate"]["phases"][3]["low_minutes"]
    assert after == before + 30


def test_bad_setting_exits_2_without_value(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("UPLOAD_BANDWIDTH_MBPS", "-3")
    assert main(["path", "10.2.0", "10.3"]) == 2
    err = capsys.readouterr().err
    assert "upload_bandwidth_mbps" in err and "-3" not in err
