"""Block Kit builders for what goes into a plan's thread: the status message edited in place (hops, each
agent's state, a progress bar, the ETA), milestones, check results and the final result; plus the
ephemeral ``status`` and ``history`` answers. Pure functions, inside Block Kit's limits.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement

from dms.models import AgentState, CheckResult, CheckStatus
from handlers import safe_text as safe
from handlers.blocks.notes import CANCEL_RUNNING_EFFECT, KEY_FUNCTIONALITIES_KEY
from handlers.blocks.plan import (
    TEXT_BUDGET,
    Message,
    context,
    fold_lines,
    plan_message,
    section,
    simulated_mark,
    span,
    title_line,
    to_dicts,
    truncate,
    versions,
    when,
    window_text,
)
from handlers.button_values import PlanButton
from handlers.ids import ActionId
from workflow.model.checklist import short_name
from workflow.model.snapshot import PlanSnapshot
from workflow.model.states import PlanState

BAR_WIDTH = 20
_CHECK_MARK = {CheckStatus.PASS: ":white_check_mark:", CheckStatus.WARN: ":warning:", CheckStatus.FAIL: ":x:",
               CheckStatus.MANUAL: ":bust_in_silhouette:"}
_RANK = {CheckStatus.FAIL: 0, CheckStatus.WARN: 1}  # problems first; the rest keep their order


def agent_dicts(agents: Sequence[AgentState] | Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for agent in agents:
        if isinstance(agent, AgentState):
            out.append({"id": agent.id, "name": agent.name, "status": agent.status, "detail": agent.detail,
                        "version": str(agent.version) if agent.version is not None else None})
        else:
            out.append(dict(agent))
    return out


def progress_fraction(snap: PlanSnapshot, agents: list[dict[str, Any]]) -> float:
    """Done hops plus the share of agents already running the current hop's version."""
    if not snap.hops:
        return 0.0
    done = sum(1 for hop in snap.hops if hop.status == "done")
    current = next((hop for hop in snap.hops if hop.status != "done"), None)
    partial = 0.0
    if current is not None and agents:
        there = sum(1 for a in agents if str(a.get("version") or "") == str(current.version)
                    and str(a.get("status", "")).lower() == "running")
        partial = there / len(agents)
    return min(1.0, (done + partial) / len(snap.hops))


def progress_bar(fraction: float, *, width: int = BAR_WIDTH) -> str:
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return "▓" * filled + "░" * (width - filled) + f" {round(fraction * 100)}%"


def _agent_line(agent: dict[str, Any]) -> str:
    # Every part of it comes from the DMS.
    detail = f" — {safe.mrkdwn(agent['detail'], limit=300)}" if agent.get("detail") else ""
    version = safe.name(agent.get("version") or "version unknown")
    return (f"• {safe.name(agent.get('name', agent.get('id')))}: {safe.name(agent.get('status', '?'))} "
            f"({version}){detail}")


def status_message(snap: PlanSnapshot, *, agents: Sequence[AgentState] | None = None,
                   eta: datetime | None = None) -> Message:
    """The one status message of the thread, edited in place while the upgrade runs."""
    rows = agent_dicts(agents) if agents is not None else agent_dicts(snap.agents)
    hop_lines = [f"{'✔' if hop.status == 'done' else '▸' if hop.status != 'pending' else '·'} "
                 f"{hop.position + 1}. {safe.name(hop.version)} ({safe.name(hop.package)}): {hop.status}"
                 for hop in snap.hops]
    counts = Counter(safe.name(row.get("status", "?")) for row in rows)
    summary = ", ".join(f"{status} {count}" for status, count in sorted(counts.items())) or "no data yet"
    # Agents that are not simply running on the target draw the eye first.
    rows.sort(key=lambda row: (str(row.get("status", "")).lower() == "running", str(row.get("name", ""))))
    moment = eta or snap.eta
    blocks: list[Block] = [
        section(f"*Status of plan #{snap.id}*{simulated_mark(snap)}: {snap.state.label}\n"
                f"`{progress_bar(progress_fraction(snap, rows))}`\n"
                f"ETA: {when(moment) if moment else 'unknown'}"),
        section("*Hops*\n" + fold_lines(hop_lines, budget=TEXT_BUDGET - 20)),
        section(f"*Agents* ({len(rows)}: {truncate(summary, 200)})\n"
                + fold_lines([_agent_line(row) for row in rows], budget=TEXT_BUDGET - 300)),
    ]
    return Message(text=f"Plan #{snap.id}{simulated_mark(snap)}: {snap.state.label}", blocks=to_dicts(blocks))


