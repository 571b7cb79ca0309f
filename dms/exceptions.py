"""Every error that ``dms`` raises, so callers can catch by meaning rather than by module.

    DmsError
    ├── VersionError            not a DataMiner version (the message quotes it, lists accepted forms)
    ├── CatalogError            the release catalog file is missing, unreadable or names a bad entry
    ├── PathError               no upgrade path: downgrade, same version, target not in the catalog
    ├── UpgradeTimeout          agents did not all reach the expected version by the deadline
    ├── UpgradeRefused          SLTaskbarUtility ended the upgrade with a non-zero exit code
    └── DmsApiError             anything that went wrong talking to a DMS (names agent and method)
        ├── DmsUnreachable      timeouts, connection errors and 5xx that outlived their retries
        ├── DmsAuthError        the DMS refused the credentials
        ├── DmsProtocolError    an answer that is not what the Web Services API v1 promises
        └── DmsScriptError      the upgrade Automation script reported a failure (e.g. a prerequisite check)
"""

from __future__ import annotations


class DmsError(Exception):
    """Base of everything ``dms`` raises on purpose."""


class VersionError(DmsError, ValueError):
    """Text that cannot be read as a DataMiner version."""


class CatalogError(DmsError):
    """The release catalog cannot be used."""


class PathError(DmsError):
    """No upgrade path exists between two versions under the documented rules."""


class DmsApiError(DmsError):
    """A call to a DMS failed; ``agent`` and ``method`` say where."""

    def __init__(self, message: str, *, agent: str | None = None, method: str | None = None) -> None:
        where = " ".join(part for part in (f"agent {agent}" if agent else "", method or "") if part)
        super().__init__(f"{message} ({where})" if where else message)
        self.agent = agent
        self.method = method


class DmsUnreachable(DmsApiError):
    """The agent did not answer (timeout, refused connection, HTTP 5xx) after the retries."""


class DmsAuthError(DmsApiError):
    """The agent refused the credentials."""


class DmsProtocolError(DmsApiError):
    """The agent answered something the API does not promise."""


class DmsScriptError(DmsApiError):
    """The upgrade Automation script ran and reported failure."""


class UpgradeTimeout(DmsError):
    """Agents did not all run the expected version by the deadline; ``agents`` holds their last state."""

    def __init__(self, message: str, *, agents: list[object] | None = None) -> None:
        super().__init__(message)
        self.agents = list(agents or [])


class UpgradeRefused(DmsError):
    """SLTaskbarUtility's ``-upgrade`` ended with a non-zero exit code: DataMiner refused the package (a
    prerequisite check failed when the upgrade started) or the upgrade failed. The codes' meanings are not
    documented, so the code is reported as it is; ``agents`` holds their last state."""

    def __init__(self, *, exit_code: int | None, package: str, agents: list[object] | None = None) -> None:
        super().__init__(f"SLTaskbarUtility -upgrade {package} exited with code {exit_code} (reported by "
                         "DataMiner; a non-zero code means the package was refused, e.g. by a prerequisite "
                         "check, or the upgrade failed: see the upgrade log on the orchestrating agent)")
        self.exit_code = exit_code
        self.agents = list(agents or [])
