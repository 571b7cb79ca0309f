"""manifest.yml is a valid Socket Mode app manifest and agrees with what the code uses."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from handlers.ids import (
    BOT_SCOPES,
    CHECKLIST_ACTION_PATTERN,
    MAX_ID_LENGTH,
    SLASH_COMMAND,
    USAGE,
    ActionId,
    BlockId,
    CallbackId,
    checklist_action_id,
    checklist_block_id,
    checklist_phase,
)

MANIFEST = Path(__file__).resolve().parent.parent / "manifest.yml"


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    loaded = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_top_level_structure(manifest: dict[str, Any]) -> None:
    assert manifest["_metadata"]["major_version"] == 1
    assert set(manifest) >= {"_metadata", "display_information", "features", "oauth_config", "settings"}
    info = manifest["display_information"]
    # Slack's limits: name 35 characters, description 140, long description 175-4000.
    assert 0 < len(info["name"]) <= 35 and 0 < len(info["description"]) <= 140
    assert 175 <= len(info["long_description"]) <= 4000
    assert re.fullmatch(r"#[0-9a-fA-F]{6}", info["background_color"])
    assert 0 < len(manifest["features"]["bot_user"]["display_name"]) <= 80


def test_socket_mode_settings(manifest: dict[str, Any]) -> None:
    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is True
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["org_deploy_enabled"] is False and settings["token_rotation_enabled"] is False
    # Socket Mode needs no public URLs; they belong to HTTP mode only (shown in comments).
    assert "request_url" not in settings["interactivity"]
    assert all("url" not in command for command in manifest["features"]["slash_commands"])
    text = MANIFEST.read_text(encoding="utf-8")
    assert "request_url: https://<host>/slack/events" in text
    assert "url: https://<host>/slack/events" in text and "socket_mode_enabled: false" in text


def test_slash_command_matches_the_code(manifest: dict[str, Any]) -> None:
    commands = manifest["features"]["slash_commands"]
    assert [c["command"] for c in commands] == [SLASH_COMMAND]
    command = commands[0]
    assert command["usage_hint"] == USAGE
    assert len(command["command"]) <= 32 and len(command["usage_hint"]) <= 1000
    assert 0 < len(command["description"]) <= 2000


def test_bot_scopes_match_the_code(manifest: dict[str, Any]) -> None:
    scopes = manifest["oauth_config"]["scopes"]["bot"]
    assert sorted(scopes) == sorted(BOT_SCOPES)
    assert len(scopes) == len(set(scopes))


def test_ids_are_short_unique_and_within_slack_limits() -> None:
    for enum in (ActionId, BlockId, CallbackId):
        values = [member.value for member in enum]
        assert len(values) == len(set(values)), enum
        assert all(0 < len(v) <= 64 < MAX_ID_LENGTH for v in values)
    assert checklist_phase(checklist_action_id("pre-upgrade")) == "pre-upgrade"
    assert CHECKLIST_ACTION_PATTERN.match(checklist_block_id("post_upgrade"))
    assert not CHECKLIST_ACTION_PATTERN.match(ActionId.APPROVE)
    for bad in ("", "Has Space", "x" * 65):
        with pytest.raises(ValueError):
            checklist_action_id(bad)
    with pytest.raises(ValueError):
        checklist_phase("plan.window")


def test_the_bot_can_post_in_public_channels_it_was_not_invited_to(manifest: dict[str, Any]) -> None:
    # /dm-upgrade is typed in any channel; without chat:write.public the plan message fails not_in_channel.
    assert "chat:write.public" in manifest["oauth_config"]["scopes"]["bot"]


def test_the_home_tab_is_enabled_and_its_event_subscribed(manifest: dict[str, Any]) -> None:
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == ["app_home_opened"]
    assert "request_url" not in manifest["settings"]["event_subscriptions"]  # Socket Mode: no URL


def test_the_timeline_upload_has_its_scope(manifest: dict[str, Any]) -> None:
    assert "files:write" in manifest["oauth_config"]["scopes"]["bot"]
