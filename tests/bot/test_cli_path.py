"""``dm-upgrade path``: the table, the JSON object, and exit code 2 with a message for bad input."""

from __future__ import annotations

import argparse
import io
import json
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import pytest

from bot import cli_path
from bot.cli import build_parser, main

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


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
    assert set(data) == {"from", "to", "track", "hops", "warnings", "estimate", "support", "catalog"}
    assert (data["from"], data["to"], data["track"]) == ("9.6.0", "10.3.0 CU22", "main")
    assert [(hop["version"], hop["package"]) for hop in data["hops"]] == [
        ("10.0.0 CU19", "full"), ("10.0.0 CU19", "helper"), ("10.2.0 CU21", "full"), ("10.3.0 CU22", "full")
    ]
    reasons = [hop["rule"].split(":")[0] for hop in data["hops"]]
    assert reasons == ["Rule 5", "Rule 6", "Rule 4", "Target 10.3.0 CU22"]
    for hop in data["hops"]:
        assert set(hop) == {"version", "package", "name", "rule", "rule_url", "checks", "requirements",
                            "restarts_agents"}
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


def _args(current: str, target: str, *extra: str) -> argparse.Namespace:
    parser = build_parser(only="path")
    return parser.parse_args(["path", current, target, *extra])


def _run(current: str, target: str, *extra: str, now: datetime = NOW) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli_path.run(_args(current, target, *extra), out=out, err=err, now=now)
    return code, out.getvalue(), err.getvalue()


# For each case, the path the documentation gives, with the rule and a current link on every hop.
@pytest.mark.parametrize(
    ("current", "target", "expected"),
    [
        # Preparing to upgrade: the 10.0.0 [CU19] rule does not apply within the same major version.
        ("10.0.0 CU18", "10.0.0 CU21", [("10.0.0 CU21", "cu")]),
        # BrokerGateway_Migration: migrate on 10.5.0 [CU11]+ / 10.5.12 [CU2], "preferably, upgrade first".
        ("10.5.0 CU2", "10.6", [("10.5.0 CU18", "cu"), ("10.5.0 CU18", "helper"), ("10.5.0 CU18", "helper"),
                                ("10.6.0 CU6", "full")]),
        ("10.5.6", "10.6", [("10.5.6", "helper"), ("10.5.12 CU2", "full"), ("10.5.12 CU2", "helper"),
                            ("10.6.0 CU6", "full")]),
        # The MOP's own spelling "10.0 CU5".
        ("10.0 CU5", "10.2 CU5", [("10.0.0 CU19", "cu"), ("10.0.0 CU19", "helper"), ("10.2.0 CU5", "full")]),
        # Rule 4 from feature release 10.0.5.
        ("10.0.5", "10.2", [("10.0.5", "helper"), ("10.2.0 CU21", "full")]),
        # Preparing to upgrade, Example upgrade path.
        ("9.6.0", "10.3.0 CU0", [("10.0.0 CU19", "full"), ("10.0.0 CU19", "helper"), ("10.2.0 CU21", "full"),
                                 ("10.3.0", "full")]),
    ],
)
def test_issue_11_cases(current: str, target: str, expected: list[tuple[str, str]]) -> None:
    code, out, err = _run(current, target, "--json")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert [(hop["version"], hop["package"]) for hop in data["hops"]] == expected
    for hop in data["hops"]:
        assert hop["rule"] and hop["rule_url"].startswith("https://docs.dataminer.services/dataminer/")


def test_10_0_5_to_10_2_rule_label() -> None:
    code, out, _ = _run("10.0.5", "10.2")
    assert code == 0 and "Target 10.2.0 CU21: rule 4" in out


@pytest.mark.parametrize("target", ["10.7", "10.6.10", "10.5.0 CU19"])
def test_preview_refused_without_opt_in(target: str) -> None:
    code, out, err = _run("10.5.0 CU18", target)
    assert code == 2 and out == ""
    assert "preview release" in err and "--allow-preview" in err


