#!/usr/bin/env python3
"""A stand-in for SLTaskbarUtility.exe in the orchestrator script's tests under mono.

Tests copy it to ``<dir>/SLTaskbarUtility.exe`` (executable) and pass that path as ``TaskbarUtilityPath``.
Configured by ``<that path>.json`` beside it::

    {"record": "<file>", "exit_code": 0, "sleep_s": 0, "wait_for": "<file or null>", "max_wait_s": 30}

Each run appends one JSON line to ``record``: its arguments and, for ``-upgrade <package> <info>``, a copy of
the UpgradeInfo.xml it was given. It then waits until ``wait_for`` exists (at most ``max_wait_s``, so a test
that forgets to let it go leaves no process behind for long), sleeps ``sleep_s`` and exits with ``exit_code``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def main() -> int:
    me = Path(__file__)
    settings_file = me.with_name(me.name + ".json")
    config = json.loads(settings_file.read_text(encoding="utf-8")) if settings_file.exists() else {}
    args = sys.argv[1:]
    entry: dict[str, object] = {"args": args, "pid": os.getpid(), "upgrade_info": None}
    if len(args) >= 3 and args[0] == "-upgrade" and Path(args[2]).is_file():
        entry["upgrade_info"] = Path(args[2]).read_text(encoding="utf-8")
    record = config.get("record")
    if record:
        with open(record, "a", encoding="utf-8") as out:
            out.write(json.dumps(entry) + "\n")
    wait_for = config.get("wait_for")
    if wait_for:
        deadline = time.monotonic() + float(config.get("max_wait_s", 30))
        while not Path(wait_for).exists() and time.monotonic() < deadline:
            time.sleep(0.01)  # the fake's own pacing while it plays a long upgrade, not a test's wait
    time.sleep(float(config.get("sleep_s", 0)))
    return int(config.get("exit_code", 0))


if __name__ == "__main__":
    sys.exit(main())
