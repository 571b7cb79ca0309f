"""Pre-upgrade checks and post-upgrade verification, in one import for callers.

The work lives in ``dms.prechecks`` (checks before the window, the baseline) and ``dms.verification``
(checks after the last hop, against that baseline).
"""

from __future__ import annotations

from dms.models import Baseline, CheckResult, CheckStatus
from dms.prechecks import PrecheckReport, run_prechecks
from dms.verification import run_verification

__all__ = ["Baseline", "CheckResult", "CheckStatus", "PrecheckReport", "run_prechecks", "run_verification"]
