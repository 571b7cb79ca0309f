"""The shipped orchestrator Automation script, read: its XML and C# against dms.script_contract (version 2)
and the docs, and the install steps ``dm-upgrade script export`` writes.

UpgradeInfo.xml elements and FailoverPolicy values: SkylineCommunications/dataminer-docs,
dataminer/DataMiner_Tools/DataMiner_Taskbar_Utility/Taskbar_Utility_command_line_options.md. What the C# DOES
is tested by running it under mono (test_orchestrator_csharp.py); these tests pin what it declares.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from dms import script_contract as contract
from dms.orchestrator_script import (
    assembly_references,
    csharp_code,
    declared_parameters,
    export,
    install_steps,
    script_xml,
)

NS = {"a": "http://www.skyline.be/automation"}
# After <Agents>, in the order of the documented example.
DOCUMENTED_UPGRADE_INFO = ["IsCluster", "ExtractAllFiles", "DelayedStart", "AutomaticStartServices",
                           "StopSNMP", "RebootAfterUpgrade", "FailoverPolicy"]
DOCUMENTED_POLICIES = {"UseDefault", "Simultaneously", "BackupFirst", "BackupFirstWithSwitchback"}


def root() -> ET.Element:
    return ET.fromstring(script_xml().encode())


def csharp_string(name: str) -> str:
    """The value of a ``const string`` in the script's C#."""
    found = re.search(rf'const string {name} = @?"(?P<value>[^"]*)";', csharp_code())
    assert found is not None, name
    return found["value"]


def test_name_folder_and_parameters_match_the_contract() -> None:
    script = root()
    assert script.tag == "{http://www.skyline.be/automation}DMSScript"
    assert script.findtext("a:Name", namespaces=NS) == contract.SCRIPT_NAME
    assert script.findtext("a:Folder", namespaces=NS) == contract.SCRIPT_FOLDER
    assert declared_parameters() == contract.PARAMETER_IDS
    exe = script.find("a:Script/a:Exe", NS)
    assert exe is not None and exe.get("type") == "csharp"


def test_the_code_reads_each_parameter_by_the_id_the_xml_declares() -> None:
    ids = {found["name"]: int(found["id"])
           for found in re.finditer(r"const int Param(?P<name>\w+) = (?P<id>\d+);", csharp_code())}
    assert ids == contract.PARAMETER_IDS
    for name in contract.PARAMETER_IDS:
        assert f"Param(engine, Param{name})" in csharp_code(), name


def test_the_code_speaks_contract_2_with_its_constants() -> None:
    code = csharp_code()
    assert csharp_string("ContractVersion") == contract.CONTRACT_VERSION
    assert f'engine.AddScriptOutput("{contract.OUTPUT_CONTRACT_VERSION}", ContractVersion)' in code
    assert csharp_string("DefaultPackageFolder") == contract.DEFAULT_PACKAGE_FOLDER
    locations = re.search(r"TaskbarUtilityLocations =\s*\{(?P<body>.*?)\};", code, re.DOTALL)
    assert locations is not None
    assert re.findall(r'@"([^"]*)"', locations["body"]) == list(contract.TASKBAR_UTILITY_LOCATIONS)
    for action in contract.ACTIONS:
        assert f'case "{action}":' in code, action
    states = {csharp_string(name) for name in ("Running", "Finished", "Failed", "Missing")}
    assert states == contract.STATES
    assert {csharp_string("Pass"), csharp_string("Fail")} == {contract.RESULT_PASS, contract.RESULT_FAIL}
    for output in (contract.OUTPUT_STATE, contract.OUTPUT_MESSAGE, contract.OUTPUT_EXIT_CODE,
                   contract.OUTPUT_FILES, contract.OUTPUT_RESULT, contract.OUTPUT_ACCOUNT):
        assert f'AddScriptOutput("{output}"' in code, output
    assert f'AddScriptOutput("{contract.OUTPUT_CHECK_PREFIX}" + ' in code
    assert f"Split('{contract.AGENT_SEPARATOR}')" in code
    assert f"IndexOf('{contract.AGENT_ID_SEPARATOR}')" in code


def test_the_code_starts_the_documented_command_and_awaits_its_return_code() -> None:
    code = csharp_code()
    # start /wait, "used to await the return code of the command" (Taskbar_Utility_command_line_options.md)
    assert 'text.Append("start \\"\\" /wait " + CmdQuote(utility));' in code
    assert 'new[] { "-upgrade", plan.Package, plan.UpgradeInfo }' in code
    assert 'new[] { "-help" }' in code
    assert '" echo %errorlevel%\\r\\n"' in code and 'text.Append(">" + CmdQuote(exit + ".tmp")' in code
    assert '"/d /s /c \\"\\"" + cmd + "\\"\\""' in code
    # On Windows the runner is shell-executed (no handles inherited from SLAutomation), hidden.
    assert "start.UseShellExecute = true;" in code and "ProcessWindowStyle.Hidden" in code
    # Refusals leave through ExitFail, the documented way to fail a script, after writing their outputs.
    refuse = code[code.index("private static void Refuse"):]
    refuse = refuse[:refuse.index("\n    }\n")]
    assert refuse.index('AddScriptOutput("State", Failed)') < refuse.index("engine.ExitFail(message);")
    # Nothing may swallow ExitFail's ScriptAbortException: a catch-all is always filtered.
    assert "catch (Exception)" not in code
    assert re.findall(r"catch \(Exception \w+\)(?! when \()", code) == []