def note(text: str) -> Message:
    """A milestone or short notice as a thread reply."""
    return Message(text=truncate(text, 3000), blocks=to_dicts([section(text)]))


def check_result(snap: PlanSnapshot, *, kind: str, results: Sequence[CheckResult], passed: bool) -> Message:
    name = "Pre-upgrade check" if kind == "pre" else "Verification"
    head = f"{':white_check_mark:' if passed else ':x:'} *{name} {'passed' if passed else 'failed'}* " \
           f"for plan #{snap.id}"
    ordered = sorted(results, key=lambda r: _RANK.get(r.status, len(_RANK)))
    people = {item.checked_by for item in snap.checklist if item.checked and item.checked_by}
    # Every line says how it was established (checked by the bot, confirmed by a person, reported by
    # DataMiner, not checked): a pass nobody checked must never read like one the bot saw.
    lines = [f"{_CHECK_MARK.get(r.status, '•')} {safe.mrkdwn(r.title, limit=300)}"
             + (f" ({safe.name(r.agent)})" if r.agent else "")
             + (f": {_detail(r.detail, people)}" if r.detail else "")
             + f" _({r.established.value})_" for r in ordered]
    return Message(text=f"{name} {'passed' if passed else 'failed'} for plan #{snap.id}",
                   blocks=to_dicts([section(head), section(fold_lines(lines, empty="_no checks_"))]))


def _detail(detail: str, people: set[str]) -> str:
    """A check's detail (element names, alarm texts, script messages: DMS text), escaped. The one mention
    kept is the bot's own "confirmed by <@U…>" naming who ticked the matching checklist item."""
    text = safe.mrkdwn(detail)
    head, sep, who = text.rpartition("confirmed by &lt;@")
    if sep and who.endswith("&gt;") and who[:-4] in people:
        return f"{head}confirmed by {safe.user(who[:-4])}"
    return text


def finished(snap: PlanSnapshot, *, results: Sequence[CheckResult]) -> Message:
    failed = [r for r in results if r.status is CheckStatus.FAIL]
    text = (f":white_check_mark: *Upgrade done*: {safe.name(snap.dms_name)}{simulated_mark(snap)} runs "
            f"{safe.name(snap.target_version)} (plan #{snap.id}, from {safe.name(snap.current_version)}).")
    blocks: list[Block] = [section(text)]
    if results:
        verdict = "all checks passed" if not failed else f"{len(failed)} check(s) failed"
        blocks.append(context(f"Verification: {verdict}"))
    return Message(text=f"Upgrade done: {safe.name(snap.dms_name)}{simulated_mark(snap)} runs "
                        f"{safe.name(snap.target_version)}",
                   blocks=to_dicts(blocks))


def failed(snap: PlanSnapshot, *, reason: str, guidance: str, agents: Sequence[AgentState]) -> Message:
    lines = [_agent_line(row) for row in agent_dicts(agents)]
    blocks: list[Block] = [
        section(f":x: *Upgrade failed* (plan #{snap.id}, {safe.name(snap.dms_name)}{simulated_mark(snap)}): "
                f"{safe.mrkdwn(reason)}"),
        section(f"*What to do*\n{safe.escape(safe.clean(guidance, limit=2500, one_line=False))}"),
    ]
    if lines:
        blocks.append(section("*Agents*\n" + fold_lines(lines)))
    return Message(text=f"Upgrade failed (plan #{snap.id}): {safe.mrkdwn(reason, limit=200)}",
                   blocks=to_dicts(blocks))


