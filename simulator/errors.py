"""Errors the simulated DMS answers the ASMX way.

HTTP 500 with ``{"Message", "ExceptionType", "StackTrace"}``.

The messages follow what a DataMiner agent says, so a client classifies them the same way:

* unknown or expired connection id: the message contains "No connection available";
* refused credentials (``ConnectApp``/``ConnectAppAndInfo``): "Authentication failed: ...", without
  echoing the password;
* a failing prerequisite check of the upgrade script: starts with ``PREREQUISITE_FAILED_PREFIX``;
* other script failures: "Automation script DMUpgrade_Orchestrator failed: ...";
* an unknown method: "Unknown web method X." (``System.ArgumentException``, as ASMX says it);
* a missing parameter: "Invalid web service call, missing value for parameter: 'x'.".
"""

from __future__ import annotations

from typing import Any

_DMA_EXCEPTION = "Skyline.DataMiner.Web.Common.v1.DMAException"
_SECURITY_EXCEPTION = "Skyline.DataMiner.Net.Exceptions.DataMinerSecurityException"


class AsmxFault(Exception):
    """One error answer; ``to_json`` is the body the server sends with HTTP 500."""

    def __init__(self, message: str, *, exception_type: str = _DMA_EXCEPTION) -> None:
        super().__init__(message)
        self.message = message
        self.exception_type = exception_type

    def to_json(self) -> dict[str, Any]:
        return {"Message": self.message, "ExceptionType": self.exception_type, "StackTrace": ""}


class AuthenticationFailed(AsmxFault):
    def __init__(self) -> None:
        super().__init__(
            "Authentication failed: the user name or password is incorrect.",
            exception_type=_SECURITY_EXCEPTION,
        )


class NoConnection(AsmxFault):
    def __init__(self, reason: str) -> None:
        super().__init__(f"No connection available: {reason}. Connect again.")


class BadRequest(AsmxFault):
    """The call itself is wrong: unknown method, missing or malformed parameter."""

    def __init__(self, message: str, *, exception_type: str = "System.InvalidOperationException") -> None:
        super().__init__(message, exception_type=exception_type)


class ScriptFailed(AsmxFault):
    """The Automation script ran (or refused to) and reported failure."""
