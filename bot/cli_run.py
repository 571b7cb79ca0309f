"""``dm-upgrade run`` (and bare ``dm-upgrade``): serve Slack, or fall back to the console.

The mode follows from the credentials found in the environment (or ``.env``):

- ``SLACK_APP_TOKEN`` set: Socket Mode (no inbound port; the usual case inside a private network);
- ``SLACK_BOT_TOKEN`` and ``SLACK_SIGNING_SECRET`` set: HTTP mode on ``PORT`` at ``/slack/events``;
- no Slack credential at all: the console on the simulated DMS (the embedded default).

Half a configuration (a bot token without a way to receive requests) is an error rather than a silent
console, because the person clearly meant to reach Slack. So is a Slack mode without ``DMS_URL`` (or
``DMS_TARGETS_FILE``): real people would otherwise upgrade an embedded simulator and be told "Upgrade done";
a simulator in Slack must be asked for with ``DMS_URL=simulated``. Every configuration error ends the
program with one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Literal, TextIO

from bot import event_loop
from bot.logs import setup_logging
from bot.settings import Settings, validate_tokens
from bot.startup import fail, load_settings, startup_error
from workflow.model.errors import ConfigError

log = logging.getLogger(__name__)

Mode = Literal["socket", "http", "console"]
ServeFn = Callable[..., Awaitable[None]]
ConsoleFn = Callable[[Settings], int]

NO_CREDENTIALS = (
    "No Slack credentials found (SLACK_APP_TOKEN for Socket Mode, or SLACK_BOT_TOKEN and "
    "SLACK_SIGNING_SECRET for HTTP mode): starting the console on a simulated DMS."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="0.0.0.0", help="HTTP mode: address to listen on (default 0.0.0.0)")
    parser.add_argument("--port", type=int, default=None, help="HTTP mode: port (default: PORT, 3000)")


def choose_mode(settings: Settings) -> Mode:
    """Which way to run, from the credentials alone; raises ``ConfigError`` for half a configuration."""
    has_bot = settings.slack_bot_token is not None and bool(settings.slack_bot_token.get_secret_value())
    has_secret = settings.slack_signing_secret is not None and bool(
        settings.slack_signing_secret.get_secret_value()
    )
    has_app = settings.slack_app_token is not None and bool(settings.slack_app_token.get_secret_value())
    if has_app:
        return "socket"
    if has_bot and has_secret:
        return "http"
    if has_bot:
        raise ConfigError(
            "SLACK_BOT_TOKEN is set but neither SLACK_APP_TOKEN (Socket Mode) nor SLACK_SIGNING_SECRET "
            "(HTTP mode) is: set one of them"
        )
    if has_secret:
        raise ConfigError("SLACK_SIGNING_SECRET is set but SLACK_BOT_TOKEN is not: HTTP mode needs both")
    return "console"


NO_DMS = (
    "DMS_URL is not set: in Slack mode the bot needs a DataMiner System (DMS_URL=https://dma.example.net "
    "or DMS_TARGETS_FILE); set DMS_URL=simulated to serve Slack against a simulated DMS on purpose"
)


def require_dms(settings: Settings) -> None:
    """Slack modes never fall back to the embedded simulator: the DMS must be named, even if simulated."""
    named = "dms_url" in settings.model_fields_set and bool(settings.dms_url.strip())
    if not named and settings.dms_targets_file is None:
        raise ConfigError(NO_DMS)


def run(
    args: argparse.Namespace,
    *,
    serve_socket: ServeFn | None = None,
    serve_http: ServeFn | None = None,
    console: ConsoleFn | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run in the mode the settings call for. The serve functions and the console are injectable (tests)."""
    err = stderr or sys.stderr
    try:
        settings = load_settings()
        mode = choose_mode(settings)
    except ConfigError as exc:
        return fail(str(exc), stream=err)
    if mode == "console":
        print(NO_CREDENTIALS, file=stdout or sys.stdout, flush=True)
        if console is None:
            from bot.console.runner import start_console

            return start_console(settings)
        return console(settings)
    try:
        validate_tokens(settings)  # a token of the wrong kind: one line, before any log line
        require_dms(settings)
    except ConfigError as exc:
        return fail(str(exc), stream=err)
    setup_logging(level=settings.log_level, fmt=settings.log_format)
    port = getattr(args, "port", None) or settings.port
    host = getattr(args, "host", None) or "0.0.0.0"
    try:
        event_loop.run(_serve(settings, mode=mode, host=host, port=port,
                              serve_socket=serve_socket, serve_http=serve_http), choice=settings.event_loop)
    except OSError as exc:  # the port is taken, or Slack cannot be reached at all
        return fail(f"cannot start: {exc.strerror or exc}", stream=err)
    except Exception as exc:
        config_error = startup_error(exc)
        if config_error is None:
            raise
        return fail(str(config_error), stream=err)
    return 0


async def _serve(
    settings: Settings,
    *,
    mode: Mode,
    host: str,
    port: int,
    serve_socket: ServeFn | None,
    serve_http: ServeFn | None,
) -> None:
    # Imported here so `dm-upgrade path` and the console fallback never pay for the Slack stack twice.
    from slack_sdk.errors import SlackApiError

    from bot import app

    log.info("event loop: %s", event_loop.loop_name(asyncio.get_running_loop()))
    async with app.Runtime(settings) as runtime:
        if mode == "socket":
            serving = asyncio.ensure_future((serve_socket or app.serve_socket_mode)(runtime))
        else:
            serving = asyncio.ensure_future((serve_http or app.serve_http)(runtime, host=host, port=port))
        try:
            with stop_on_sigterm(serving) as stopping:
                await serving
        except asyncio.CancelledError:
            if not stopping.is_set():
                raise
            # Leaving the block stops the runtime: it logs what it finishes and what it hands back.
        except SlackApiError as exc:
            # A revoked or wrong token shows up here, at the first call Slack answers.
            code = exc.response.get("error") if exc.response is not None else None
            raise ConfigError(f"Slack refused the credentials: {code or 'error'}") from None
    if stopping.is_set():
        log.info("stopped on SIGTERM; exiting")


@contextmanager
def stop_on_sigterm(serving: asyncio.Future[None]) -> Iterator[asyncio.Event]:
    """While the block runs, SIGTERM stops serving (no new requests) and lets the runtime stop cleanly; the
    event tells that it happened. Without this, SIGTERM ends the process at once: nothing logged, and the
    leases and outbox claims it held block the other processes until they expire. A second SIGTERM
    ends the process at once, as before."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()

    def on_sigterm() -> None:
        log.info("SIGTERM received: stopping; no new Slack requests, then a clean stop (a second SIGTERM "
                 "ends the process at once)")
        stopping.set()
        loop.remove_signal_handler(signal.SIGTERM)
        serving.cancel()

    try:
        loop.add_signal_handler(signal.SIGTERM, on_sigterm)
    except (NotImplementedError, RuntimeError):  # not the main thread, or no signals here: nothing to stop
        yield stopping
        return
    try:
        yield stopping
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