def cancelled(snap: PlanSnapshot, *, actor: str, reason: str, agents: Sequence[AgentState],
              settled: bool = True) -> Message:
    lines = [_agent_line(row) for row in agent_dicts(agents)]
    head = f":no_entry: *Plan #{snap.id} cancelled* by {safe.user(actor)}"
    if safe.clean(reason):  # empty when the person gave none
        head += f": {safe.mrkdwn(reason)}"
    blocks: list[Block] = [section(head)]
    if lines:
        title = ("*Where the agents ended* (not rolled back)" if settled else
                 "*The agents had not settled* when the bot stopped watching; check them in Cube "
                 "(System Center > Agents)")
        blocks.append(section(title + "\n" + fold_lines(lines)))
    return Message(text=f"Plan #{snap.id} cancelled", blocks=to_dicts(blocks))


def rejected(snap: PlanSnapshot, *, actor: str, reason: str) -> Message:
    text = (f":x: *Plan #{snap.id} rejected* by {safe.user(actor)}: "
            f"{safe.mrkdwn(reason, limit=1500, one_line=False)}\n"
            f"The plan is cancelled; nothing was changed on {safe.name(snap.dms_name)}.")
    return Message(text=f"Plan #{snap.id} rejected", blocks=to_dicts([section(text)]))


def key_functionalities_request(snap: PlanSnapshot) -> Message | None:
    """After "done": the MOP's last step is the requester's (None when it is already ticked)."""
    item = next((i for i in snap.checklist if i.key == KEY_FUNCTIONALITIES_KEY), None)
    if item is None or item.checked:
        return None
    text = (f"<@{snap.requester}>, please check the key functionalities of {safe.name(snap.dms_name)} "
            f"now and tick “{item.title}” on the plan message.")
    # Other steps after the upgrade (a helper's post-migration steps, hotfixes, key checks) are the same
    # person's; name them too so none is forgotten.
    others = [i.title for i in snap.open_required_manual if i.phase.value == "verify" and i.key != item.key]
    if others:
        lines = [f"• {safe.mrkdwn(title, limit=300)}" for title in others]
        text += "\nAlso still open after the upgrade:\n" + fold_lines(lines, budget=2000)
    return note(text)


def cancelling(snap: PlanSnapshot, *, actor: str, reason: str) -> Message:
    """Said when a cancel arrives while a hop runs: what the cancel did and what it cannot do."""
    text = (f":hourglass_flowing_sand: *Plan #{snap.id} is being cancelled* by {safe.user(actor)}"
            + (f": {safe.mrkdwn(reason, limit=1000, one_line=False)}" if reason.strip() else "") + ".\n"
            + CANCEL_RUNNING_EFFECT)
    return Message(text=f"Plan #{snap.id} is being cancelled", blocks=to_dicts([section(text)]))


def status_short(snap: PlanSnapshot, *, lead: str) -> Message:
    """The ephemeral answer to ``/dm-upgrade status``, a dozen lines at most: the state, ``lead`` (the next
    step: who must do what, by when), the window, progress and ETA, what waits on whom, and the word that
    shows the whole plan (``status_summary``)."""
    lines = [f"*Plan #{snap.id}*{simulated_mark(snap)}: {safe.name(snap.dms_name)} {versions(snap)} "
             f"(track: {safe.name(snap.track_label)}) — *{snap.state.label}*", lead,
             f"Window: {window_text(snap)}", _progress_line(snap)]
    ticked = sum(item.checked for item in snap.checklist)
    lines.append(f"Checklist: {ticked}/{len(snap.checklist)} ticked (the whole plan: the button below, or "
                 f"`/dm-upgrade status {snap.id} full`)")
    lines += _waiting_lines(snap)
    if snap.agents:
        rows = agent_dicts(snap.agents)
        counts = Counter(safe.name(row.get("status", "?")) for row in rows)
        lines.append(f"Agents: {len(rows)} ({', '.join(f'{k} {n}' for k, n in sorted(counts.items()))})")
    if snap.precheck is not None:
        verdict = "passed" if snap.precheck.passed else f"failed ({len(snap.precheck.failed)} problem(s))"
        lines.append(f"Last pre-upgrade check {verdict}, {when(snap.precheck.finished_at)}")
    text = "\n".join(truncate(line, 600) for line in lines if line)
    full = ButtonElement(text="Show the whole plan", action_id=ActionId.STATUS_FULL.value,
                         value=PlanButton(plan_id=snap.id).encode())
    return Message(text=f"Plan #{snap.id}{simulated_mark(snap)}: {snap.state.label}",
                   blocks=to_dicts([section(truncate(text, TEXT_BUDGET)), ActionsBlock(elements=[full])]))


