"""The simulated DMS's state: agents, sessions, alarms, packages, upgrade jobs, faults and trigger counters.

Everything is synchronous and reads the injected clock; the waits of an upgrade's start are the script's
(``simulator.scripts``). An upgrade's end is read off the agents when asked (``outcome``).

Prior to DataMiner 10.6.6/10.7.0 the orchestrating agent, the one an upgrade was triggered from, "can only be
accessed after all Agents in the cluster have been upgraded" (dataminer-docs: Upgrading_a_DMA/
Upgrading_a_DataMiner_Agent_using_DataMiner_Taskbar_Utility.md): ``answers`` is false for it meanwhile. That
agent is ``ORCHESTRATOR``, DMS_URL's: the API hands the script no other, and Cube is taken to be on it too.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dms import script_contract as contract
from dms.versions import Version, parse_version
from simulator import shapes
from simulator.agents import STUCK_AT, Phase, SimAgent, Transition, agent_ip, build_string
from simulator.clock import SimClock
from simulator.config import SimulatorConfig
from simulator.errors import AuthenticationFailed, NoConnection
from simulator.faults import ActiveFault, Fault, make_fault, parse_fault_flag

ORCHESTRATOR = 1  # DMS_URL's agent (module docstring)
ORCHESTRATOR_ANSWERS_FROM = Version(10, 6, 6)  # and 10.7.0, which is later anyway
# SLTaskbarUtility's return codes: the docs give only 0, success; the others are the simulator's (scripts).
EXIT_SUCCESS = 0
EXIT_CANCELLED = 1  # the upgrade did not start: an agent could not take it, or a prerequisite check failed
EXIT_AGENT_FAILED = 2  # the upgrade ran, and an agent failed to start afterwards

_SEVERITIES = ("Minor", "Warning", "Major", "Critical", "Minor", "Warning")
_PARAMETERS = ("CPU Load", "Link Status", "Temperature", "Fan Speed", "Signal Level", "Disk Usage")


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@dataclass
class Session:
    agent_id: int
    login: str
    created: datetime
    last_used: datetime
    uses: int = 0


@dataclass(frozen=True)
class SimAlarm:
    id: int
    agent_id: int
    element_id: int
    element_name: str
    parameter: str
    severity: str
    masked: bool
    arrived: datetime

    def to_api(self) -> dict[str, Any]:
        return shapes.dma_alarm(alarm_id=self.id, agent_id=self.agent_id, element_id=self.element_id,
                                element_name=self.element_name, parameter=self.parameter,
                                severity=self.severity, masked=self.masked, arrived=self.arrived)


@dataclass
class Upgrade:
    """A full or CU upgrade; ``orchestrator`` does not answer until it is over (None from 10.6.6/10.7.0)."""

    target: Version
    agent_ids: tuple[int, ...]
    orchestrator: int | None
    result: bool | None = None  # once over: did every agent start on the target; kept from then on


@dataclass
class Job:
    """One ``Action=upgrade`` job, as the script records it in its package folder."""

    job: str
    folder: str
    package: str
    state: str = contract.STATE_RUNNING
    exit_code: int | None = None
    message: str = ""  # why it was refused; for a finished job only the simulator's state shows it
    upgrade: Upgrade | None = None  # the upgrade the utility waits for

    def finish(self, exit_code: int, why: str = "") -> None:
        self.state, self.exit_code, self.message = contract.STATE_FINISHED, exit_code, why

    def to_json(self) -> dict[str, Any]:
        return {key: value for key, value in vars(self).items() if key != "upgrade"}


class SimCluster:
    def __init__(self, config: SimulatorConfig, *, clock: SimClock) -> None:
        self.config = config
        self.clock = clock
        now = clock.now()
        self.agents: dict[int, SimAgent] = {}
        for index in range(1, config.agents + 1):
            partner = None
            if index <= 2 * config.failover_pairs:
                partner = index + 1 if index % 2 else index - 1
            self.agents[index] = SimAgent(
                id=index, name=f"DMA{index:02d}", ip=agent_ip(index), version=config.start_version,
                elements=config.elements_per_agent, last_change=now - timedelta(days=3), partner=partner,
            )
        self.sessions: dict[str, Session] = {}
        self.alarms = [self._alarm(k, now) for k in range(config.alarms)]
        self.fault_alarms: list[SimAlarm] = []
        self.faults: list[ActiveFault] = []
        self.uploaded: set[str] = set()
        self.uploads: Counter[str] = Counter()
        self.upgrades_triggered: Counter[str] = Counter()
        self._instances = 0
        self.background: set[asyncio.Task[None]] = set()  # the utility's runs, cancelled on stop
        self.jobs: dict[tuple[str, str], Job] = {}  # by (package folder, job id)
        self.upgrade: Upgrade | None = None  # the latest full or CU upgrade started
        for flag in config.faults:
            name, options = parse_fault_flag(flag)
            self.inject(name, **options)

    # ------------------------------------------------------------------ agents

    def agent(self, agent_id: int) -> SimAgent:
        return self.agents[agent_id]

    def phase(self, agent_id: int) -> Phase:
        return self.agents[agent_id].phase(self.clock.now())

    def unreachable(self, agent_id: int) -> bool:
        return any(f.fault is Fault.AGENT_UNREACHABLE and f.agent == agent_id for f in self.faults)

    def answers(self, agent_id: int) -> bool:
        """Whether the agent's own address serves the API (else it answers 503); the orchestrating agent of
        an upgrade from before 10.6.6/10.7.0 does not until the upgrade is over (module docstring)."""
        upgrade = self.upgrade
        held = upgrade is not None and upgrade.orchestrator == agent_id and self.outcome(upgrade) is None
        return not self.unreachable(agent_id) and not held and self.phase(agent_id).answers

    def visible_phase(self, agent_id: int) -> Phase:
        """The phase other agents report: an unreachable agent is Disconnected to the cluster too."""
        if self.unreachable(agent_id):
            return Phase("Disconnected", "Unreachable", 0.0)
        return self.phase(agent_id)

    def answers_html(self, agent_id: int) -> bool:
        return any(f.fault is Fault.HTML_ANSWERS and f.agent in (None, agent_id) for f in self.faults)

    def extra_latency_ms(self, agent_id: int) -> float:
        spikes = [f.ms for f in self.faults if f.fault is Fault.LATENCY_SPIKE and f.agent in (None, agent_id)]
        return max(spikes, default=0.0)

    def next_instance(self) -> int:
        self._instances += 1
        return 40_000 + self._instances

    # ------------------------------------------------------------------ sessions

    def connect(self, agent_id: int, *, login: str, password: str) -> str:
        user_ok = secrets.compare_digest(login.encode(), self.config.user.encode())
        expected = self.config.password.get_secret_value().encode()
        password_ok = secrets.compare_digest(password.encode(), expected)
        if not (user_ok and password_ok):
            raise AuthenticationFailed()
        now = self.clock.now()
        connection = str(uuid.uuid4())
        self.sessions[connection] = Session(agent_id=agent_id, login=login, created=now, last_used=now)
        return connection

    def use(self, agent_id: int, connection: object) -> Session:
        """The live session for ``connection`` on this agent, or ``NoConnection``."""
        now = self.clock.now()
        key = connection if isinstance(connection, str) else ""
        session = self.sessions.get(key)
        if session is None or session.agent_id != agent_id:
            raise NoConnection("unknown connection id")
        stopped = self.agents[agent_id].last_stop(now)
        idle = timedelta(minutes=self.config.session_idle_minutes)
        expiring = any(f.fault is Fault.SESSION_EXPIRY for f in self.faults) and session.uses >= 1
        if now - session.last_used > idle or (stopped is not None and stopped > session.created) or expiring:
            del self.sessions[key]
            raise NoConnection("the connection expired")
        session.last_used = now
        session.uses += 1
        return session

    def logout(self, connection: str) -> None:
        self.sessions.pop(connection, None)

    # ------------------------------------------------------------------ what the API reports

    def connect_info(self, agent_id: int, connection: str, login: str) -> dict[str, Any]:
        agent = self.agents[agent_id]
        now = self.clock.now()
        running = agent.running_version(now)
        version = build_string(running)
        if self.config.reported_version is not None and running == parse_version(self.config.version):
            version = self.config.reported_version
        return shapes.dma_connect_and_info(connection=connection, version=version, login=login, now=now)

    def agents_info(self) -> list[dict[str, Any]]:
        now = self.clock.now()
        rows = []
        for agent in self.agents.values():
            if self.config.pair_as_one_entry and agent.partner is not None and agent.id % 2 == 0:
                continue  # the backup hides behind its main's entry
            phase = self.visible_phase(agent.id)
            rows.append(shapes.dma_info(agent_id=agent.id, name=agent.name, ip=agent.ip,
                                        cluster=self.config.cluster_name, status=phase.status,
                                        failover=agent.partner is not None,
                                        changed=agent.phase_changed_at(now)))
        return rows

    def statistics(self) -> list[dict[str, Any]]:
        rows = []
        for agent in self.agents.values():
            phase = self.visible_phase(agent.id)
            active = int(self._active_elements(agent) * phase.progress)
            rows.append(shapes.dma_statistics(agent_id=agent.id, elements=agent.elements, active=active,
                                              services=agent.elements // 4))
        return rows

    def active_alarms(self) -> list[dict[str, Any]]:
        return [alarm.to_api() for alarm in [*self.alarms, *self.fault_alarms]]

    def element(self, name: str) -> dict[str, Any] | None:
        for agent in self.agents.values():
            for number in range(1, agent.elements + 1):
                if self._element_name(agent, number).lower() == name.strip().lower():
                    phase = self.visible_phase(agent.id)
                    state = "Stopped" if number % 10 == 0 else "Active"
                    if phase.status != "Running":
                        state = "Timeout"  # its agent is down
                    return shapes.dma_element(agent_id=agent.id, element_id=number,
                                              name=self._element_name(agent, number), state=state,
                                              changed=agent.last_change)
        return None

    # ------------------------------------------------------------------ packages and upgrades

    def start_upgrade(self, target: Version, agent_ids: list[int], *, orchestrator: int | None) -> Upgrade:
        """Every agent stops, installs and starts at once (failover pairs simultaneously)."""
        self.settle_jobs()  # the previous upgrade's end, read before these agents move on
        now = self.clock.now()
        config = self.config
        stop, install = timedelta(minutes=config.stop_minutes), timedelta(minutes=config.install_minutes)
        startup = timedelta(minutes=config.startup_minutes)
        if orchestrator and self.agents[orchestrator].running_version(now) >= ORCHESTRATOR_ANSWERS_FROM:
            orchestrator = None
        for agent_id in agent_ids:
            agent = self.agents[agent_id]
            agent.transition = Transition(now, target, stop, install, startup,
                                          stuck=self._has(Fault.AGENT_STUCK_STARTING, agent_id),
                                          fails=self._has(Fault.AGENT_FAILS_TO_START, agent_id))
            agent.upgrade_started = now
        self.upgrades_triggered[str(target)] += 1
        self.upgrade = Upgrade(target, tuple(agent_ids), orchestrator)
        return self.upgrade

    def outcome(self, upgrade: Upgrade) -> bool | None:
        """None while an agent is still in the upgrade (a stuck startup too); then whether every agent
        started on the target, kept so that a later restart of a failed agent does not change it."""
        if upgrade.result is None:
            now = self.clock.now()
            for agent in (self.agents[agent_id] for agent_id in upgrade.agent_ids):
                agent.settle(now)
            if all(self.agents[agent_id].transition is None for agent_id in upgrade.agent_ids):
                upgrade.result = all(not self.agents[agent_id].failed and
                                     self.agents[agent_id].version == upgrade.target
                                     for agent_id in upgrade.agent_ids)
        return upgrade.result

    def settle_jobs(self) -> None:
        """A job whose upgrade is over gets its exit code, before a fault change restarts a failed agent."""
        if self.upgrade is not None:
            self.outcome(self.upgrade)  # the same for the orchestrator's hold
        for job in self.jobs.values():
            ok = self.outcome(job.upgrade) if job.state == contract.STATE_RUNNING and job.upgrade else None
            if ok is not None:
                job.finish(EXIT_SUCCESS if ok else EXIT_AGENT_FAILED, "" if ok else "an agent did not start")

    def restart(self, agent_id: int, *, stuck: bool = False, fails: bool = False) -> None:
        agent = self.agents[agent_id]
        now = self.clock.now()
        agent.settle(now)
        agent.failed = False
        startup = timedelta(minutes=self.config.startup_minutes)
        agent.transition = Transition(now, agent.version, timedelta(0), timedelta(0), startup,
                                      stuck=stuck, fails=fails)

    # ------------------------------------------------------------------ faults

    def inject(self, fault: object, **options: object) -> ActiveFault:
        active = make_fault(fault, options, agents=len(self.agents))
        self.settle_jobs()
        self.faults = [f for f in self.faults if (f.fault, f.agent) != (active.fault, active.agent)]
        self.faults.append(active)
        now = self.clock.now()
        if active.fault is Fault.SESSION_EXPIRY:
            self.sessions.clear()
        elif active.fault is Fault.CRITICAL_ALARMS and active.agent is not None:
            self._raise_alarms(active.agent, active.count, now)
        elif active.fault in (Fault.AGENT_STUCK_STARTING, Fault.AGENT_FAILS_TO_START) and active.agent:
            agent = self.agents[active.agent]
            agent.settle(now)
            stuck = active.fault is Fault.AGENT_STUCK_STARTING
            if active.restart:
                self.restart(agent.id, stuck=stuck, fails=not stuck)
            elif agent.transition is not None:
                if stuck:
                    agent.transition.stuck = True
                else:
                    agent.transition.fails = True
        return active

    def clear(self, fault: str | None = None) -> list[ActiveFault]:
        self.settle_jobs()
        cleared = [f for f in self.faults if fault is None or f.fault.value == fault]
        self.faults = [f for f in self.faults if f not in cleared]
        now = self.clock.now()
        for done in cleared:
            if done.fault is Fault.CRITICAL_ALARMS:
                self.fault_alarms = [a for a in self.fault_alarms if a.agent_id != done.agent]
            elif done.fault is Fault.AGENT_STUCK_STARTING and done.agent:
                self.agents[done.agent].unstick(now)
            elif done.fault is Fault.AGENT_FAILS_TO_START and done.agent:
                agent = self.agents[done.agent]
                agent.settle(now)
                if agent.transition is not None:
                    agent.transition.fails = False
                elif agent.failed:
                    self.restart(agent.id)  # a person fixed it and started DataMiner again
        return cleared

    def _has(self, fault: Fault, agent_id: int) -> bool:
        return any(f.fault is fault and f.agent == agent_id for f in self.faults)

    # ------------------------------------------------------------------ state for tests and operators

    def state(self) -> dict[str, Any]:
        self.settle_jobs()
        now = self.clock.now()
        agents = []
        for agent in self.agents.values():
            phase = self.visible_phase(agent.id)
            agents.append({
                "id": agent.id, "name": agent.name, "ip": agent.ip, "status": phase.status,
                "version": str(agent.running_version(now)), "detail": phase.detail,
                "failover_partner": agent.partner,
                "upgrade_started": iso(agent.upgrade_started) if agent.upgrade_started else None,
            })
        return {
            "now": iso(now), "agents": agents,
            "upgrades_triggered": dict(self.upgrades_triggered), "uploads": dict(self.uploads),
            "uploaded": sorted(self.uploaded), "jobs": [job.to_json() for job in self.jobs.values()],
            "faults": [f.to_json() for f in self.faults],
            "sessions": len(self.sessions), "stuck_at_percent": int(STUCK_AT * 100),
        }

    # ------------------------------------------------------------------ generated data

    @staticmethod
    def _element_name(agent: SimAgent, number: int) -> str:
        return f"{agent.name} Element {number:03d}"

    @staticmethod
    def _active_elements(agent: SimAgent) -> int:
        return agent.elements - agent.elements // 10  # every tenth element is stopped on purpose

    def _alarm(self, k: int, now: datetime) -> SimAlarm:
        agent = self.agents[k % len(self.agents) + 1]
        severity = _SEVERITIES[k % len(_SEVERITIES)]
        number = k % max(agent.elements, 1) + 1
        return SimAlarm(
            id=1000 + k, agent_id=agent.id, element_id=number, element_name=self._element_name(agent, number),
            parameter=_PARAMETERS[k % len(_PARAMETERS)], severity=severity,
            # Blocking severities are masked so that a fresh simulator passes the pre-upgrade check.
            masked=severity in ("Critical", "Major"), arrived=now - timedelta(minutes=7 * (k + 1)),
        )

    def _raise_alarms(self, agent_id: int, count: int, now: datetime) -> None:
        agent = self.agents[agent_id]
        self.fault_alarms = [a for a in self.fault_alarms if a.agent_id != agent_id]
        base = 900_000 + 1000 * agent_id
        for k in range(count):
            number = k % max(agent.elements, 1) + 1
            self.fault_alarms.append(SimAlarm(
                id=base + k, agent_id=agent_id, element_id=number,
                element_name=self._element_name(agent, number),
                parameter="Power Supply", severity="Critical", masked=False, arrived=now,
            ))
