"""The client limits are settings: DMS_MAX_AGENTS, DMS_AGENT_ALLOW, DMS_ALLOW_PLAIN_HTTP, and
DMS_PACKAGE_FOLDER for the package files; each reaches the client or driver the bot builds."""

from __future__ import annotations

import pytest

from bot.cli_check import make_client
from bot.settings import Settings
from dms.drivers import ScriptDriver, make_driver


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, dms_password="pw", **values)  # type: ignore[arg-type]


def test_limit_settings_reach_the_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DMS_AGENT_ALLOW", "10.1.2.0/24, dma9.example")
    monkeypatch.setenv("DMS_MAX_AGENTS", "12")
    client = make_client(settings(dms_url="https://10.1.2.3"))
    assert client.max_agents == 12
    assert client._agents.allow.allows("dma9.example") and not client._agents.allow.allows("10.1.3.1")


def test_plain_http_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="DMS_ALLOW_PLAIN_HTTP"):
        make_client(settings(dms_url="http://10.1.2.3"))
    monkeypatch.setenv("DMS_ALLOW_PLAIN_HTTP", "true")
    assert make_client(settings(dms_url="http://10.1.2.3")).url == "http://10.1.2.3"


def test_package_folder_setting_reaches_the_script_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DMS_PACKAGE_FOLDER", r"E:\upgrades")
    value = settings(dms_url="https://10.1.2.3")
    driver = make_driver("script", client=make_client(value), package_folder=value.dms_package_folder)
    assert isinstance(driver, ScriptDriver) and driver.package_folder == r"E:\upgrades"