def _progress_line(snap: PlanSnapshot) -> str:
    done = sum(hop.status == "done" for hop in snap.hops)
    ran = snap.state in _RAN or any(hop.status != "pending" for hop in snap.hops)
    if not ran:
        estimate = (f", execution estimate {span(snap.estimate.low_minutes, snap.estimate.high_minutes)}"
                    if snap.estimate is not None else "")
        return f"Progress: not started ({len(snap.hops)} hop{'s' if len(snap.hops) != 1 else ''}{estimate})"
    current = next((hop for hop in snap.hops if hop.status != "done"), None)
    bar = progress_bar(progress_fraction(snap, agent_dicts(snap.agents)))
    where = (f"hop {current.position + 1}/{len(snap.hops)} {safe.name(current.status)}" if current
             else f"{done}/{len(snap.hops)} hops done")
    eta = f" · ETA {when(snap.eta) if snap.eta else 'unknown'}" if snap.state.in_flight else ""
    return f"Progress: `{bar}` · {where}{eta}"


# States in which the execution ran (or runs): their progress is a bar, not the estimate.
_RAN = (PlanState.EXECUTING, PlanState.VERIFYING, PlanState.CANCELLING, PlanState.DONE, PlanState.FAILED)


def _waiting_lines(snap: PlanSnapshot) -> list[str]:
    """Who holds the plan up and with what; the requester owns the manual items (``workflow.roles``)."""
    lines = []
    if snap.state is PlanState.AWAITING_APPROVAL:
        lines.append("Waiting on an approver: the approval (Approve or Reject in the thread)")
    before = not snap.terminal and not snap.state.in_flight and snap.state is not PlanState.CANCELLING
    open_items = [item for item in snap.open_required_manual
                  if (before and item.phase.value != "verify") or snap.state is PlanState.DONE]
    if open_items:
        names = [short_name(item.key) or item.title for item in open_items]
        shown = ", ".join(safe.mrkdwn(name, limit=60) for name in names[:4])
        more = f" (+{len(names) - 4} more)" if len(names) > 4 else ""
        lines.append(f"Waiting on {safe.user(snap.requester)}: {len(open_items)} open checklist "
                     f"item(s): {shown}{more}")
    if snap.state.in_flight or snap.state is PlanState.CANCELLING:
        lines.append("Waiting on the bot: it is working on the DMS; nothing for a person to do")
    return lines


def status_summary(snap: PlanSnapshot, *, lead: str = "", notes: Sequence[str] = ()) -> Message:
    """The ephemeral answer to ``/dm-upgrade status <id> full``: ``lead`` (the next step: who must do
    what, by when), then the plan message without its buttons."""
    full = plan_message(snap, notes=notes)
    blocks = [block for block in full.blocks if block.get("type") not in ("actions",)]
    if lead:
        blocks.insert(0, section(lead).to_dict())
    # Ephemeral copies must not carry interactive checkboxes: ticking there would not update the plan.
    for block in blocks:
        accessory = block.pop("accessory", None)
        if accessory and accessory.get("type") == "checkboxes":
            ticked = {option["value"] for option in accessory.get("initial_options", [])}
            # The options are plain_text; here they become mrkdwn, so they are escaped again.
            lines = [("☑ " if option["value"] in ticked else "☐ ") + safe.mrkdwn(option["text"]["text"])
                     for option in accessory.get("options", [])]
            block["text"]["text"] = truncate(block["text"]["text"] + "\n" + "\n".join(lines), 3000)
    if snap.agents:
        blocks.append(status_message(snap).blocks[-1])
    return Message(text=full.text, blocks=blocks[:50])


def history(snaps: Sequence[PlanSnapshot]) -> Message:
    lines = [f"• {title_line(snap)}, window {window_text(snap)}, requested by {safe.user(snap.requester)}"
             for snap in snaps]
    text = "*Latest upgrade plans*\n" + fold_lines(lines, empty="_no plans yet_")
    return Message(text="Latest upgrade plans", blocks=to_dicts([section(text)]))
