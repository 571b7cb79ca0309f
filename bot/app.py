"""Composition root of the Slack bot: the Bolt app, the runtime that wires everything from ``Settings``, and
the two ways to serve it (HTTP with ``/slack/events`` and ``/healthz``, or Socket Mode). Nothing happens on
import. Logging is configured by the caller (``bot.cli``), not here.

    async with Runtime(settings) as runtime:
        await serve_http(runtime, port=settings.port)      # or: await serve_socket_mode(runtime)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AsyncExitStack
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import Engine

from bot import simulated
from bot.background import BackgroundLoops
from bot.campaigns import campaign_engine
from bot.health import DmsProbe, database_writable
from bot.ops_server import HttpServer, mount_public, ops_listener
from bot.settings import Settings, secret_value, validate_tokens
from bot.slack_check import SlackAuthorize, SlackCheck, quiet_bolt_token_warning
from dms.catalog import load_catalog
from dms.exceptions import DmsError
from handlers.delivery.approvers import SlackApprovers
from handlers.delivery.ephemerals import Ephemerals
from handlers.delivery.notifier import SlackNotifier
from handlers.delivery.slack_web import ChannelPacer, make_web_client
from handlers.delivery.timeline_post import TimelinePoster
from handlers.listeners import actions, commands, cube_actions, decisions, home, payloads, views
from handlers.listeners.campaign_actions import register as register_campaign_actions
from handlers.listeners.home import HomePublisher
from handlers.listeners.middleware import ListenerWork
from handlers.listeners.request_guard import RequestGuard, quiet_bolt_signature_log
from workflow import operations
from workflow.approvals import ApproverDirectory
from workflow.campaign_engine import CampaignEngine
from workflow.campaign_outbox import CampaignMessages
from workflow.dms_access import DmsAccess
from workflow.engine import UpgradeEngine
from workflow.events import FanoutNotifier, Notifier
from workflow.leases import held_here
from workflow.model.clock import utc_now
from workflow.model.errors import ConfigError
from workflow.outbox import Outbox
from workflow.replays import ReplayMemory
from workflow.targets import DEFAULT_TARGET, load_targets

if TYPE_CHECKING:  # loaded only where the embedded simulator starts (a bot on a real DMS never does)
    from simulator import SimulatedDms

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
# A stop is bounded: what is still running after these is cut short and handed back (an orchestrator's grace
# period is commonly 30 s; these, plus handing back, stay well within it).
LISTENERS_S = 8.0
OUTBOX_S = 8.0


def build_bolt_app(
    *,
    settings: Settings,
    engine: UpgradeEngine,
    web_client: AsyncWebClient,
    approvers: ApproverDirectory,
    work: ListenerWork | None = None,
    timeline: TimelinePoster | None = None,
    home_tab: HomePublisher | None = None,
    slack_check: SlackCheck | None = None,
    ephemerals: Ephemerals | None = None,
    campaigns: CampaignEngine | None = None,
) -> AsyncApp:
    """The Bolt app with every listener registered. Listeners ack first, then call the engine.

    ``process_before_response=False``: over HTTP the answer goes out as soon as a listener acks, and the
    rest of the listener runs on after it (the 3-second rule). Signature verification is on whenever a
    signing secret is configured (HTTP mode requires one, see ``serve_http``). ``work`` counts the
    listeners still running after their ack (``Runtime.settle`` waits for them).
    ``approvers`` is the engine's directory too; the listeners leave every rule to the engine.
    No Slack Web API call stands between a request and its ack: requests are authorized from the token
    and what ``slack_check`` learnt in the background (``bot.slack_check``), never by ``auth.test`` first.
    ``ephemerals`` tells a person their answers, kept in the outbox while Slack is down. ``campaigns``:
    the campaign command stores campaigns and their card's buttons work (without it, a dry run only).
    """
    work = work or ListenerWork()
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    quiet_bolt_token_warning()
    app = AsyncApp(
        client=web_client,
        authorize=SlackAuthorize(token=web_client.token or "", check=slack_check),
        signing_secret=secret,
        process_before_response=False,
        request_verification_enabled=secret is not None,
    )
    # Every payload checked against Slack's documented shapes first: Bolt's own argument building (for the
    # middleware after it) indexes fields a hostile body may lack.
    app.use(payloads.ValidatePayload())
    app.use(work.count_acks)
    tell = ephemerals or Ephemerals()
    commands.register(app, engine=engine, work=work, timeline=timeline, tell=tell, campaigns=campaigns)
    if campaigns is not None:
        register_campaign_actions(app, campaigns=campaigns, work=work, tell=tell)
    actions.register(app, engine=engine, work=work, tell=tell)
    cube_actions.register(app, engine=engine, work=work, tell=tell)
    views.register(app, engine=engine, work=work)
    decisions.register(app, engine=engine, work=work, tell=tell)
    if home_tab is not None:
        home.register(app, engine=engine, work=work, publisher=home_tab)
    return app


class Runtime:
    """Everything the Slack bot needs, built from ``Settings`` and started/stopped as one.

    Attributes after ``start()``: ``settings`` (with ``dms_time_scale`` = ``sim_speed`` when the DMS is
    simulated), ``db``, ``catalog``, ``simulator`` (or None), ``dms_access``, ``web_client``, ``pacer``,
    ``notifier`` (the ``SlackNotifier``), ``approvers``, ``engine``, ``campaigns`` (the ``CampaignEngine``,
    ``bot.campaigns``) and ``app`` (the Bolt app).
    ``extra_notifiers`` also hear every event (e.g. the console); ``clock`` replaces the engine's clock
    (tests); ``web_client`` replaces the one built from the settings.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], datetime] | None = None,
        extra_notifiers: tuple[Notifier, ...] = (),
        web_client: AsyncWebClient | None = None,
        pacer_interval_s: float = 1.0,
    ) -> None:
        self.settings = settings
        self._clock = clock or utc_now
        self._extra_notifiers = extra_notifiers
        self._given_client = web_client
        self._pacer_interval_s = pacer_interval_s
        self.simulator: SimulatedDms | None = None  # DMS_URL's simulated DMS (else the fleet's first)
        self.simulators: dict[str, SimulatedDms] = {}  # every simulated target's own, by target name
        self._simulators = AsyncExitStack()
        self._db: Engine | None = None
        self._engine: UpgradeEngine | None = None
        self._campaigns: CampaignEngine | None = None
        self._app: AsyncApp | None = None
        self._notifier: SlackNotifier | None = None
        self.listener_work = ListenerWork()
        self.dms_probe: DmsProbe | None = None
        self.slack_check: SlackCheck | None = None
        self.background = BackgroundLoops()  # the probes' loops, in one task group
        self._started = False

    # Typed accessors: using the runtime before start() is a programming error, said clearly.
    @property
    def db(self) -> Engine:
        return _ready(self._db, "db")

    @property
    def engine(self) -> UpgradeEngine:
        return _ready(self._engine, "engine")

    @property
    def campaigns(self) -> CampaignEngine:
        return _ready(self._campaigns, "campaigns")

    @property
    def app(self) -> AsyncApp:
        return _ready(self._app, "app")

    @property
    def notifier(self) -> SlackNotifier:
        return _ready(self._notifier, "notifier")

    async def start(self) -> Runtime:
        if self._started:
            return self
        validate_tokens(self.settings)
        try:
            await self._build()
            self.notifier.start()  # what an earlier run left unsent goes out first
            await self.engine.start()
            await self.campaigns.start()  # its poll approves and starts plans: after the engine's own start
        except BaseException:
            await self._teardown()
            raise
        self._started = True
        return self

    async def _build_dms(self) -> None:
        """The DMSs (simulated ones started), the database and the catalog."""
        targets = load_targets(self.settings)  # a bad targets file stops the start, in one line
        self._simulators = AsyncExitStack()
        self.settings, self.simulators = await simulated.start_fleet_clock(self._simulators, self.settings,
                                                                          targets)
        self.simulator = self.simulators.get(DEFAULT_TARGET) or next(iter(self.simulators.values()), None)
        settings = self.settings
        self._db = await operations.start_database(settings.database_url)
        try:
            self.catalog = load_catalog(settings.release_catalog)
        except DmsError as exc:
            raise ConfigError(f"RELEASE_CATALOG cannot be used: {exc}") from None
        self.dms_access = DmsAccess(settings=settings, targets=targets,
                                    simulated_urls={name: sim.url for name, sim in self.simulators.items()},
                                    person_for=simulated.person_for(settings))
        # Reported by /healthz, never required: the bot starts and serves whatever the DMS's state.
        self.dms_probe = DmsProbe(self.dms_access)
        await self.background.start()
        self.background.run("dms-probe", self.dms_probe.run)

    async def _build(self) -> None:
        await self._build_dms()
        settings, db = self.settings, self.db
        token = secret_value(settings.slack_bot_token) or ""
        self.web_client = self._given_client or make_web_client(token=token, base_url=settings.slack_api_url)
        # Reported by /healthz, never waited for: requests are acked whether or not Slack answers. Started
        # by the ways of serving Slack (``start_http``, ``serve_socket_mode``), not by the console.
        self.slack_check = SlackCheck(self.web_client, api_url=settings.slack_api_url)
        self.pacer = ChannelPacer(interval=(pace := self._pacer_interval_s))  # tests: shorter, and polls too
        # The timeline picture when a plan ends (the outbox's last call of the outcome) and on request.
        self.timeline = TimelinePoster(web_client=self.web_client, pacer=self.pacer,
                                       load=lambda plan_id: self.engine.read_timeline(plan_id),
                                       thread_of=lambda plan_id: self.notifier.message_ref(plan_id, "plan"),
                                       load_campaign=lambda campaign_id: self.campaigns.timeline(campaign_id))
        outbox = Outbox(db)
        self._notifier = slack = SlackNotifier(
            web_client=self.web_client, outbox=outbox, pacer=self.pacer, settings=settings,
            picture=self.timeline.upload, poll_s=max(0.2, 2 * pace), retry_base_s=max(0.05, 2 * pace),
            claim_ttl_s=2 * settings.lease_seconds, campaign_messages=CampaignMessages(db),
            campaign_picture=self.timeline.upload_campaign)
        # The App Home tab of everyone who opened it, refreshed when a plan changes; debounced at twice the
        # Slack pacing interval (2 s in production; tests that shorten the pacing shorten this too).
        self.home = HomePublisher(web_client=self.web_client, engine=lambda: self.engine,
                                  thread_of=lambda plan_id: slack.message_ref(plan_id, "plan"),
                                  debounce_s=2 * self._pacer_interval_s,
                                  campaigns=lambda user: self.campaigns.home(user=user))
        notifier: Notifier = FanoutNotifier((slack, self.home, *self._extra_notifiers))
        self.approvers = SlackApprovers(
            web_client=self.web_client, user_ids=settings.upgrade_approvers,
            group_id=settings.upgrade_approver_group,
        )
        self.operators = SlackApprovers(
            web_client=self.web_client, user_ids=settings.upgrade_operators,
            group_id=settings.upgrade_operator_group, names=("UPGRADE_OPERATORS", "operator"),
        )
        self._engine = UpgradeEngine(
            settings=settings, db=db, catalog=self.catalog, notifier=notifier,
            approvers=self.approvers, dms_access=self.dms_access, clock=self._clock,
            operators=self.operators,
        )
        self._campaigns = campaign_engine(self._engine, settings=settings, slack=slack, home=self.home)
        self._app = build_bolt_app(
            settings=settings, engine=self._engine, web_client=self.web_client, approvers=self.approvers,
            work=self.listener_work, timeline=self.timeline, home_tab=self.home, slack_check=self.slack_check,
            ephemerals=Ephemerals(outbox=outbox, wake=slack.sender.wake), campaigns=self._campaigns,
        )

    async def stop(self) -> None:
        await self._teardown()
        self._started = False

    async def _teardown(self) -> None:
        """Finish what is in hand (bounded), then hand back what this process holds, so another process
        takes over at its next pass instead of when the leases and claims expire."""
        held = held_here()
        if self._started:
            log.info("stopping: letting Slack listeners finish (at most %gs) and sending what is due (at "
                     "most %gs), then handing back the leases: %s", LISTENERS_S, OUTBOX_S,
                     ", ".join(held) or "none")
        try:
            await self.listener_work.idle(timeout_s=LISTENERS_S)
        except TimeoutError:
            log.warning("stopping with Slack listeners still running")
        await self.background.stop()  # the probes: cancelled together, each awaited (bot.background)
        if self._campaigns is not None:
            await self._campaigns.stop()  # no pass approves or starts a plan once the engine stops
        if self._engine is not None:
            await self._engine.stop()  # the scheduler, its lease, and each plan's lease (executions, watches)
        handed = await self._notifier.aclose(timeout_s=OUTBOX_S) if self._notifier is not None else 0
        await self._simulators.aclose()
        if self._db is not None:
            self._db.dispose()
        if self._started:
            kept = [name for name in held_here() if name in held]
            log.info("stopped: handed back the leases %s and %d claimed Slack message(s)%s",
                     ", ".join(name for name in held if name not in kept) or "(none)", handed,
                     f"; still held (they expire): {', '.join(kept)}" if kept else "")

    async def settle(self, timeout_s: float = 30.0) -> None:
        """Wait until the listeners, the engine's background work and the Slack calls they caused are done."""
        while True:
            await self.listener_work.idle(timeout_s=timeout_s)
            await self.engine.settle(timeout_s=timeout_s)
            await self.home.drain()
            await self.notifier.drain()
            if self.listener_work.running == 0:
                return

    def db_ok(self) -> bool:
        """The database can be written (not only read): see ``bot.health.database_writable``."""
        return database_writable(self.db)

    async def __aenter__(self) -> Runtime:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def _ready(value: Any, name: str) -> Any:
    if value is None:
        raise RuntimeError(f"Runtime.{name} is used before Runtime.start()")
    return value


