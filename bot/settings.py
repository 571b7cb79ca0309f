"""Configuration from the environment (or a ``.env`` file); nothing is read at import time.

Every setting has a default that runs on a fresh machine: the console chat, the simulated DMS and an
SQLite file. The workflow's own settings are in ``workflow.settings``; this adds Slack, the HTTP port,
the database and logging. Secrets are ``SecretStr`` so they never reach a log line, an exception or a
Slack message.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator

from workflow.model.errors import ConfigError
from workflow.settings import WorkflowSettings


class Settings(WorkflowSettings):
    """All settings; build one with ``Settings()`` in a composition root, pass it down explicitly."""

    # Slack
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    port: int = Field(default=3000, ge=1, le=65535)

    # Database
    database_url: str = "sqlite:///dm-upgrade.db"

    # Logging
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"

    # The event loop (bot.event_loop): uvloop where it is installed, unless EVENT_LOOP=asyncio.
    event_loop: Literal["auto", "uvloop", "asyncio"] = "auto"

    # Operations endpoints (/healthz, /metrics). Closed by default: on PORT an anonymous caller learns only
    # "ok" or "unavailable"; the details (lease owners, DMS names and errors) need OPS_TOKEN as a bearer
    # token, or the listener of their own on OPS_HOST:OPS_PORT (none unless OPS_PORT is set; 0: any free
    # port). With OPS_TOKEN set, that listener asks for it too.
    ops_host: str = "127.0.0.1"
    ops_port: int | None = Field(default=None, ge=0, le=65535)
    ops_token: SecretStr | None = Field(default=None, min_length=16)
    # /healthz writes to the database at most once per this many seconds and answers from that in between,
    # so a flood of probes never competes with users' commands for the database.
    ops_db_check_seconds: float = Field(default=10.0, ge=0)

    @field_validator("ops_token", "ops_port", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value


def secret_value(value: Any) -> str | None:
    """A ``SecretStr`` setting's value, or None when it is not set."""
    return value.get_secret_value() if value is not None else None


def validate_tokens(settings: Settings) -> None:
    """Stop early, with one clear line, on tokens of the wrong kind (never printing them)."""
    # The app token first: an xoxb- token pasted into SLACK_APP_TOKEN is the likelier mistake to name.
    app_token = secret_value(settings.slack_app_token)
    if app_token is not None and not app_token.startswith("xapp-"):
        raise ConfigError("SLACK_APP_TOKEN is not an app-level token: it must start with xapp-")
    bot_token = secret_value(settings.slack_bot_token)
    if not bot_token:
        raise ConfigError("SLACK_BOT_TOKEN is not set (the Bot User OAuth Token, xoxb-...)")
    if not bot_token.startswith("xoxb-"):
        raise ConfigError("SLACK_BOT_TOKEN is not a bot token: it must start with xoxb-")