@pytest.mark.parametrize("option", [["--allow-preview"], ["--track", "preview"]])
def test_preview_with_opt_in_warns(option: list[str]) -> None:
    code, out, _ = _run("10.6.0 CU6", "10.7", *option)
    assert code == 0
    assert "Upgrade path 10.6.0 CU6 -> 10.7.0" in out and "! [preview] 10.7.0 is a preview release" in out


def test_support_shown_and_warned() -> None:
    code, out, _ = _run("9.6.0", "10.3")
    assert code == 0
    assert "! [support] The target version: 10.3.0 is out of support since 2026-02-27" in out
    assert "https://docs.dataminer.services/dataminer/Reference/Software_support_life_cycles.html" in out
    assert "target:  10.3.0 is out of support" in out
    code, out, _ = _run("10.5.0 CU2", "10.5.0 CU18", "--json")
    data = json.loads(out)
    assert data["support"]["target"]["supported"] is True
    assert data["catalog"] == {"docs_snapshot": "2026-08-21", "age_days": 102}


def test_catalog_freshness_warning_after_90_days() -> None:
    # The age is the documentation snapshot's (2026-08-21), not the day the file was edited.
    code, out, _ = _run("10.5.0 CU2", "10.5.0 CU18", now=datetime(2026, 11, 20, tzinfo=UTC))
    assert code == 0 and "! [catalog] The release catalog is built from the DataMiner documentation as of " \
        "2026-08-21 (91 days ago" in out
    code, out, _ = _run("10.5.0 CU2", "10.5.0 CU18", now=datetime(2026, 11, 19, tzinfo=UTC))
    assert "[catalog]" not in out


def test_known_issue_shown_with_its_page() -> None:
    code, out, _ = _run("10.4.0 CU3", "10.4.0 CU8")
    assert code == 0 and "! [known_issue] Hop 1 (10.4.0 CU8): Known issue: Unable to perform" in out
    assert "KI_Unable_to_perform_a_DataMiner_upgrade_via_Update_Center.html" in out


def test_broker_gateway_checklist_in_text() -> None:
    code, out, _ = _run("10.5.0 CU18", "10.6")
    assert code == 0
    assert "restart:      none" in out
    assert "before:       ASP.NET Core Runtime 10 Hosting Bundle" in out
    assert "after:        Data Aggregator" in out


@pytest.mark.parametrize(("words", "start"), [
    (["10.0.0", "CU3", "10.6"], "Upgrade path 10.0.0 CU3 -> 10.6.0"),
    (["10.5.12", "CU", "2", "10.6"], "Upgrade path 10.5.12 CU2 -> 10.6.0"),
    (["10.2.0", "[CU5]", "10.3"], "Upgrade path 10.2.0 CU5 -> 10.3.0"),
    (["10.2.0 CU5", "10.3"], "Upgrade path 10.2.0 CU5 -> 10.3.0"),
])
def test_versions_may_be_typed_with_a_space_and_no_quotes(words: list[str], start: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    args = build_parser(only="path").parse_args(["path", *words])
    assert cli_path.run(args, out=out, err=err, now=NOW) == 0, err.getvalue()
    assert out.getvalue().startswith(start)


def test_more_or_fewer_than_two_versions_is_one_line() -> None:
    out, err = io.StringIO(), io.StringIO()
    args = build_parser(only="path").parse_args(["path", "10.4", "10.5", "10.6"])
    assert cli_path.run(args, out=out, err=err, now=NOW) == 2
    assert err.getvalue() == "dm-upgrade path: give two versions, FROM and TO; got 3: 10.4, 10.5, 10.6\n"


def test_latest_on_the_command_line() -> None:
    code, out, err = _run("10.4.2", "latest", "--json")
    assert code == 0 and err == ""
    assert (json.loads(out)["to"], json.loads(out)["track"]) == ("10.6.0 CU6", "main")
    code, out, _ = _run("10.4.2", "latest", "feature", "--json")
    assert code == 0 and json.loads(out)["to"] == "10.6.9"  # 10.6.10 is a preview: never "the latest"
    code, _, err = _run("10.4.2", "latest", "main", "--track", "feature")
    assert code == 2 and "contradicts --track feature" in err
