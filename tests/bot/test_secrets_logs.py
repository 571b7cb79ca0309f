"""The log filter and the startup message hide a DMS password in every form it can take, in the message, its
arguments and a traceback, in both log formats: the last line of defence behind the DMS client's scrubbing."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from bot.logs import redact, setup_logging
from dms.secrets import remember
from tests.dms.echoing_dms import PASSWORDS, encodings, leaks

USER = "svc-logs"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)


@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize("password", PASSWORDS)
def test_a_remembered_password_never_reaches_a_log_line(
    password: str, fmt: str, restore_logging: None
) -> None:
    remember(SecretStr(password), user=USER)
    stream = io.StringIO()
    setup_logging(level="DEBUG", fmt=fmt, stream=stream)
    forms = " | ".join(encodings(password, user=USER).values())
    log = logging.getLogger("tests.secrets")
    log.warning("the DMS said: %s", forms)
    log.info(f'login {{"password": "{forms}"}}')
    try:
        raise RuntimeError(f"echoed: {forms}")
    except RuntimeError:
        log.exception("failed with %r", forms)
    text = stream.getvalue()
    assert text.count("**********") >= 3
    assert leaks(text, password, user=USER) == [], text


def test_startup_messages_are_redacted_the_same_way() -> None:
    password = PASSWORDS[1]
    remember(password, user=USER)
    assert leaks(redact(" ".join(encodings(password, user=USER).values())), password, user=USER) == []
