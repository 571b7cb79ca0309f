"""Run the orchestrator script's own C# under mono: compiled once, from the XML that ships.

``compile_orchestrator()`` extracts the C# block from ``dms/data/DMUpgrade_Orchestrator.xml`` (so the tested
code is the shipped code) and compiles three assemblies with ``mcs``, as DataMiner's pieces are separate:

* ``DataMinerStub.dll`` from ``tests/dms/csharp/AutomationStub.cs``: the documented Automation API the
  script uses, nothing more;
* ``Script.dll``: the script alone, so it cannot reach the stub's internals, against that stub and the
  references its XML declares (plus the defaults DataMiner adds: System, System.Core, System.Xml), at C# 7.2
  (DataMiner compiles up to 7.3; mcs stops at 7.2);
* ``Harness.exe`` from ``tests/dms/csharp/Harness.cs``, which runs ``new Script().Run(engine)`` once.

The build is cached in the temp folder by a hash of every source and the compiler's version.
``OrchestratorScript.run(params)`` runs one action and returns a ``ScriptRun``: its outputs, the reason
``ExitFail`` was called with (or ``None``) and its log. ``FakeUtility`` installs the fake SLTaskbarUtility
(``tests/dms/csharp/fake_SLTaskbarUtility.py``) in a folder. The fixture ``orchestrator_csharp`` skips when
``mcs``/``mono`` are missing and fails instead when ``CI`` is set: CI installs them (.ci/run). A test module
takes it in with ``orchestrator_csharp = csharp_harness.orchestrator_csharp`` (an import of the name would
read as unused to ruff).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dms.orchestrator_script import assembly_references, csharp_code, declared_parameters

CSHARP_DIR = Path(__file__).resolve().parents[1] / "dms" / "csharp"
STUB = CSHARP_DIR / "AutomationStub.cs"
HARNESS = CSHARP_DIR / "Harness.cs"
FAKE_UTILITY = CSHARP_DIR / "fake_SLTaskbarUtility.py"
# Referenced by default in every C# block (Adding_CSharp_code_to_an_Automation_script.md); SLManagedAutomation
# and SLNetTypes are the stub.
DEFAULT_REFERENCES = ("System.dll", "System.Core.dll", "System.Xml.dll")
LANG_VERSION = "7.2"
RUN_TIMEOUT_S = 120.0  # selftest waits up to 60 s for the utility's -help


class CSharpBuildError(RuntimeError):
    """mcs refused a source; the message holds its diagnostics."""


@dataclass(frozen=True)
class ScriptRun:
    outputs: dict[str, str]
    exit_fail: str | None  # the reason of engine.ExitFail, None when the script did not call it
    log: list[str] = field(default_factory=list)
    slnet_messages: int = 0  # how many SLNet messages the script sent (the agents request)

    def __getitem__(self, key: str) -> str:
        return self.outputs[key]

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.outputs.get(key, default)


@dataclass(frozen=True)
class OrchestratorScript:
    """The compiled script; ``run`` is one Automation script call."""

    harness: Path
    mono: str
    parameters: Mapping[str, int]  # as the XML declares them: name -> ParameterId

    def run(self, params: Mapping[str, str], *, dms_agents: Iterable[int] = (1,),
            dms_agents_error: str | None = None, cwd: Path | None = None,
            timeout_s: float = RUN_TIMEOUT_S) -> ScriptRun:
        """Run the script with ``params`` (by name, as declared) on a DMS whose agents have ``dms_agents``
        as IDs (or whose agents request fails with ``dms_agents_error``). A script that throws anything but
        ExitFail's ScriptAbortException fails the test: DataMiner would report a crash, not an answer."""
        unknown = sorted(set(params) - set(self.parameters))
        if unknown:
            raise ValueError(f"the script declares no parameter {unknown}")
        with tempfile.TemporaryDirectory(prefix="dm-upgrade-run-") as scratch:
            out = Path(scratch) / "answer.json"
            args = [self.mono, str(self.harness), f"--out={out}"]
            args += [f"--param={self.parameters[name]}:{name}={value}" for name, value in params.items()]
            args += [f"--dms-agent={agent}" for agent in dms_agents]
            if dms_agents_error is not None:
                args.append(f"--dms-agents-error={dms_agents_error}")
            # Output to a file, not a pipe: the runner the script starts inherits these handles, and a pipe
            # would keep this call waiting until the (fake) utility ends.
            with open(Path(scratch) / "console.txt", "w+b") as console:
                done = subprocess.run(args, stdout=console, stderr=console, stdin=subprocess.DEVNULL,
                                      cwd=cwd or scratch, timeout=timeout_s, check=False)
                console.seek(0)
                printed = console.read().decode(errors="replace")
            if done.returncode != 0 or not out.exists():
                raise AssertionError(f"the harness failed ({done.returncode}): {printed}")
            answer: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        if answer["exception"]:
            raise AssertionError(f"the script threw instead of answering: {answer['exception']}")
        outputs = dict(answer["outputs"])
        if len(outputs) != len(answer["outputs"]):
            raise AssertionError(f"an output was added twice: {answer['outputs']}")
        return ScriptRun(outputs=outputs, exit_fail=answer["exit_fail"], log=list(answer["log"]),
                         slnet_messages=int(answer["slnet_messages"]))


