"""What every test shares. Hypothesis draws the same examples on every run in CI (``CI`` set), so a red
CI is a regression of the change, not a new draw; locally it keeps exploring (and keeps what it found in its
example database)."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

from dms import secrets

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(autouse=True)
def _forget_remembered_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no password remembered by the log and CLI scrubber (``dms.secrets``): a test's
    client with the password "p" must not mask every "p" in a later test's output (as it once masked
    "unable to open database file" into "unable to o****en ..." when tests/dms ran before tests/bot)."""
    monkeypatch.setattr(secrets, "_REMEMBERED", secrets._Remembered())