def build_web_app(runtime: Runtime) -> web.Application:
    """``POST /slack/events`` into Bolt; ``/healthz`` and ``/metrics`` closed to anonymous callers."""
    if runtime.settings.slack_signing_secret is None:
        raise ConfigError("SLACK_SIGNING_SECRET is not set: HTTP mode cannot verify Slack's requests")
    bolt = runtime.app
    # Malformed, unsigned and replayed requests are answered before Bolt parses them (the request guard).
    guard = RequestGuard(signing_secret=runtime.settings.slack_signing_secret.get_secret_value(),
                         shared=ReplayMemory(runtime.db))  # replays to other replicas, across restarts
    quiet_bolt_signature_log()

    async def events(request: web.Request) -> web.Response:
        # Counted until the answer is on the wire: the listener's post-ack work waits for that, or its
        # synchronous database work would hold the ack back (measured: 14 -> 64 ms per command).
        async with runtime.listener_work.answering():
            verdict = await guard.admit(await request.read(), request.headers)
            if verdict.status is not None:
                response = web.Response(status=verdict.status, text=verdict.body)
            else:
                bolt_response = await bolt.async_dispatch(AsyncBoltRequest(
                    body=verdict.text, query=request.query_string, headers=dict(request.headers)))
                if bolt_response.status >= 500:
                    await guard.unclaim(verdict.key)
                response = await to_aiohttp_response(bolt_response)
            await response.prepare(request)
            await response.write_eof()
        return response

    web_app = web.Application()
    web_app.router.add_post(EVENTS_PATH, events)
    mount_public(web_app, runtime)
    return web_app