# The Debian package of each reference the script declares beyond what mono-mcs brings.
REFERENCE_PACKAGES = {"System.IO.Compression.dll": "libmono-system-io-compression4.0-cil"}


def missing_tools() -> str | None:
    """Why the script cannot be compiled and run here, or ``None``."""
    absent = [tool for tool in ("mcs", "mono") if shutil.which(tool) is None]
    if absent:
        return f"{' and '.join(absent)} not installed (Debian: mono-mcs, mono-runtime)"
    # mcs finds a reference by name in <prefix>/lib/mono/4.5, beside mcs.exe (its wrapper is in <prefix>/bin).
    library = Path(shutil.which("mcs") or "mcs").resolve().parents[1] / "lib" / "mono" / "4.5"
    if library.is_dir():
        for reference in assembly_references():
            if not (library / reference).exists():
                package = REFERENCE_PACKAGES.get(reference, "the package that holds it")
                return f"{reference} not installed in {library} (Debian: {package})"
    return None


def _mcs(work: Path, args: list[str], what: str) -> None:
    done = subprocess.run(["mcs", *args], cwd=work, capture_output=True, text=True, check=False, timeout=300)
    if done.returncode != 0:
        raise CSharpBuildError(f"mcs could not compile {what}:\n{done.stdout}{done.stderr}")


def _fingerprint(sources: Mapping[str, str], references: list[str]) -> str:
    version = subprocess.run(["mcs", "--version"], capture_output=True, text=True, check=False).stdout
    digest = hashlib.sha256(version.encode())
    for name, text in sorted(sources.items()):
        digest.update(f"\0{name}\0{text}".encode())
    digest.update("\0".join(references).encode())
    return digest.hexdigest()[:24]


def compile_orchestrator(cache_root: Path | None = None) -> OrchestratorScript:
    """Compile the shipped script, the stub and the harness (or reuse an identical earlier build)."""
    sources = {"Script.cs": csharp_code(), "AutomationStub.cs": STUB.read_text(encoding="utf-8"),
               "Harness.cs": HARNESS.read_text(encoding="utf-8")}
    references = [*DEFAULT_REFERENCES, *assembly_references()]
    root = cache_root or Path(tempfile.gettempdir()) / "dm-upgrade-csharp"
    build = root / _fingerprint(sources, references)
    harness = build / "Harness.exe"
    if not harness.exists():
        root.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="build-", dir=root))
        try:
            for name, text in sources.items():
                (work / name).write_text(text, encoding="utf-8")
            lang = f"-langversion:{LANG_VERSION}"
            _mcs(work, [lang, "-target:library", "-out:DataMinerStub.dll", "AutomationStub.cs"], "the stub")
            _mcs(work, [lang, "-target:library", "-out:Script.dll", "-r:DataMinerStub.dll",
                  *(f"-r:{reference}" for reference in references), "Script.cs"], "the orchestrator script")
            _mcs(work, [lang, "-target:exe", "-out:Harness.exe", "-r:DataMinerStub.dll", "-r:Script.dll",
                  "Harness.cs"], "the harness")
            try:
                work.rename(build)  # whole or not at all: a concurrent session may have won
            except OSError:
                if not harness.exists():
                    raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return OrchestratorScript(harness=harness, mono=shutil.which("mono") or "mono",
                              parameters=declared_parameters())


_compile_once = functools.cache(compile_orchestrator)


@pytest.fixture(scope="session")
def orchestrator_csharp() -> OrchestratorScript:
    """The compiled orchestrator script; skipped without mono, except in CI (``CI`` set), where it fails."""
    why = missing_tools()
    if why is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the orchestrator script's C#: {why}; .ci/run installs them")
        pytest.skip(f"orchestrator C# not run: {why}")
    return _compile_once()


# ------------------------------------------------------------------------------------------- fake utility

@dataclass(frozen=True)
class FakeUtility:
    """The fake SLTaskbarUtility.exe in a folder, with its settings and its record of runs."""

    path: Path
    record: Path
    release: Path  # while held, the fake waits until this file exists

    @classmethod
    def install(cls, directory: Path, *, exit_code: int = 0, hold: bool = False, sleep_s: float = 0.0,
                max_wait_s: float = 30.0) -> FakeUtility:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "SLTaskbarUtility.exe"
        text = FAKE_UTILITY.read_text(encoding="utf-8")
        # The shebang names the interpreter running the tests, so the fake needs nothing else installed.
        path.write_text(text.replace("#!/usr/bin/env python3", f"#!{sys.executable}", 1), encoding="utf-8")
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        utility = cls(path=path, record=directory / "runs.jsonl", release=directory / "release")
        settings = {"record": str(utility.record), "exit_code": exit_code, "sleep_s": sleep_s,
                    "wait_for": str(utility.release) if hold else None, "max_wait_s": max_wait_s}
        path.with_name(path.name + ".json").write_text(json.dumps(settings), encoding="utf-8")
        return utility

    def runs(self) -> list[dict[str, Any]]:
        """One entry per time the utility was started: its ``args`` and the ``upgrade_info`` it was given."""
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text(encoding="utf-8").splitlines() if line]

    def let_go(self) -> None:
        self.release.touch()
