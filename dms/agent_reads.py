"""Each agent's status and version: the version is read by connecting to the agent's own address.

``ConnectAppAndInfo`` reports the version of the agent it was sent to (DMAConnectAndInfo.md), so the client
logs in on every agent. That sends the password there, so an address outside the allow-list
(``dms.limits.AgentAllowList``) is reported, never contacted. A version string that maps to no release is kept
as read (``AgentState.version_text``): the agent is reachable, its version just needs a person.
"""

from __future__ import annotations

import asyncio
import functools
import logging

from dms.caller import HttpCaller, SessionExpired
from dms.dma_version import describe, release_of
from dms.exceptions import DmsApiError, DmsProtocolError
from dms.limits import AgentAllowList
from dms.models import AgentInfo, AgentState
from dms.wire import agent_base_url, agent_host

log = logging.getLogger(__name__)

Session = tuple[str, str, str]  # base URL, connection id, label

# Parsing DMS_URL for every agent of every check cost more than the rest of the address work: the same few
# (DMS_URL, template, address) come back at every check.
_agent_base = functools.lru_cache(maxsize=4096)(agent_base_url)


class AgentReader:
    def __init__(
        self, *, caller: HttpCaller, dms_url: str, template: str, allow: AgentAllowList, concurrency: int
    ) -> None:
        self._caller = caller
        self._dms_url = dms_url
        self._template = template
        self.allow = allow
        # Bounds every per-agent request (version reads and their logouts) across concurrent callers.
        self._slots = asyncio.Semaphore(concurrency)
        self.logouts: set[asyncio.Task[None]] = set()

    async def states(self, infos: list[AgentInfo]) -> list[AgentState]:
        """Concurrently; an agent that cannot be reached is reported with ``reachable=False``."""
        sessions: list[Session] = []

        async def one(agent: AgentInfo) -> AgentState:
            refused = self.refusal(agent)
            if refused:
                return AgentState(id=agent.id, name=agent.label, status=agent.status,
                              address=agent.primary_ip, detail=refused,
                                  reachable=False, contacted=False)
            async with self._slots:
                try:
                    text, session = await self._read_allowed(agent)
                except DmsApiError as exc:
                    return AgentState(id=agent.id, name=agent.label, status=agent.status,
                              address=agent.primary_ip, detail=str(exc),
                                      reachable=False)
            sessions.append(session)
            version = release_of(text)
            return AgentState(id=agent.id, name=agent.label, status=agent.status,
                              address=agent.primary_ip, version=version,
                              version_text=text, detail="" if version else describe(text))

        try:
            return list(await asyncio.gather(*(one(agent) for agent in infos)))
        finally:
            # Logged out after the reads, not between them: the logouts would compete for the CPU with the
            # reads still in flight and nobody waits on their answers.
            self.logout_later(sessions)

    def refusal(self, agent: AgentInfo) -> str:
        """Why the password must not go to this agent's address, or ``""``."""
        try:
            host = agent_host(agent.primary_ip)
        except ValueError as exc:
            return str(exc)
        if not self.allow.allows(host):
            return (f"its address {agent.primary_ip[:64]} is outside the allowed agent addresses "
                    f"({self.allow.describe()[:200]}); set DMS_AGENT_ALLOW to include it")
        return ""

    async def read(self, agent: AgentInfo) -> tuple[str, Session]:
        """The agent's DMAVersion text and its session (logged out by the caller)."""
        refused = self.refusal(agent)
        if refused:
            raise DmsProtocolError(f"not contacted: {refused}", agent=agent.label,
                                   method="GetDataMinerAgentsInfo")
        return await self._read_allowed(agent)

    async def _read_allowed(self, agent: AgentInfo) -> tuple[str, Session]:
        """``read`` once ``refusal`` said yes."""
        label = f"{agent.label} ({agent.primary_ip[:64]})"
        base = _agent_base(dms_url=self._dms_url, template=self._template, ip=agent.primary_ip)
        info = await self._caller.connect_and_info(base, label=label)
        return info.dma_version, (base, info.connection, label)

    async def agents_info_at(self, agent: AgentInfo) -> object:
        """``GetDataMinerAgentsInfo`` asked of this agent's own address (its answer, not yet parsed)."""
        _, session = await self.read(agent)
        base, connection, label = session
        try:
            return await self._caller.post(base, "GetDataMinerAgentsInfo", {"connection": connection},
                                           label=label)
        finally:
            self.logout_later([session])

    def logout_later(self, sessions: list[Session]) -> None:
        """Close short per-agent sessions so they do not linger for 5 minutes; ``close()`` waits for them."""
        for base, connection, label in sessions:
            task = asyncio.create_task(self._logout_at(base, connection, label=label))
            self.logouts.add(task)
            task.add_done_callback(self.logouts.discard)

    async def _logout_at(self, base: str, connection: str, *, label: str) -> None:
        try:
            async with self._slots:
                await self._caller.post(base, "LogOut", {"connection": connection}, label=label, retries=0)
        except (DmsApiError, SessionExpired) as exc:
            log.debug("logout from %s failed: %s", label, exc)