async def start_http(runtime: Runtime, *, host: str = "0.0.0.0", port: int) -> HttpServer:
    """Start serving (returns at once); the caller stops the server. Tests use port 0."""
    runner = web.AppRunner(build_web_app(runtime), access_log=None)
    if runtime.slack_check is not None:
        runtime.background.run("slack-check", runtime.slack_check.run)  # in the background: nothing waits
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    server = HttpServer(runner)
    log.info("serving Slack requests on http://%s:%s%s", host, server.port, EVENTS_PATH)
    return server


async def serve_http(runtime: Runtime, *, host: str = "0.0.0.0", port: int) -> None:
    """Serve until cancelled."""
    server = await start_http(runtime, host=host, port=port)
    try:
        async with ops_listener(runtime):  # /healthz and /metrics with details on OPS_HOST:OPS_PORT
            await asyncio.Event().wait()
    finally:
        await server.stop()


async def serve_socket_mode(runtime: Runtime) -> None:
    """Serve over Socket Mode (SLACK_APP_TOKEN) until cancelled; no inbound port needed."""
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    app_token = secret_value(runtime.settings.slack_app_token)
    if not app_token:
        raise ConfigError("SLACK_APP_TOKEN is not set: Socket Mode needs the app-level token (xapp-...)")
    # slack_sdk's Socket Mode client retries a failed connection forever, logging a traceback each time, so
    # a refused app token or an unreachable Slack would hang silently: ask once (few retries) first, so
    # either stops the bot with one line (the caller maps SlackApiError and OSError).
    if runtime.slack_check is not None:
        runtime.background.run("slack-check", runtime.slack_check.run)
    probe = make_web_client(token="", base_url=runtime.settings.slack_api_url, max_retries=2)
    # The operations listener first: /healthz answers while the connection is being made.
    async with ops_listener(runtime):  # no other port in Socket Mode: health only if OPS_PORT is set
        await probe.apps_connections_open(app_token=app_token)
        handler = AsyncSocketModeHandler(runtime.app, app_token, web_client=runtime.web_client)
        await handler.connect_async()
        log.info("connected to Slack over Socket Mode")
        try:
            await asyncio.Event().wait()
        finally:
            await handler.close_async()
