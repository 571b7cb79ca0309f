"""The upgrade plan's states and the moves between them (docs/architecture.md): rules only, no database.

    PLANNED --schedule window--> SCHEDULED --precheck--> PRECHECKED --window opens--> AWAITING_APPROVAL
    --approve--> EXECUTING --> VERIFYING --> DONE
    EXECUTING/VERIFYING --cancel--> CANCELLING --agents settled--> CANCELLED
    any active state --cancel--> CANCELLED; check fails --> BLOCKED (fix, re-run check);
    agent fails --> FAILED; window ends unapproved --> EXPIRED

``workflow.store.states`` makes the moves, each in the caller's transaction with its audit row.
"""

from __future__ import annotations

from enum import StrEnum


class PlanState(StrEnum):
    PLANNED = "planned"
    SCHEDULED = "scheduled"
    PRECHECKED = "prechecked"
    AWAITING_APPROVAL = "awaiting_approval"
    EXECUTING = "executing"
    # Cancelled while a hop ran: the bot no longer drives anything but watches the agents until they settle
    # (the running hop on the DMS cannot be stopped), then moves on to CANCELLED with where they ended.
    CANCELLING = "cancelling"
    VERIFYING = "verifying"
    DONE = "done"
    CANCELLED = "cancelled"
    BLOCKED = "blocked"
    FAILED = "failed"
    EXPIRED = "expired"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL

    @property
    def in_flight(self) -> bool:
        return self in IN_FLIGHT

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


TERMINAL: frozenset[PlanState] = frozenset(
    {PlanState.DONE, PlanState.CANCELLED, PlanState.FAILED, PlanState.EXPIRED}
)
ACTIVE: frozenset[PlanState] = frozenset(PlanState) - TERMINAL
# The upgrade runs on the DMS: a cancel then stops the bot's driving but not the hop (CANCELLING).
IN_FLIGHT: frozenset[PlanState] = frozenset({PlanState.EXECUTING, PlanState.VERIFYING})

S = PlanState
ALLOWED: dict[PlanState, frozenset[PlanState]] = {
    S.PLANNED: frozenset({S.SCHEDULED, S.CANCELLED}),
    # A window that closes before the pre-check ever ran still expires the plan.
    S.SCHEDULED: frozenset({S.PRECHECKED, S.BLOCKED, S.CANCELLED, S.EXPIRED}),
    # Back to SCHEDULED when the window moves: the pre-check belongs to the old window.
    S.PRECHECKED: frozenset({S.AWAITING_APPROVAL, S.BLOCKED, S.SCHEDULED, S.CANCELLED, S.EXPIRED}),
    # The window may open while blocked: the approval request is still posted, and only an approver's
    # override (with a reason) lets it execute.
    S.BLOCKED: frozenset({S.PRECHECKED, S.SCHEDULED, S.AWAITING_APPROVAL, S.CANCELLED, S.EXPIRED}),
    S.AWAITING_APPROVAL: frozenset({S.EXECUTING, S.CANCELLED, S.EXPIRED}),
    S.EXECUTING: frozenset({S.VERIFYING, S.FAILED, S.CANCELLING, S.CANCELLED}),
    S.VERIFYING: frozenset({S.DONE, S.FAILED, S.CANCELLING, S.CANCELLED}),
    S.CANCELLING: frozenset({S.CANCELLED}),
    S.DONE: frozenset(),
    S.CANCELLED: frozenset(),
    S.FAILED: frozenset(),
    S.EXPIRED: frozenset(),
}
del S


def allowed(from_state: PlanState, to_state: PlanState) -> bool:
    return to_state in ALLOWED[from_state]


# The largest id a 64-bit INTEGER column holds: a larger one (a button value, a typed number) would make the
# database driver raise OverflowError instead of the plan simply not existing.
MAX_PLAN_ID = 2**63 - 1
