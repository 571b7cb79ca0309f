"""The plotting library's import cost is paid only where a picture is drawn."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
from bot import cli
code = cli.main(["path", "10.2.0 CU5", "10.4"])
assert code == 0, code
drawn = sorted(name for name in sys.modules if name.split(".")[0] == "matplotlib")
print("MATPLOTLIB:", drawn[:3])
"""


def test_dm_upgrade_path_does_not_import_matplotlib() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert "MATPLOTLIB: []" in result.stdout, result.stdout[-500:]


def test_the_cli_and_the_bot_module_import_no_matplotlib() -> None:
    probe = ("import sys, bot.cli, bot.app, handlers.delivery.notifier, handlers.listeners.commands, "
             "bot.cli_timeline; "
             "print(any(n.split('.')[0] == 'matplotlib' for n in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
