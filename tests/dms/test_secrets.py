"""The password never comes back out of a DMS's answer: every encoding is scrubbed, and the error shown is the
DMS's own error field, cut and cleaned (one line, no control characters), never the raw body."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr

from dms.caller import HttpCaller
from dms.client import DmsClient
from dms.exceptions import DmsApiError, DmsAuthError
from dms.secrets import MASK, dms_text, remember, scrub, scrub_known, secret_forms
from dms.wire import api_base
from tests.dms.echoing_dms import PASSWORDS, EchoingDms, Mode, encodings, leaks

USER = "svc-üpgrade"


@pytest.mark.parametrize("password", PASSWORDS)
def test_every_encoding_of_the_password_is_scrubbed(password: str) -> None:
    forms = encodings(password, user=USER)
    text = "before " + " | ".join(f"{name}={form}" for name, form in forms.items()) + " after"
    cleaned = scrub(text, SecretStr(password), user=USER)
    assert leaks(cleaned, password, user=USER) == []
    assert cleaned.startswith("before ") and cleaned.endswith(" after") and MASK in cleaned
    for form in forms.values():
        assert form in secret_forms(password, user=USER)


def test_scrubbing_leaves_other_text_alone() -> None:
    assert scrub("nothing to hide here", SecretStr("s3cret!"), user="bob") == "nothing to hide here"
    assert scrub("an empty password hides nothing", SecretStr("")) == "an empty password hides nothing"
    # The user name alone is not a secret; it stays readable.
    assert scrub("user bob refused", SecretStr("s3cret!"), user="bob") == "user bob refused"


def test_dms_text_is_one_clean_line_cut_after_scrubbing() -> None:
    secret = SecretStr("pw\"1")
    echoed = "first\r\nsecond\tthird\x00\x1b[31m " + 'pw\\"1 ' + "x" * 1000
    text = dms_text(echoed, secret, user="u", limit=80)
    assert "\n" not in text and "\r" not in text and "\x00" not in text and "\x1b" not in text
    assert text.startswith("first second third") and MASK in text and 'pw\\"1' not in text
    assert len(text) <= 80 and text.endswith("…")


def test_remembered_secrets_are_scrubbed_from_any_text() -> None:
    password = PASSWORDS[0]
    remember(SecretStr(password), user=USER)
    text = scrub_known(" ".join(encodings(password, user=USER).values()))
    assert leaks(text, password, user=USER) == []


@pytest.fixture
def echoing(request: pytest.FixtureRequest) -> Iterator[EchoingDms]:
    dms = EchoingDms(mode=getattr(request, "param", "fault"))
    dms.start()
    try:
        yield dms
    finally:
        dms.stop()


@pytest.mark.parametrize("echoing", ["fault", "connect_info"], indirect=True)
@pytest.mark.parametrize("password", PASSWORDS)
async def test_an_echoing_dms_over_http_never_gets_the_password_into_an_error(
    echoing: EchoingDms, password: str
) -> None:
    mode: Mode = echoing.mode
    with pytest.raises(DmsApiError) as caught:
        if mode == "connect_info":  # how each agent is logged into to read its version
            async with httpx.AsyncClient() as http:
                caller = HttpCaller(http=http, user=USER, password=SecretStr(password), retries=0,
                                    backoff_s=0, sleep=asyncio.sleep, max_response_bytes=1 << 20,
                                    client_app_name="t")
                await caller.connect_and_info(api_base(echoing.url), label="DMA1")
        else:
            async with DmsClient(url=echoing.url, user=USER, password=password, retries=0) as client:
                await client.connect()
    assert len(echoing.requests) == 1 and password in json.loads(echoing.requests[0])["password"]
    text = str(caught.value)
    assert leaks(text, password, user=USER) == [], text
    assert "\n" not in text and "\r" not in text and "\x00" not in text and "\x1b" not in text
    assert "Login failed for the request" in text  # the DMS's own error field, cleaned
    assert "StackTrace" not in text and "at Login(" not in text  # never the rest of the body
    assert len(text) < 700
    assert isinstance(caught.value, DmsAuthError)
