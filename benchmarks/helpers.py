"""What the benchmarks share, kept out of the test suite so a benchmark imports no ``tests`` module:
a signed slash command as Slack sends it, and a notifier that counts the engine's events."""

from __future__ import annotations

import secrets
import time
from collections import Counter
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from workflow.events import Event


def signed_slash_command(
    text: str, *, signing_secret: str, user_id: str, channel_id: str, command: str = "/dm-upgrade"
) -> tuple[bytes, dict[str, str]]:
    """(body, headers) of a slash command, form-encoded and signed exactly as Slack does."""
    body = urlencode({
        "token": "bench", "team_id": "T0BENCH", "team_domain": "bench", "channel_id": channel_id,
        "channel_name": "upgrades", "user_id": user_id, "user_name": user_id.lower(), "command": command,
        "text": text, "api_app_id": "A0BENCH", "is_enterprise_install": "false",
        "response_url": "https://hooks.slack.com/commands/T0BENCH/1/bench",
        "trigger_id": f"{secrets.randbelow(10**9)}.{int(time.time())}.bench",
    }).encode()
    timestamp = str(int(time.time()))
    signature = SignatureVerifier(signing_secret).generate_signature(timestamp=timestamp, body=body.decode())
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature or "",
    }
    return body, headers


class EventCounter:
    """A notifier that counts the engine's events by type."""

    def __init__(self) -> None:
        self.kinds: Counter[str] = Counter()

    async def notify(self, event: Event) -> None:
        self.kinds[type(event).__name__] += 1
