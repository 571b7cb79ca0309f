"""The shipped orchestrator Automation script against dms.script_contract and the Taskbar Utility docs.

UpgradeInfo.xml elements and FailoverPolicy values: SkylineCommunications/dataminer-docs,
dataminer/DataMiner_Tools/DataMiner_Taskbar_Utility/Taskbar_Utility_command_line_options.md. These tests read
the script; none of them runs it on DataMiner (nor does any CI of this project).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from dms import script_contract as contract
from dms.orchestrator_script import export, script_xml, upgrade_info_xml

NS = {"a": "http://www.skyline.be/automation"}
DOCUMENTED_UPGRADE_INFO = {"Agents", "IsCluster", "ExtractAllFiles", "DelayedStart", "AutomaticStartServices",
                           "StopSNMP", "RebootAfterUpgrade", "FailoverPolicy"}
DOCUMENTED_POLICIES = {"UseDefault", "Simultaneously", "BackupFirst", "BackupFirstWithSwitchback"}


def root() -> ET.Element:
    return ET.fromstring(script_xml().encode())


def code() -> str:
    value = root().find("a:Script/a:Exe/a:Value", NS)
    assert value is not None and value.text
    return value.text


def test_name_folder_and_parameters_match_the_contract() -> None:
    script = root()
    assert script.tag == "{http://www.skyline.be/automation}DMSScript"
    assert script.findtext("a:Name", namespaces=NS) == contract.SCRIPT_NAME
    assert script.findtext("a:Folder", namespaces=NS) == contract.SCRIPT_FOLDER
    declared = {(p.findtext("a:Description", namespaces=NS) or ""): int(p.get("id", "0"))
                for p in script.findall("a:Parameters/a:ScriptParameter", NS)}
    assert declared == contract.PARAMETER_IDS
    exe = script.find("a:Script/a:Exe", NS)
    assert exe is not None and exe.get("type") == "csharp"


def test_the_code_implements_every_action_and_output() -> None:
    text = code()
    for action in contract.ACTIONS:
        assert f'case "{action}":' in text
    for name in contract.PARAMETER_IDS:
        assert f'Param(engine, "{name}")' in text
    for output in (contract.OUTPUT_STATE, contract.OUTPUT_MESSAGE, contract.OUTPUT_FILES):
        assert f'AddScriptOutput("{output}"' in text
    states = (contract.STATE_RUNNING, contract.STATE_STARTED, contract.STATE_SUCCEEDED, contract.STATE_FAILED)
    for state in states:
        assert f'"{state}"' in text
    assert f'"{contract.PREREQUISITE_FAILED_PREFIX}"' in text
    assert "SLTaskbarUtility.exe" in text and '"-upgrade \\"" + package' in text
    assert contract.DEFAULT_PACKAGE_FOLDER in text


def test_upgrade_info_has_the_documented_elements_cluster_wide_and_simultaneous() -> None:
    info = ET.fromstring(upgrade_info_xml())
    assert info.tag == "UpgradeInfo"
    names = {child.tag for child in info}
    assert names <= DOCUMENTED_UPGRADE_INFO and {"Agents", "IsCluster", "FailoverPolicy"} <= names
    assert info.findtext("IsCluster") == "true"
    assert info.findtext("FailoverPolicy") == contract.FAILOVER_SIMULTANEOUSLY
    assert info.findtext("FailoverPolicy") in DOCUMENTED_POLICIES
    assert [ip.text for ip in info.findall("Agents/IP")] == ["localhost"]
    for flag in names - {"Agents", "FailoverPolicy"}:
        assert info.findtext(flag) in ("true", "false"), flag


def test_export_writes_the_script_and_install_steps(tmp_path: Path) -> None:
    written = export(tmp_path / "out", package_folder=r"D:\packages")
    assert [path.name for path in written] == [f"{contract.SCRIPT_NAME}.xml", "INSTALL.md"]
    assert written[0].read_text(encoding="utf-8") == script_xml()
    steps = written[1].read_text(encoding="utf-8")
    assert "NOT RUN ON A REAL DMA" in steps and r"D:\packages" in steps and contract.SCRIPT_FOLDER in steps


def test_cli_script_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main

    assert main(["script", "export", str(tmp_path)]) == 0
    assert (tmp_path / "INSTALL.md").exists() and "Not run on a real DMA" in capsys.readouterr().out
