"""Named DMS targets: ``default`` from DMS_URL, or several from the TOML file DMS_TARGETS_FILE.

    [[targets]]
    name = "production"
    url = "https://dma01.example.net"
    driver = "script"                      # optional: "script" or "watch" (default: DMS_DRIVER)
    user_env = "PROD_DMS_USER"             # optional: env var holding the user (default: DMS_USER)
    password_env = "PROD_DMS_PASSWORD"     # optional: env var holding the password (default: DMS_PASSWORD)
    key_elements = ["Encoder 1", "Mux A"]  # elements that must be active before and after
    key_checks = ["Playout of channel 1"]  # free-text key functionalities, checked by a person
    maintenance = ["Tue 22:00-02:00"]      # optional: weekly UTC slots a campaign proposes windows in

    [[targets]]
    name = "staging"
    url = "simulated"                      # a simulated DMS of its own, started by the bot
    sim_version = "10.4.0 CU3"             # optional, only for "simulated": its version (default SIM_VERSION)

Credentials never live in the file, only the names of the environment variables that hold them, and
errors name the variable, never its value.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from sqlmodel import Session, select

from dms.versions import parse_version
from workflow.model.calendar import MaintenanceSlot, parse_slot
from workflow.model.clock import utc_now
from workflow.model.errors import ConfigError, NotFound
from workflow.settings import SIMULATED, WorkflowSettings
from workflow.store.tables import DmsTarget

DEFAULT_TARGET = "default"
_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"


class TargetConfig(BaseModel):
    """One DMS the bot can plan for; credentials already resolved from the environment."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(pattern=_NAME_PATTERN)
    url: str
    driver: Literal["script", "watch"] | None = None
    user: str
    password: SecretStr
    key_elements: tuple[str, ...] = ()
    key_checks: tuple[str, ...] = ()
    sim_version: str | None = None  # a simulated target's own version (None: SIM_VERSION)
    maintenance: tuple[str, ...] = ()  # weekly UTC slots ("Tue 22:00-02:00"), checked when read

    @property
    def slots(self) -> tuple[MaintenanceSlot, ...]:
        return tuple(parse_slot(text) for text in self.maintenance)

    @property
    def simulated(self) -> bool:
        return self.url.strip().lower() == SIMULATED


class _FileEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=_NAME_PATTERN)
    url: str
    driver: Literal["script", "watch"] | None = None
    user_env: str | None = None
    password_env: str | None = None
    key_elements: list[str] = []
    key_checks: list[str] = []
    sim_version: str | None = Field(default=None, max_length=40)
    maintenance: list[str] = Field(default=[], max_length=21)

    @field_validator("maintenance")
    @classmethod
    def _slots(cls, value: list[str]) -> list[str]:
        for text in value:
            parse_slot(text)  # a ValueError says the form expected
        return [text.strip() for text in value]

    @field_validator("sim_version")
    @classmethod
    def _version(cls, value: str | None) -> str | None:
        if value is not None:
            parse_version(value)  # a VersionError is a ValueError: reported with the forms accepted
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        value = value.strip()
        if value.lower() == SIMULATED:
            return SIMULATED
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http(s) URL (or 'simulated')")
        return value.rstrip("/")

    @field_validator("key_elements", "key_checks")
    @classmethod
    def _texts(cls, value: list[str]) -> list[str]:
        cleaned = [item.strip() for item in value]
        if any(not item for item in cleaned):
            raise ValueError("entries must not be empty")
        if len(set(cleaned)) != len(cleaned):
            raise ValueError("entries must be unique")
        return cleaned


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    targets: list[_FileEntry] = Field(min_length=1)


def _env(environ: Mapping[str, str], variable: str, *, target: str, what: str) -> str:
    value = environ.get(variable)
    if value is None or value == "":
        raise ConfigError(f"DMS target {target!r}: environment variable {variable} ({what}) is not set")
    return value


def parse_targets(
    text: str, *, settings: WorkflowSettings, environ: Mapping[str, str] | None = None, source: str = "<text>"
) -> list[TargetConfig]:
    """Read and validate a targets file's text; every problem is a ConfigError naming ``source``."""
    env = os.environ if environ is None else environ
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    try:
        parsed = _File.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise ConfigError(f"{source}: {problems}") from None
    seen: set[str] = set()
    targets: list[TargetConfig] = []
    for entry in parsed.targets:
        if entry.name in seen:
            raise ConfigError(f"{source}: DMS target name {entry.name!r} appears twice")
        seen.add(entry.name)
        if entry.sim_version is not None and entry.url != SIMULATED:
            raise ConfigError(f"{source}: DMS target {entry.name!r}: sim_version is only for url = "
                              f"'simulated' (a real DMS runs the version it runs)")
        user = (
            _env(env, entry.user_env, target=entry.name, what="user")
            if entry.user_env
            else settings.dms_user
        )
        password = (
            SecretStr(_env(env, entry.password_env, target=entry.name, what="password"))
            if entry.password_env
            else settings.dms_password
        )
        targets.append(
            TargetConfig(
                name=entry.name,
                url=entry.url,
                driver=entry.driver,
                user=user,
                password=password,
                key_elements=tuple(entry.key_elements),
                key_checks=tuple(entry.key_checks),
                sim_version=entry.sim_version,
                maintenance=tuple(entry.maintenance),
            )
        )
    return targets


def load_targets(
    settings: WorkflowSettings, *, environ: Mapping[str, str] | None = None
) -> dict[str, TargetConfig]:
    """The configured targets by name: the file's when DMS_TARGETS_FILE is set, else ``default``."""
    targets = _read_targets(settings, environ=environ)
    for name, target in targets.items():
        # aiohttp refuses a URL with user:password@ (a ValueError, a traceback): say what to do instead.
        parts = urlsplit(target.url)
        if parts.username is not None or parts.password is not None:
            raise ConfigError(f"DMS {name!r}: the URL must not contain a user or password; give them as "
                              "DMS_USER and DMS_PASSWORD (or the variables named in the targets file)")
    return targets


def _read_targets(
    settings: WorkflowSettings, *, environ: Mapping[str, str] | None = None
) -> dict[str, TargetConfig]:
    path: Path | None = settings.dms_targets_file
    if path is None:
        default = TargetConfig(
            name=DEFAULT_TARGET,
            url=settings.dms_url.strip().rstrip("/"),
            driver=settings.dms_driver,
            user=settings.dms_user,
            password=settings.dms_password,
        )
        return {DEFAULT_TARGET: default}
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"DMS_TARGETS_FILE {path}: cannot read it ({exc.strerror or exc})") from None
    targets = parse_targets(text, settings=settings, environ=environ, source=str(path))
    return {target.name: target for target in targets}


def sync_targets(session: Session, *, targets: Sequence[TargetConfig]) -> None:
    """Store the configured targets (without credentials) so plans and reports can name them."""
    for target in targets:
        row = session.get(DmsTarget, target.name) or DmsTarget(name=target.name, url=target.url)
        row.url = target.url
        row.driver = target.driver
        row.key_elements = list(target.key_elements)
        row.key_checks = list(target.key_checks)
        row.updated_at = utc_now()
        session.add(row)
    session.flush()


def get_target(session: Session, *, name: str) -> DmsTarget:
    row = session.get(DmsTarget, name)
    if row is None:
        known = ", ".join(session.exec(select(DmsTarget.name)).all()) or "none"
        raise NotFound(f"There is no DMS target named {name!r} (known: {known})")
    return row
