"""Whether Slack's Web API answers, asked in the background, so that no request ever waits for it.

Bolt's single-workspace authorization calls ``auth.test`` on the first request, before any listener can ack.
Behind a blocked egress (or a proxy that swallows the connection) that call hangs for the client's timeout
and its retries, Slack gives up on the request after 3 seconds, and nothing is logged. So the Bolt app
authorizes every request from what is known already (``SlackAuthorize``: the token, and the bot's identity
once a check has told it), and ``SlackCheck`` calls ``auth.test`` at start and, until Slack answers, again
with backoff while the bot serves. It logs once when Slack cannot be reached (and once when it answers
again), not at every attempt; ``/healthz`` shows the last answer beside the DMS's and the database's.

A token Slack refuses (``invalid_auth``, ``token_revoked`` ...) is logged as an error once and reported; the
bot keeps serving, as it does for an unreachable DMS: a restart would not fix the token.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.async_authorize import AsyncAuthorize
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from workflow.model.clock import utc_now

log = logging.getLogger(__name__)

# Read at each attempt (tests shorten them). One attempt is bounded well below the client's own timeout and
# retries, which are made for messages that must not be lost, not for a question asked again anyway.
CHECK_TIMEOUT_S = 10.0
FIRST_RETRY_S = 1.0
MAX_RETRY_S = 300.0
# Once Slack answered, it is asked again this often, so /healthz does not report a stale "reachable".
RECHECK_S = 300.0
REFUSED = frozenset({"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive",
                     "missing_scope", "not_allowed_token_type"})


@dataclass(frozen=True)
class SlackReachability:
    reachable: bool | None  # None: not asked yet
    checked_at: datetime | None = None
    error: str | None = None  # why not reachable, or the token Slack refused

    def as_json(self) -> dict[str, Any]:
        return {"reachable": self.reachable,
                "checked_at": self.checked_at.isoformat() if self.checked_at else None,
                "error": self.error}


class SlackCheck:
    """``auth.test`` in the background: ``status()`` is the last answer, ``identity`` what Slack said the bot
    is (None until it answered), ``attempts`` how many times it was asked."""

    def __init__(self, web_client: AsyncWebClient, *, api_url: str) -> None:
        self._client = web_client
        self._api_url = api_url
        self._status = SlackReachability(None)
        self.identity: dict[str, Any] | None = None
        self.attempts = 0

    def status(self) -> SlackReachability:
        return self._status

    async def run(self) -> None:
        """Ask until cancelled: soon again while Slack does not answer, rarely once it does."""
        wait = FIRST_RETRY_S
        while True:
            if await self.check():
                wait = FIRST_RETRY_S
                await asyncio.sleep(RECHECK_S)
            else:
                await asyncio.sleep(wait)
                wait = min(MAX_RETRY_S, wait * 2)

    async def check(self) -> bool:
        """Ask once; True when Slack answered (whether or not it took the token)."""
        self.attempts += 1
        was = self._status
        try:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancel that arrives as the
            # answer does, and the stopped check then slept on for five minutes, holding the shutdown.
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                answer = await self._client.auth_test()
        except SlackApiError as exc:
            return self._answered_with_error(exc, was=was)
        except TimeoutError:
            self._unreachable(f"no answer within {CHECK_TIMEOUT_S:g}s", was=was)
            return False
        except Exception as exc:  # refused, reset, DNS, TLS, a proxy's garbage: all "cannot be reached"
            self._unreachable(f"{type(exc).__name__}: {exc}".strip().rstrip(":")[:200], was=was)
            return False
        self.identity = dict(answer.data) if isinstance(answer.data, dict) else {}
        self._status = SlackReachability(True, utc_now())
        if was.reachable is False or was.error is not None:
            log.info("Slack's Web API answers again (bot %s in %s)", self.identity.get("user"),
                     self.identity.get("team"))
        elif was.reachable is None:
            log.info("Slack's Web API answers: the bot is %s in %s", self.identity.get("user"),
                     self.identity.get("team"))
        return True

    def _unreachable(self, why: str, *, was: SlackReachability) -> None:
        self._status = SlackReachability(False, utc_now(), why)
        if was.reachable is not False:
            log.warning("Slack's Web API cannot be reached at %s (%s); serving anyway (acks need no Web API "
                        "call) and trying again in the background", self._api_url, why)

    def _answered_with_error(self, exc: SlackApiError, *, was: SlackReachability) -> bool:
        response = exc.response
        status = int(getattr(response, "status_code", 200) or 200)
        data = getattr(response, "data", None)
        code = str(data.get("error", "unknown")) if isinstance(data, dict) else f"HTTP {status}"
        if status >= 500 or status == 429:  # Slack's side (or a gateway) cannot answer now: ask again soon
            self._unreachable(code, was=was)
            return False
        self._status = SlackReachability(True, utc_now(), f"Slack refused the bot token: {code}"
                                         if code in REFUSED else f"auth.test answered {code}")
        if was.error != self._status.error:
            log.error("Slack answers but refused the bot token (%s): check SLACK_BOT_TOKEN; the bot serves, "
                      "and its messages wait in the outbox until Slack takes them", code)
        return True


class SlackAuthorize(AsyncAuthorize):
    """Bolt's ``authorize``: the bot token, and who the bot is once a check told it, with no call to Slack.

    Bolt's own single-workspace authorization would call ``auth.test`` before the ack. Until the background
    check has an answer, the bot's own user and bot id are unknown: Bolt then cannot skip the bot's own
    events, which this app does not subscribe to anyway (commands, actions, views and App Home only)."""

    def __init__(self, *, token: str, check: SlackCheck | None) -> None:
        self._token = token
        self._check = check

    async def __call__(
        self, *, context: AsyncBoltContext, enterprise_id: str | None, team_id: str | None,
        user_id: str | None, **_actor: str | None,
    ) -> AuthorizeResult:
        known = self._check.identity if self._check is not None else None
        if known:
            return AuthorizeResult(
                enterprise_id=enterprise_id or known.get("enterprise_id"),
                team_id=team_id or known.get("team_id"),
                team=known.get("team"), url=known.get("url"), bot_user_id=known.get("user_id"),
                bot_id=known.get("bot_id"), bot_token=self._token, user_id=user_id)
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=self._token,
                               user_id=user_id)


class _NoClientTokenWarning(logging.Filter):
    """Drops Bolt's warnings that the token "will be unused" or "will be ignored": Bolt reads SLACK_BOT_TOKEN
    from the environment although the bot hands it a client built with that very token, and the
    ``authorize`` given to it hands out that same token; the warnings alarm operators for nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return "`token` will be unused" not in message and "will be ignored" not in message


def quiet_bolt_token_warning() -> None:
    bolt_logger = logging.getLogger("slack_bolt.AsyncApp")
    if not any(isinstance(f, _NoClientTokenWarning) for f in bolt_logger.filters):
        bolt_logger.addFilter(_NoClientTokenWarning())
