from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import Settings
from tests.support.store_helpers import fresh_engine
from workflow.model.errors import ConfigError, NotFound
from workflow.store.database import session
from workflow.targets import DEFAULT_TARGET, get_target, load_targets, parse_targets, sync_targets

GOOD = """
[[targets]]
name = "prod"
url = "https://dma01.example.net/"
driver = "watch"
user_env = "PROD_USER"
password_env = "PROD_PASSWORD"
key_elements = ["Encoder 1", "Mux A"]
key_checks = ["Playout of channel 1"]

[[targets]]
name = "lab"
url = "simulated"
"""


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_default_target_from_dms_url() -> None:
    targets = load_targets(_settings(dms_url="https://dma.example.net/", dms_user="ops"))
    target = targets[DEFAULT_TARGET]
    assert target.url == "https://dma.example.net" and target.user == "ops" and not target.simulated
    assert load_targets(_settings())[DEFAULT_TARGET].simulated


def test_file_with_credentials_from_environment(tmp_path: Path) -> None:
    path = tmp_path / "targets.toml"
    path.write_text(GOOD, encoding="utf-8")
    targets = load_targets(
        _settings(dms_targets_file=path, dms_user="fallback"),
        environ={"PROD_USER": "svc", "PROD_PASSWORD": "s3cret-value"},
    )
    assert list(targets) == ["prod", "lab"]
    prod = targets["prod"]
    assert (prod.url, prod.driver, prod.user) == ("https://dma01.example.net", "watch", "svc")
    assert prod.password.get_secret_value() == "s3cret-value"
    assert "s3cret-value" not in repr(prod)
    assert prod.key_elements == ("Encoder 1", "Mux A") and prod.key_checks == ("Playout of channel 1",)
    assert targets["lab"].user == "fallback" and targets["lab"].simulated


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("targets = [", "not valid TOML"),
        ("", "targets: Field required"),
        ('[[targets]]\nname = "a"\n', "url"),
        ('[[targets]]\nname = "a"\nurl = "ftp://x"\n', r"not an http\(s\) URL"),
        ('[[targets]]\nname = "bad name"\nurl = "simulated"\n', "name"),
        ('[[targets]]\nname = "a"\nurl = "simulated"\ndriver = "magic"\n', "driver"),
        ('[[targets]]\nname = "a"\nurl = "simulated"\npassword = "x"\n', "Extra inputs"),
        ('[[targets]]\nname = "a"\nurl = "simulated"\nkey_checks = ["x", "x"]\n', "unique"),
        ('[[targets]]\nname = "a"\nurl = "simulated"\n[[targets]]\nname = "a"\nurl = "simulated"\n', "twice"),
        ('[[targets]]\nname = "a"\nurl = "simulated"\npassword_env = "MISSING_PW"\n', "MISSING_PW"),
        ('[[targets]]\nname = "a"\nurl = "simulated"\nsim_version = "ten"\n', "sim_version"),
        ('[[targets]]\nname = "a"\nurl = "simulated"\nmaintenance = ["Tue 22h"]\n',
         "maintenance: Value error, 'Tue 22h' is not a maintenance slot"),
        ('[[targets]]\nname = "a"\nurl = "https://dma.example"\nsim_version = "10.4.0 CU3"\n',
         "sim_version is only for url = 'simulated'"),
    ],
)
def test_bad_files_give_clear_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        parse_targets(text, settings=_settings(), environ={}, source="targets.toml")
    assert "targets.toml" in str(info.value) or "MISSING_PW" in str(info.value)


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_targets(_settings(dms_targets_file=Path("/nonexistent/targets.toml")))


def test_sync_stores_targets_without_secrets(tmp_path: Path) -> None:
    engine = fresh_engine(tmp_path)
    targets = parse_targets(GOOD, settings=_settings(), environ={"PROD_USER": "u", "PROD_PASSWORD": "pw"})
    with session(engine) as s:
        sync_targets(s, targets=targets)
        sync_targets(s, targets=targets)  # again: an update, not a duplicate
    with session(engine) as s:
        row = get_target(s, name="prod")
        assert row.key_elements == ["Encoder 1", "Mux A"] and row.driver == "watch"
        with pytest.raises(NotFound, match="known: lab, prod"):
            get_target(s, name="nope")
