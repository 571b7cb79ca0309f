"""Every agent's status changes during an execution: what the timeline's agent lanes are drawn from.

The engine stores its latest view of the agents on the plan (``plans.update_progress``) at every poll;
this module keeps only the changes, compared with that previous view, so the history stays small.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from workflow.model.clock import utc_now
from workflow.store.tables import AgentStatusChange

# What an agent that did not answer is recorded as (its status field may still say Running).
UNREACHABLE = "Unreachable"


def status_of(agent: dict[str, Any]) -> str:
    """The status to record for one agent of ``plans.agents_json``."""
    if agent.get("reachable") is False:
        return UNREACHABLE
    return str(agent.get("status") or "Unknown")


def record_changes(
    session: Session,
    *,
    plan_id: int,
    previous: Sequence[dict[str, Any]],
    current: Sequence[dict[str, Any]],
    at: datetime | None = None,
) -> list[AgentStatusChange]:
    """Append a row for every agent in ``current`` whose status or version differs from ``previous``
    (or that ``previous`` did not have), in the caller's transaction.

    ``at`` defaults to the wall clock: like a hop's step times these are measurements of the DMS, drawn
    on the same axis."""
    before = {int(agent["id"]): (status_of(agent), agent.get("version")) for agent in previous}
    when = at or utc_now()
    rows: list[AgentStatusChange] = []
    for agent in current:
        now_seen = (status_of(agent), agent.get("version"))
        if before.get(int(agent["id"])) == now_seen:
            continue
        row = AgentStatusChange(plan_id=plan_id, at=when, agent_id=int(agent["id"]),
                                agent_name=str(agent.get("name") or agent["id"])[:200],
                                status=now_seen[0][:40], version=now_seen[1])
        session.add(row)
        rows.append(row)
    if rows:
        session.flush()
    return rows


def changes(session: Session, *, plan_id: int) -> list[AgentStatusChange]:
    """The plan's agent status changes, oldest first."""
    statement = select(AgentStatusChange).where(AgentStatusChange.plan_id == plan_id)
    return list(session.exec(statement.order_by(col(AgentStatusChange.at), col(AgentStatusChange.id))))
