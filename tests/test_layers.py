"""The house (design.md): arrows point down only and no module imports another that imports it back.

The layer and cycle contracts live in pyproject.toml ([tool.importlinter]); this runs them, imports under
``TYPE_CHECKING`` included (import-linter sees those too).
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "handlers", "workflow", "dms", "simulator")


def _imports_something(path: Path) -> bool:
    return any(isinstance(node, ast.Import)
               or (isinstance(node, ast.ImportFrom) and node.module != "__future__")
               for node in ast.walk(ast.parse(path.read_text())))


def test_every_facade_package_has_a_contract_against_cycles() -> None:
    """acyclic_siblings does not see a package's ``__init__``: one that imports the package's modules must
    be forbidden to them (``as_packages = false``), or a cycle through it would go unnoticed."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    guarded = {module for contract in config["contracts"] if contract["type"] == "forbidden"
               and contract.get("as_packages") is False for module in contract["forbidden_modules"]}
    facades = {".".join(path.parent.relative_to(ROOT).parts) for package in PACKAGES
               for path in sorted((ROOT / package).rglob("__init__.py")) if _imports_something(path)}
    assert facades - guarded == set()


def test_layer_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_modules_and_functions_stay_readable() -> None:
    """Modules of at most 400 lines, functions of at most 60 (Alembic migrations, which are generated
    DDL, excepted)."""
    too_long = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            source = path.read_text()
            name = path.relative_to(ROOT)
            if source.count("\n") > 400:
                too_long.append(f"{name}: {source.count(chr(10))} lines")
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    length = (node.end_lineno or node.lineno) - node.lineno + 1
                    if length > 60:
                        too_long.append(f"{name}:{node.lineno} {node.name}: {length} lines")
    assert too_long == []
