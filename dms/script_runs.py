"""Start an orchestrator job without waiting, then follow it through the script's ``status`` action.

Why (see also ``dms.script_contract``): an upload with its prerequisite checks takes minutes, and one HTTP
call held that long would outlive DMS_TIMEOUT_SECONDS (10 s) while the script kept running on the DMS, and a
retry could start a second upload. ``ExecuteAutomationScript`` with ``WaitForScript`` false answers at once;
each ``status`` call is short. A per-call deadline from the hop's estimate was the alternative; it still
holds a connection for many minutes through proxies and IIS, and a dropped connection would leave the bot
blind to the script's outcome, whereas a job id can be asked about again.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable

from dms import script_contract as contract
from dms.client import DmsClient
from dms.durations import duration_text
from dms.exceptions import DmsProtocolError, DmsScriptError, DmsUnreachable

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
FIRST_POLL_S = 0.05  # short at first: a quick refusal (missing package) is reported at once


async def run_job(
    client: DmsClient, parameters: dict[str, str], *, poll_s: float, deadline_s: float,
    sleep: Sleep = asyncio.sleep,
) -> str:
    """Start the job, follow it until it ends; returns its final state. A failed job raises
    ``DmsScriptError`` with the script's message; a job still running at the deadline raises
    ``DmsUnreachable`` (the script may still be working: the bot does not start it again)."""
    job = uuid.uuid4().hex
    started = dict(parameters, **{contract.PARAM_JOB: job})
    instance = await client.execute_automation_script(contract.SCRIPT_NAME, contract.SCRIPT_FOLDER, started,
                                                      wait=False)
    log.info("orchestrator %s job %s started (instance %s)", parameters.get(contract.PARAM_ACTION), job,
             instance)
    ask = {contract.PARAM_ACTION: contract.ACTION_STATUS, contract.PARAM_JOB: job}
    deadline = time.monotonic() + deadline_s
    wait = FIRST_POLL_S
    while True:
        await sleep(min(wait, max(0.0, deadline - time.monotonic())))
        wait = min(wait * 2, poll_s)
        try:
            outputs = await client.script_output(contract.SCRIPT_NAME, contract.SCRIPT_FOLDER, ask)
        except DmsUnreachable as exc:  # the agent running the script may be busy; keep asking
            log.info("status of job %s: %s", job, exc)
            outputs = {}
        state = outputs.get(contract.OUTPUT_STATE, "").strip().lower()
        if state == contract.STATE_FAILED:
            raise DmsScriptError(outputs.get(contract.OUTPUT_MESSAGE, "the script reported failure")[:500],
                                 method="ExecuteAutomationScript")
        if state in contract.FINAL_STATES:
            return state
        if state not in ("", contract.STATE_RUNNING):
            raise DmsProtocolError(f"the script reported an unknown State {state[:40]!r}",
                                   method="ExecuteAutomationScriptWithOutput")
        if time.monotonic() >= deadline:
            waited = duration_text(deadline_s)
            raise DmsUnreachable(f"job {job} still running after {waited}; it was not started again",
                                 method="ExecuteAutomationScriptWithOutput")
