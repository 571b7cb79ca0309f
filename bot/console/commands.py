"""The console's line interpreter: one typed line -> requests to the bot, and what followed, printed.

Lines: the slash command, ``click N`` / ``tick N`` on the numbered elements of a message, ``window ...`` to
fill the window form, ``/as NAME``, ``show``, ``help``. A line fails (``Console.handle`` returns False) when
the bot answered with an error or a refusal, or the console could not do what it asked.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TextIO

from bot.console.home_tab import open_home
from bot.console.render import MessageState
from bot.console.session import ConsoleError, ConsoleSession, quoted
from handlers.blocks.render import Element
from handlers.ids import ActionId
from workflow.model.checklist import key_named

log = logging.getLogger(__name__)

HELP = """\
  /dm-upgrade <args>        the slash command, e.g. /dm-upgrade plan 10.5  (/dm-upgrade help for its usage)
  click N [in mK]           click button [N] of the latest message with buttons (or of message mK)
  tick N|NAME ... [in mK]   tick or untick checkboxes, by number (N) or short name (tick backup), one
                            click each
  window now [for 2h]       set the plan's window (opens the form if needed, fills it, submits it)
  window YYYY-MM-DD HH:MM [for 4h]
  submit [TEXT] | close     submit the open form as shown (TEXT fills its text field, e.g. a reason)
                            | close it
  show [mK]                 print a message in full (default: the latest plan message)
  home                      open the bot's Home tab as the acting user and print it
  /dm-upgrade timeline [id] the plan's timeline picture: written to a file, its path printed
  /as NAME                  act as another user: alice (requester), bob (approver), carol (not an approver)
  help | quit
  In messages: [N] Label* is the main button, [N] Label! a dangerous one; (N) [x] is a ticked checkbox."""

_WINDOW_RE = re.compile(r"^window\s+(?:(?P<now>now)|(?P<date>\d{4}-\d{2}-\d{2})\s+(?P<time>\d{1,2}:\d{2}))"
                        r"(?:\s+for\s+(?P<dur>\S+))?\s*$", re.IGNORECASE)
_ACT_RE = re.compile(r"^(?P<verb>click|tick)\s+(?P<n>[\w.-]+(?:[\s,]+[\w.-]+)*?)"
                     r"(?:\s+in\s+(?P<label>#?m\d+))?\s*$", re.IGNORECASE)
ReadLine = Callable[[], Awaitable[str | None]]
FormValues = dict[str, dict[str, dict[str, Any]]]


class Console:
    """The loop: one line in, the bot's reaction out."""

    def __init__(self, session: ConsoleSession, *, out: TextIO, interactive: bool, timeout_s: float) -> None:
        self.session = session
        self.out = out
        self.interactive = interactive
        self.timeout_s = timeout_s
        self.read_line: ReadLine | None = None
        self.busy = False  # a line is being handled: its own output comes first

    def prompt(self) -> None:
        if self.interactive:
            self.out.write(f"{self.session.user}> ")
            self.out.flush()

    def print(self, *lines: str) -> None:
        for line in lines:
            print(line, file=self.out)
        self.out.flush()

    async def run_lines(self, read_line: ReadLine) -> int:
        self.read_line = read_line
        failed = False
        while True:
            self.prompt()
            line = await read_line()
            if line is None:
                break
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.lower() in ("quit", "exit"):
                break
            if not self.interactive:
                self.print(f"{self.session.user}> {line}")
            self.busy = True
            try:
                ok = await self.handle(line)
            finally:
                self.busy = False
            failed = failed or not ok
        return 1 if failed else 0

    async def handle(self, line: str) -> bool:
        """Do one line and print what followed; False if it failed."""
        self.session.take_errors()
        problem: str | None = None
        try:
            await self.do(line)
            await self.wait()
        except ConsoleError as exc:
            problem = str(exc)
        except Exception as exc:  # a bug must not end the session; the log has the traceback
            log.exception("console line %r failed", line)
            problem = f"internal error ({type(exc).__name__}); see the log"
        self.print(*self.session.drain())
        errors = self.session.take_errors()
        if problem is not None:
            self.print(f"  ! {problem}")
        return problem is None and not errors

    async def wait(self) -> None:
        if self.interactive:
            # Show the direct reaction, then return to the prompt; later progress prints as it comes.
            with contextlib.suppress(ConsoleError, TimeoutError):
                await asyncio.wait_for(self.session.settle(timeout_s=3.0), timeout=3.5)
        else:
            await self.session.settle(timeout_s=self.timeout_s)

    async def do(self, line: str) -> None:
        s = self.session
        lowered = line.lower()
        if lowered.startswith("/dm-upgrade"):
            await s.slash(line[len("/dm-upgrade"):].strip())
        elif lowered.startswith("/as"):
            name = line[3:].strip()
            if not name:
                raise ConsoleError("/as needs a user name, e.g. /as bob")
            s.switch_user(name)
            approvers = s.runtime.settings.upgrade_approvers
            role = "an approver" if s.user_id in approvers else "not an approver"
            self.print(f"  (now acting as {s.user}, {role})")
        elif lowered == "help":
            self.print(HELP)
        elif (match := _ACT_RE.match(line)) is not None:
            numbers = re.split(r"[\s,]+", match["n"])
            if len(numbers) > 1 and match["verb"].lower() != "tick":
                raise ConsoleError("click takes one number; tick takes several (tick 5 6 7, tick backup)")
            label = match["label"]
            for i, number in enumerate(numbers):
                if i:  # one click at a time, as a person does: the next one sees the message it changed
                    await self.session.settle(timeout_s=self.timeout_s)
                await self.act(number, verb=match["verb"].lower(), label=label)
        elif (match := _WINDOW_RE.match(line)) is not None:
            await self.window(match)
        elif lowered == "submit" or lowered.startswith("submit "):
            await s.submit_view(self.form_values(start=None, duration=None, text=line[6:].strip()))
        elif lowered == "close":
            s.close_view()
        elif lowered == "home":
            self.print(*s.drain(), *await open_home(s, timeout_s=self.timeout_s))
        elif lowered.startswith("show"):
            self.show(line[4:].strip())
        else:
            raise ConsoleError(f"unknown command {quoted(line.split()[0])}: type help")

    async def act(self, item: str, *, verb: str, label: str | None) -> None:
        """Click or tick ``item`` (an element's number, or a checklist item's short name) of ``label``."""
        s = self.session
        state = self._holder(item) if label is None else None
        if label is None and state is None:
            raise ConsoleError("no message has buttons or checkboxes yet")
        try:
            state = state or s.transcript.by_label(label or "")
        except LookupError as exc:
            raise ConsoleError(str(exc)) from None
        try:
            element = state.rendered.element(int(item)) if item.isdigit() else _named(state, item)
        except LookupError:
            raise ConsoleError(f"{state.label} has no element {item}") from None
        number = element.number
        if verb == "tick" and element.kind != "checkbox":
            raise ConsoleError(f"[{number}] in {state.label} is a button: use click {number}")
        confirm = element.raw.get("confirm")
        if element.kind == "button" and isinstance(confirm, dict) and not await self.confirm(confirm):
            self.print("  (cancelled)")
            return
        await s.act(element, label=state.label)

    def _holder(self, item: str) -> MessageState | None:
        """Without ``in mK``: the message on screen showing element ``item`` (numbers are unique among the
        answers' buttons and the newest messages), or with a checkbox of that short name; else the latest
        message with elements, to say it has no such element."""
        transcript = self.session.transcript
        if item.isdigit():
            found = transcript.owner_of(int(item))
        else:
            named = [m for m in transcript.messages.values() if not m.deleted and _has_name(m, item)]
            found = max(named, key=lambda m: m.order, default=None)
        return found or transcript.latest_with_elements()

    async def confirm(self, dialog: dict[str, Any]) -> bool:
        render = self.session.transcript.render
        title = render(None, _plain(dialog.get("title"))).text
        text = render(None, _plain(dialog.get("text"))).text
        if not self.interactive or self.read_line is None:
            self.print(f"  (confirm dialog \"{title}\": {text} -> confirmed)")
            return True
        # "Approve the upgrade? The bot ..." rather than "upgrade?: The bot ...".
        separator = " " if title.endswith(("?", "!", ".")) else ": "
        self.out.write(f"  {title}{separator}{text} [y/N] ")
        self.out.flush()
        answer = await self.read_line()
        return (answer or "").strip().lower() in ("y", "yes")

    async def window(self, match: re.Match[str]) -> None:
        s = self.session
        if s.transcript.view is None:
            state = s.transcript.latest_with_action(ActionId.SET_WINDOW.value)
            if state is None:
                raise ConsoleError("no plan message offers a window: plan first")
            button = next(e for e in state.rendered.elements if e.action_id == ActionId.SET_WINDOW.value)
            await s.act(button, label=state.label)
            await s.settle(timeout_s=self.timeout_s)
            self.print(*s.drain())
            if s.transcript.view is None:
                raise ConsoleError("the window form did not open")
        if match["now"]:
            # Slack's time picker has minute steps; the engine counts the current minute as "now".
            start = datetime.now(UTC).replace(second=0, microsecond=0)
            await s.submit_view(self.form_values(start=start, duration=match["dur"]))
        else:
            try:
                naive = datetime.strptime(f"{match['date']} {match['time']}", "%Y-%m-%d %H:%M")
            except ValueError:
                raise ConsoleError(f"{match['date']} {match['time']} is not a date and time") from None
            start = naive.replace(tzinfo=UTC)
            await s.submit_view(self.form_values(start=start, duration=match["dur"]))
        self.print(f"  (form submitted: window from {start:%Y-%m-%d %H:%M} UTC"
                   + (f" for {match['dur']}" if match["dur"] else "") + ")")

    def form_values(self, *, start: datetime | None, duration: str | None, text: str = "") -> FormValues:
        """``state.values`` of the open form: the shown values, with the start, the duration and the free
        text (the reason of an override or a rejection) replaced."""
        view = self.session.transcript.view
        if view is None:
            raise ConsoleError("no form is open")
        values: dict[str, dict[str, dict[str, Any]]] = {}
        for block in view.get("blocks") or []:
            element = block.get("element") or {}
            if block.get("type") != "input" or not element.get("action_id"):
                continue
            kind = element.get("type")
            state: dict[str, Any] = {"type": kind}
            if kind == "datepicker":
                state["selected_date"] = start.strftime("%Y-%m-%d") if start else element.get("initial_date")
            elif kind == "timepicker":
                state["selected_time"] = start.strftime("%H:%M") if start else element.get("initial_time")
            elif kind == "datetimepicker":
                state["selected_date_time"] = (int(start.timestamp()) if start
                                               else element.get("initial_date_time"))
            elif kind == "static_select":
                state["selected_option"] = element.get("initial_option")
            else:
                is_duration = "duration" in str(element.get("action_id"))
                given = duration if is_duration else text
                state["value"] = given or element.get("initial_value")
            values.setdefault(str(block.get("block_id")), {})[str(element["action_id"])] = state
        return values

    def show(self, label: str) -> None:
        transcript = self.session.transcript
        state: MessageState | None
        if label:
            if not _is_label(label):
                raise ConsoleError(f"{quoted(label)} is not a message label (m1, m2 ...)")
            try:
                state = transcript.by_label(label)
            except LookupError as exc:  # a well-formed label of no message: a typo, not a crash
                raise ConsoleError(str(exc)) from None
        else:
            top = [m for m in transcript.messages.values() if m.thread_ts is None and not m.deleted]
            state = max(top, key=lambda m: m.order, default=None)
            if state is None:
                raise ConsoleError("nothing to show yet")
        self.print(*transcript.full(state))


def _named(state: MessageState, name: str) -> Element:
    """The checkbox of the checklist item called ``name`` (short name or key); LookupError if none."""
    boxes = {e.value: e for e in state.rendered.elements if e.kind == "checkbox" and e.value}
    key = key_named(name, keys=list(boxes))
    if key is None:
        raise LookupError(name)
    return boxes[key]


def _has_name(state: MessageState, name: str) -> bool:
    try:
        _named(state, name)
    except LookupError:
        return False
    return True


def _is_label(text: str) -> bool:
    return re.fullmatch(r"#?m\d+", text.strip().lower()) is not None


def _plain(obj: object) -> str:
    return str(obj.get("text", "")) if isinstance(obj, dict) else str(obj or "")
