"""Logging: one line per event, readable by default, JSON with ``LOG_FORMAT=json``.

Called once by a composition root; never at import. A filter masks anything that looks like a Slack
token or a ``password=`` pair, and every DMS password a client of this process was given in every form a DMS
can echo it back in (``dms.secrets``), as a last line of defence behind ``SecretStr`` and the DMS client's
own scrubbing. Tracebacks are masked too, in both formats.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from dms.secrets import scrub_known

_SECRET_PATTERNS = (
    re.compile(r"xox[abpre]-[A-Za-z0-9-]+"),
    re.compile(r"xapp-[A-Za-z0-9-]+"),
    re.compile(r"(?i)(\"?password\"?\s*[=:]\s*\"?)[^\"\s,&}]+"),
)


def redact(text: str) -> str:
    """Mask tokens, password values and the remembered DMS passwords (every encoding) in ``text``."""
    text = scrub_known(text)
    for pattern in _SECRET_PATTERNS:
        if pattern.groups:
            text = pattern.sub(lambda match: match.group(1) + "***", text)
        else:
            text = pattern.sub("***", text)
    return text


class _RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class _TextFormatter(logging.Formatter):
    def formatException(self, ei: Any) -> str:
        return redact(super().formatException(ei))


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            data["error"] = redact(self.formatException(record.exc_info))
        return json.dumps(data, ensure_ascii=False)


def setup_logging(*, level: str = "INFO", fmt: str = "text", stream: TextIO | None = None) -> None:
    """Send every log line to ``stream`` (stderr) in the chosen format; replaces earlier handlers."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(_TextFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(_RedactingFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    # Third-party chatter at INFO would drown our one-line-per-event log.
    for noisy in ("httpx", "httpcore", "aiohttp.access", "apscheduler", "slack_bolt", "slack_sdk"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
