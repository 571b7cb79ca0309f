"""Configuration errors at startup: one line on stderr and exit code 2, never a traceback.

Shared by ``dm-upgrade run`` and the console, which both load the settings and start the bot.
"""

from __future__ import annotations

import sys
from typing import TextIO

from pydantic import ValidationError

from bot.logs import redact
from bot.settings import Settings
from workflow.model.errors import ConfigError

CONFIG_EXIT = 2


def validation_message(exc: ValidationError) -> str:
    """One line naming each bad setting as its environment variable; never echoes the value given."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ())).upper() or "settings"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "invalid settings: " + "; ".join(parts)


def startup_error(exc: BaseException) -> ConfigError | None:
    """The configuration error behind an exception raised while starting, or None for a real bug.

    Settings are validated early, but some are only tried at startup: the simulated DMS's parameters and
    the database URL. Messages pass through ``redact`` and keep to the first line (no traceback, no URL
    password: SQLAlchemy hides it in its messages, the redaction is a second guard).
    """
    from sqlalchemy.exc import ArgumentError, OperationalError

    if isinstance(exc, ConfigError):
        return exc
    if isinstance(exc, ValidationError):
        what = {"SimulatorConfig": "simulated DMS (SIM_*)"}.get(exc.title, exc.title)
        return ConfigError(f"invalid {what} settings: " + validation_message(exc).split(": ", 1)[1])
    if isinstance(exc, OperationalError | ArgumentError):
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return ConfigError(f"the database (DATABASE_URL) cannot be used: {redact(detail)}")
    return None


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigError(validation_message(exc)) from None


def fail(message: str, *, stream: TextIO | None = None) -> int:
    print(f"dm-upgrade: {message}", file=stream or sys.stderr)
    return CONFIG_EXIT
