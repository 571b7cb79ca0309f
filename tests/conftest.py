"""Settings every test shares: hypothesis draws the same examples on every run in CI (``CI`` set), so a red
CI is a regression of the change, not a new draw; locally it keeps exploring (and keeps what it found in its
example database)."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
