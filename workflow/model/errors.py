"""Every error the application layer raises on purpose, so callers catch by meaning.

    BotError
    ├── ConfigError             settings or the DMS targets file cannot be used (names the file/field)
    └── UserError               the message is safe to show to the person who asked (no secrets, no SQL)
        ├── DatabaseBusy        the database is locked, read-only or unreachable now: nothing changed
        ├── NotFound            no such plan / checklist item / target
        ├── IllegalTransition   the state machine does not allow this move (names from, to and the plan)
        ├── NotAuthorized       the actor may not do this (not an approver, own upgrade)
        ├── RuleViolation       the action breaks a workflow rule (outside the window, pre-check not
        │                       passed, open required items, ticking an automatic item by hand)
        ├── AlreadyDecided      another approver decided first (carries who, what and when)
        └── ActiveUpgradeExists the DMS already has an active plan (carries its id and state)
"""

from __future__ import annotations

from datetime import datetime


class BotError(Exception):
    """Base of everything ``bot`` raises on purpose."""


class ConfigError(BotError):
    """A setting or the targets file is wrong; the message says which and why (never a secret's value)."""


class UserError(BotError):
    """An error whose message can be shown as-is to the user who triggered it."""

    @property
    def message(self) -> str:
        return str(self)


class DatabaseBusy(UserError):
    """The database is locked by another process, read-only or unreachable right now, and the unit of
    work was rolled back. The message is what a Slack user sees; the SQL error itself only reaches the log.
    The execution loop waits and resumes from the database instead of failing the plan."""

    def __init__(self) -> None:
        super().__init__("The bot's database is busy; try again in a moment.")


class NotFound(UserError):
    """The plan, item or target does not exist."""


class IllegalTransition(UserError):
    """A state change that the state machine does not allow."""

    def __init__(self, *, plan_id: int, from_state: str, to_state: str, detail: str = "") -> None:
        text = f"Plan #{plan_id} cannot go from {from_state} to {to_state}"
        super().__init__(f"{text}: {detail}" if detail else text)
        self.plan_id = plan_id
        self.from_state = from_state
        self.to_state = to_state


class NotAuthorized(UserError):
    """The actor is not allowed to do this."""


class RuleViolation(UserError):
    """The action breaks a workflow rule; ``reasons`` lists every rule that refused, one line each."""

    def __init__(self, message: str, *, reasons: list[str] | None = None) -> None:
        super().__init__(message)
        self.reasons = list(reasons or [message])


class AlreadyDecided(UserError):
    """Somebody decided on this plan's approval first."""

    def __init__(self, *, plan_id: int, decided_by: str, decision: str, decided_at: datetime) -> None:
        when = decided_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        super().__init__(f"Plan #{plan_id} was already {decision} by {decided_by} at {when}")
        self.plan_id = plan_id
        self.decided_by = decided_by
        self.decision = decision
        self.decided_at = decided_at


class ActiveUpgradeExists(UserError):
    """One active upgrade per DMS: this DMS already has one."""

    def __init__(self, *, dms_name: str, plan_id: int, state: str) -> None:
        super().__init__(
            f"DMS {dms_name!r} already has an active upgrade: plan #{plan_id} ({state}). "
            "Cancel it or let it finish first."
        )
        self.dms_name = dms_name
        self.plan_id = plan_id
        self.state = state