def test_upgrade_info_is_written_with_the_documented_elements_cluster_wide_and_simultaneous() -> None:
    code = csharp_code()
    start = code.index("private static void WriteUpgradeInfo")
    body = code[start:code.index("\n    }\n", start)]
    assert re.findall(r'WriteStartElement\("(\w+)"\)', body) == ["UpgradeInfo", "Agents"]
    assert re.findall(r'WriteElementString\("IP", agent\.Address\)', body)
    written = re.findall(r'WriteElementString\("(\w+)", "(\w+)"\)', body)
    assert [name for name, _ in written] == DOCUMENTED_UPGRADE_INFO
    values = dict(written)
    assert values["IsCluster"] == "true"
    assert values["FailoverPolicy"] == contract.FAILOVER_SIMULTANEOUSLY
    assert values["FailoverPolicy"] in DOCUMENTED_POLICIES
    for flag in DOCUMENTED_UPGRADE_INFO[:-1]:
        assert values[flag] in ("true", "false"), flag


def test_the_code_is_one_cdata_block_with_only_framework_references() -> None:
    text = script_xml()
    assert text.count("<![CDATA[") == 1 and "]]>" not in csharp_code()
    assert "UPGRADEINFO-BEGIN" not in text  # UpgradeInfo.xml is built from the agents, not a template
    # DataMiner references System, System.Core, System.Xml, SLManagedAutomation and SLNetTypes by default
    # (Adding_CSharp_code_to_an_Automation_script.md); ZipArchive needs System.IO.Compression.
    assert assembly_references() == ["System.IO.Compression.dll"]
    assert "ZipFile." not in csharp_code()  # in System.IO.Compression.FileSystem, which is not referenced


def test_install_steps_cover_contract_2_honestly() -> None:
    steps = install_steps()
    flat = " ".join(steps.split())  # the text as read, whatever the line breaks
    assert "NOT RUN ON A REAL DMA" in flat and f"contract {contract.CONTRACT_VERSION}" in flat
    for name, pid in contract.PARAMETER_IDS.items():
        assert f"{pid} `{name}`" in flat, name
    assert f"`{contract.SCRIPT_FOLDER}`" in flat and f"`{contract.SCRIPT_NAME}.xml`" in flat
    assert contract.DEFAULT_PACKAGE_FOLDER in flat
    for location in contract.TASKBAR_UTILITY_LOCATIONS:
        assert location in flat
    assert "TaskbarUtilityPath" in flat
    # Where the credentials must be: the account the utility runs under, the one SLAutomation runs as.
    assert "Options > slnet" in flat and "Test & Save Connection" in flat
    assert "SLAutomation" in flat and "THAT account's profile" in flat
    assert "We could not verify where the utility reads them" in flat
    # Permissions: ExecuteAutomationScriptWithOutput.md and DataMiner_user_permissions.md.
    assert "Modules > Automation > Execute" in flat
    assert "before DataMiner 10.3.0 CU13/10.4.0 CU1/10.4.4 also Modules > Automation > UI Available" in flat
    assert "ExecuteAutomationScriptWithOutput.md" in flat and "DataMiner_user_permissions.md" in flat
    assert "Upload only" in flat and "person's step" in flat
    assert "Run `dm-upgrade script selftest` against the lab DMS" in flat
    assert "Upgrading_a_DataMiner_Agent_using_DataMiner_Taskbar_Utility.md" in flat


def test_export_writes_the_script_and_install_steps(tmp_path: Path) -> None:
    written = export(tmp_path / "out", package_folder=r"D:\packages")
    assert [path.name for path in written] == [f"{contract.SCRIPT_NAME}.xml", "INSTALL.md"]
    assert written[0].read_text(encoding="utf-8") == script_xml()
    steps = written[1].read_text(encoding="utf-8")
    assert "NOT RUN ON A REAL DMA" in steps and r"D:\packages" in steps and contract.SCRIPT_FOLDER in steps


def test_cli_script_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main

    assert main(["script", "export", str(tmp_path)]) == 0
    assert (tmp_path / "INSTALL.md").exists() and "selftest" in capsys.readouterr().out
