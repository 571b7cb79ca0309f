"""The Web Services API v1 methods the simulated DMS answers, one small function each.

Each takes the cluster, the id of the agent whose address received the call and the JSON parameters, and
returns what goes into ``{"d": ...}`` or raises an ``AsmxFault``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from simulator import scripts
from simulator.cluster import SimCluster
from simulator.errors import BadRequest, NoConnection

Method = Callable[[SimCluster, int, dict[str, Any]], Awaitable[Any]]


def _param(params: dict[str, Any], name: str) -> Any:
    if name not in params:
        raise BadRequest(f"Invalid web service call, missing value for parameter: '{name}'.")
    return params[name]


def _text(params: dict[str, Any], name: str) -> str:
    value = _param(params, name)
    if not isinstance(value, str):
        raise BadRequest(f"Cannot convert the value of parameter '{name}' to System.String.")
    return value


def _login(cluster: SimCluster, agent_id: int, params: dict[str, Any]) -> tuple[str, str]:
    login = _text(params, "login")
    connection = cluster.connect(agent_id, login=login, password=_text(params, "password"))
    return connection, login


async def connect_app(cluster: SimCluster, agent_id: int, params: dict[str, Any]) -> Any:
    return _login(cluster, agent_id, params)[0]


async def connect_app_and_info(cluster: SimCluster, agent_id: int, params: dict[str, Any]) -> Any:
    connection, login = _login(cluster, agent_id, params)
    return cluster.connect_info(agent_id, connection, login)


def _session(cluster: SimCluster, agent_id: int, params: dict[str, Any]) -> None:
    cluster.use(agent_id, _param(params, "connection"))


async def agents_info(cluster: SimCluster, agent_id: int, params: dict[str, Any]) -> Any:
    _session(cluster, agent_id, params)
    return cluster.agents_info()


async def agents_statistics(cluster: SimCluster, agent_id: int, params: dict[str, Any]) -> Any:
    _session(cluster, agent_id, params)
    return cluster.statistics()


async def active_alarms(cluster: SimCluster, agent_id: int, params: dict[str, Any]) -> Any:
    _session(cluster, agent_id, params)
    return cluster.active_alarms()


async def active_alarms_count(cluster: SimCluster, agent_id: int, params: dict[str, Any]) -> Any:
    _session(cluster, agent_id, params)
    return len(cluster.active_alarms())


async def element_by_name(cluster: SimCluster, agent_id: int, params: dict[str, Any]) -> Any:
    _session(cluster, agent_id, params)
    name = _text(params, "elementName")
    element = cluster.element(name)
    if element is None:
        raise BadRequest(f"Element '{name[:200]}' was not found.", exception_type="System.ArgumentException")
    return element


async def is_connection_alive(cluster: SimCluster, agent_id: int, params: dict[str, Any]) -> Any:
    try:
        _session(cluster, agent_id, params)
    except NoConnection:  # an expired or unknown id is simply not alive: the API answers false
        return False
    return True


async def log_out(cluster: SimCluster, agent_id: int, params: dict[str, Any]) -> Any:
    connection = _param(params, "connection")
    if isinstance(connection, str):
        cluster.logout(connection)
    return None


async def automation_scripts(cluster: SimCluster, agent_id: int, params: dict[str, Any]) -> Any:
    _session(cluster, agent_id, params)
    return scripts.script_listing()


async def execute_automation_script(cluster: SimCluster, agent_id: int, params: dict[str, Any]) -> Any:
    # WS_Methods_v1/ExecuteAutomationScript.md spells the session field "Connection"; its sibling
    # ExecuteAutomationScriptWithOutput.md spells it "connection" like every other method.
    cluster.use(agent_id, _param(params, "Connection"))
    script, options = _param(params, "script"), params.get("scriptOptions")
    return await scripts.execute(cluster, script=script, options=options)


async def execute_automation_script_with_output(
    cluster: SimCluster, agent_id: int, params: dict[str, Any]
) -> Any:
    _session(cluster, agent_id, params)
    script, options = _param(params, "script"), params.get("scriptOptions")
    return await scripts.execute_with_output(cluster, script=script, options=options)


METHODS: dict[str, Method] = {
    "ConnectApp": connect_app,
    "ConnectAppAndInfo": connect_app_and_info,
    "GetDataMinerAgentsInfo": agents_info,
    "GetDataMinerAgentsStatistics": agents_statistics,
    "GetActiveAlarms": active_alarms,
    "GetActiveAlarmsCount": active_alarms_count,
    "GetElementByName": element_by_name,
    "IsConnectionAlive": is_connection_alive,
    "LogOut": log_out,
    "GetAutomationScripts": automation_scripts,
    "ExecuteAutomationScript": execute_automation_script,
    "ExecuteAutomationScriptWithOutput": execute_automation_script_with_output,
}
# ASMX matches method names without regard to case.
METHODS_BY_LOWER = {name.lower(): method for name, method in METHODS.items()}
