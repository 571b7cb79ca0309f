"""Configuration from the environment (or a ``.env`` file); nothing is read at import time.

Every setting has a default that runs on a fresh machine: the console chat, the simulated DMS and an
SQLite file. The workflow's own settings are in ``workflow.settings``; this adds Slack, the HTTP port,
the database and logging. Secrets are ``SecretStr`` so they never reach a log line, an exception or a
Slack message.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

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
