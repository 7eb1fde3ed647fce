"""One ACP session: a Wren Session whose events become session/update notifications.

A thread drains the session's event stream (tool progress included) into this loop's
queue. One pump task turns it into notifications in order, asks the editor for
permission, and ends each prompt with its stop reason once every update of the turn
has been sent.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, Literal

from acp.exceptions import RequestError
from acp.helpers import (ToolCallContentVariant, text_block, tool_content, tool_terminal_ref,
                         update_agent_message_text, update_agent_thought_text, update_available_commands,
                         update_current_mode, update_tool_call)
from acp.schema import (ConfigOptionUpdate, PermissionOption, PromptResponse, SessionModeState, StopReason,
                        ToolCallLocation, ToolCallUpdate)

from wren.core.events import (ApprovalRequested, AssistantDelta, AssistantMessage, CompactionUndone, ContextCompacted,
                               ContextForgotten, ContextPinned, EffortChanged, ErrorEvent, ModelChanged, PlanUpdated,
                               Result, ThoughtDelta, ToolCallEvent, ToolProgress, ToolResultEvent, ToolStarted,
                               UsageEvent)
from wren.core.ops import (ApprovalDecision, Interrupt, PlanDecision, SetApprovalMode, SetMode, Shutdown,
                           UserInput)
from wren.agent.plan import render_plan
from wren.agent.session import Session
from wren.protocol import plan_files, updates
from wren.protocol.bridge import Bridge
from wren.protocol.options import PLAN, ConfigOptions, available_commands, config_options, session_modes

log = logging.getLogger("wren.acp")

_END = object()
CLOSE_TIMEOUT_S = 3.0
PERMISSIONS = [PermissionOption(option_id="allow_once", name="Allow once", kind="allow_once"),
               PermissionOption(option_id="allow_always", name="Always allow", kind="allow_always"),
               PermissionOption(option_id="reject_once", name="Reject", kind="reject_once"),
               PermissionOption(option_id="reject_always", name="Always reject", kind="reject_always")]
ALLOWS: tuple[Literal["allow_once", "allow_always"], ...] = ("allow_once", "allow_always")
# A proposed plan's question: each "yes" option's id is the approval mode the plan then runs in.
PLAN_CHOICES = [PermissionOption(option_id="auto-edit", name="Yes, and edits run without asking", kind="allow_once"),
                PermissionOption(option_id="ask", name="Yes, and ask before each change", kind="allow_once"),
                PermissionOption(option_id="reject", name="No, keep planning", kind="reject_once")]


@dataclass
class Turn:
    done: asyncio.Future[StopReason]
    cancelled: bool = False


@dataclass
class CallView:
    """What the editor has been shown of one tool call."""
    call: ToolCallEvent | None
    shown: list[ToolCallContentVariant] = field(default_factory=list)


class LiveSession:
    def __init__(self, session: Session, bridge: Bridge, model: str, models: list[str],
                 notes: list[str] | None = None) -> None:
        self.session, self.model, self.models = session, model, models
        self.notes = list(notes or [])  # warnings from before the editor knew the session (MCP servers' starts)
        self.id = session.id
        self.client = bridge.client
        self.root = session.workspace.root
        self._items: asyncio.Queue[object] = asyncio.Queue()  # the session's events, then _END
        self._calls: dict[str, CallView] = {}
        self._turn: Turn | None = None
        self._asks: set[asyncio.Task[None]] = set()
        self._rejected: set[str] = set()  # tools the user rejected "always" in this session
        self._streamed = False
        # The editor's view of plan mode and effort: the session applies SetMode and SetEffort later.
        self.planning, self.effort = session.mode == PLAN, session.effort
        loop = asyncio.get_running_loop()
        threading.Thread(target=self._forward, args=(loop,), name=f"wren-acp-{self.id}", daemon=True).start()
        self._pump_task = asyncio.create_task(self._pump(), name=f"wren-acp-pump-{self.id}")

    # ---- requests from the editor -------------------------------------------------------
    async def prompt(self, text: str) -> PromptResponse:
        if self._turn is not None and not self._turn.done.done():
            raise RequestError.invalid_request({"reason": "a prompt is already running in this session"})
        self._turn = Turn(asyncio.get_running_loop().create_future())
        self.session.submit(UserInput(text=text))
        return PromptResponse(stop_reason=await self._turn.done)

    def cancel(self) -> None:
        if self._turn is not None and not self._turn.done.done():
            self._turn.cancelled = True
            self.session.submit(Interrupt())
        for ask in list(self._asks):
            ask.cancel()  # the interrupt already answers the session; the editor's late reply is moot

    async def set_mode(self, mode: str, announce_mode: bool, announce_options: bool) -> None:
        """An approval mode (which also ends plan mode), or plan mode (the approval mode stays for later)."""
        self.planning = mode == PLAN
        self.session.submit(SetMode(mode="plan" if self.planning else "act"))
        if not self.planning:
            self.session.submit(SetApprovalMode(mode=mode))  # type: ignore[arg-type]
        if announce_mode:
            await self.send(update_current_mode(mode))
        if announce_options:
            await self.announce_options()

    async def announce_options(self) -> None:
        await self.send(ConfigOptionUpdate(session_update="config_option_update", config_options=self.options()))

    def options(self) -> ConfigOptions:
        return config_options(self.mode, self.model, self.models, self.effort)

    @property
    def mode(self) -> str:
        return PLAN if self.planning else self.session.policy.mode

    def modes(self) -> SessionModeState:
        return session_modes(self.mode)

    async def send(self, update: Any) -> None:
        await self.client.session_update(session_id=self.id, update=update)

    async def announce_commands(self) -> None:
        """The slash commands, then the warnings held until the editor knew the session's id."""
        await self.send(update_available_commands(available_commands()))
        notes, self.notes = self.notes, []
        for note in notes:
            await self.send(update_agent_thought_text(f"warning: {note}"))

    async def say(self, text: str) -> PromptResponse:
        """Answer a prompt without the model (slash commands)."""
        await self.send(update_agent_message_text(text))
        return PromptResponse(stop_reason="end_turn")

    async def close(self) -> None:
        self.cancel()
        self.session.submit(Shutdown())
        try:
            await asyncio.wait_for(asyncio.shield(self._pump_task), CLOSE_TIMEOUT_S)
        except asyncio.TimeoutError:
            log.warning("session %s did not stop within %ss", self.id, CLOSE_TIMEOUT_S)
        if self.session.cfg.mcp is not None:
            await asyncio.to_thread(self.session.cfg.mcp.close)

    # ---- events out ---------------------------------------------------------------------
    def _forward(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            for event in self.session.events():
                loop.call_soon_threadsafe(self._items.put_nowait, event)
            loop.call_soon_threadsafe(self._items.put_nowait, _END)
        except RuntimeError:
            pass  # the loop closed first: the server is exiting and nobody listens any more

    async def _pump(self) -> None:
        while (item := await self._items.get()) is not _END:
            try:
                await self._handle(item)
            except ConnectionError:
                log.info("editor disconnected; dropping %s", type(item).__name__)
            except Exception:
                # One update that cannot be built must not leave the prompt waiting forever.
                log.exception("could not send %s to the editor", type(item).__name__)
        self._end(None)

    async def _handle(self, item: Any) -> None:
        if isinstance(item, AssistantDelta):
            self._streamed = True
            await self.send(update_agent_message_text(item.text))
        elif isinstance(item, AssistantMessage):
            if item.content and not self._streamed:  # a backend that did not stream
                await self.send(update_agent_message_text(item.content))
            self._streamed = False
        elif isinstance(item, ToolCallEvent):
            self._calls[item.call_id] = CallView(item)
            await self.send(updates.start(self.root, item))
        elif isinstance(item, (ToolStarted, ToolProgress)):
            await self._progress(item)
        elif isinstance(item, ApprovalRequested):
            self._ask(item)
        elif isinstance(item, ToolResultEvent):
            view = self._calls.pop(item.call_id, CallView(None))
            await self.send(updates.finish(self.root, item, view.call, view.shown))
        else:
            await self._report(item)

    async def _report(self, item: Any) -> None:
        if isinstance(item, PlanUpdated):
            await self.send(updates.plan(item))
        elif isinstance(item, UsageEvent):
            await self.send(updates.usage(item))
        elif isinstance(item, ErrorEvent) and not item.fatal:
            await self.send(update_agent_thought_text(f"warning: {item.message}"))
        elif isinstance(item, ThoughtDelta):
            await self.send(update_agent_thought_text(item.text))
        elif isinstance(item, ModelChanged):
            role = "" if item.role == "main" else f" for {item.role}"
            await self.send(update_agent_thought_text(f"now on {item.model}{role}"))
        elif isinstance(item, EffortChanged):
            await self.send(update_agent_thought_text(
                f"effort {item.effort}: " + (item.applied if item.supported else f"not supported ({item.applied})")))
        elif isinstance(item, ContextCompacted):
            await self.send(update_agent_thought_text(
                f"context compacted: {item.tokens_before} → {item.tokens_after} tokens"))
        elif isinstance(item, (ContextForgotten, ContextPinned, CompactionUndone)):
            await self.send(update_agent_thought_text(updates.context_change(item)))
        elif isinstance(item, Result) and item.plan is not None and self._turn is not None:
            self._ask_plan(item)
        elif isinstance(item, Result):
            self._end(item)

    async def _progress(self, item: ToolStarted | ToolProgress) -> None:
        view = self._calls.setdefault(item.call_id, CallView(None))
        if isinstance(item, ToolStarted):
            await self.send(update_tool_call(item.call_id, status="in_progress"))
            return
        view.shown.append(tool_terminal_ref(item.terminal_id) if item.terminal_id
                          else tool_content(text_block(item.text)))
        await self.send(update_tool_call(item.call_id, content=view.shown))

    def _end(self, result: Result | None) -> None:
        turn = self._turn
        if turn is None or turn.done.done():
            return
        if result is None:
            turn.done.set_exception(RequestError.internal_error({"details": "the session stopped mid-turn"}))
        elif turn.cancelled or result.status == "interrupted":
            turn.done.set_result("cancelled")
        elif result.status == "error" and result.error is not None and result.error.kind != "content_policy":
            turn.done.set_exception(RequestError(-32603, result.error.message, {"kind": result.error.kind}))
        else:
            turn.done.set_result(_stop_reason(result))

    # ---- permissions --------------------------------------------------------------------
    def _ask_plan(self, result: Result) -> None:
        """A plan turn ended with a plan: the prompt stays open while the editor asks the user; "yes"
        runs it (the prompt then ends with that turn), "no" ends the prompt with nothing changed."""
        task = asyncio.create_task(self._request_plan_approval(result))
        self._asks.add(task)
        task.add_done_callback(self._asks.discard)

    async def _request_plan_approval(self, result: Result) -> None:
        assert result.plan is not None
        # ACP's permission request cannot carry an edited text back: the plan goes to a file the user
        # can edit in the editor before approving; what the file says then is the plan that runs.
        shown = render_plan(result.plan)
        try:
            plan_file: Path | None = plan_files.write(self.root, self.id, shown)
        except OSError as exc:  # the plan can still be approved as proposed
            log.warning("could not write the plan file: %s", exc)
            plan_file = None
        hint = f"\n\n{plan_files.EDIT_HINT.format(plan_files.rel(plan_file))}" if plan_file else ""
        subject = ToolCallUpdate(
            tool_call_id=f"plan-{id(result)}", title="Carry out this plan?", kind="think", status="pending",
            content=[tool_content(text_block(shown + hint))],
            locations=[ToolCallLocation(path=str(plan_file))] if plan_file else None)
        try:
            reply = await self.client.request_permission(session_id=self.id, tool_call=subject, options=PLAN_CHOICES)
            choice = reply.outcome.option_id if reply.outcome.outcome == "selected" else "reject"
        except (RequestError, ConnectionError) as exc:
            log.warning("could not ask to approve the plan: %s", exc)
            choice = "reject"
        except asyncio.CancelledError:  # session/cancel while the editor asked: the plan is not approved
            choice = "reject"
        if choice == "reject":
            self.session.submit(PlanDecision(decision="reject"))
            self._end(result)
            return
        self.planning = False
        edited = plan_files.read_edited(plan_file, shown) if plan_file else None
        self.session.submit(PlanDecision(decision="approve", approval=choice, plan=edited))  # type: ignore[arg-type]
        await self.send(update_current_mode(choice))
        await self.announce_options()

    def _ask(self, event: ApprovalRequested) -> None:
        if event.name in self._rejected:
            self.session.submit(ApprovalDecision(call_id=event.call_id, decision="deny",
                                                 message=f"the user rejected {event.name} for this session"))
            return
        task = asyncio.create_task(self._request_permission(event))
        self._asks.add(task)
        task.add_done_callback(self._asks.discard)

    async def _request_permission(self, event: ApprovalRequested) -> None:
        tool = self.session.registry.tools.get(event.name)
        subject = updates.permission_subject(self.root, event, tool.kind if tool else "other")
        try:
            reply = await self.client.request_permission(session_id=self.id, tool_call=subject, options=PERMISSIONS)
        except (RequestError, ConnectionError) as exc:
            decision = ApprovalDecision(call_id=event.call_id, decision="deny",
                                        message=f"the editor could not ask for permission: {exc}")
        else:
            choice = reply.outcome.option_id if reply.outcome.outcome == "selected" else "cancelled"
            if choice == "reject_always":
                self._rejected.add(event.name)
            decision = _decision(event.call_id, choice)
        self.session.submit(decision)


def _decision(call_id: str, choice: str) -> ApprovalDecision:
    if choice in ALLOWS:
        return ApprovalDecision(call_id=call_id, decision=choice)
    why = "the permission request was cancelled" if choice == "cancelled" else "the user rejected this call"
    return ApprovalDecision(call_id=call_id, decision="deny", message=why)


def _stop_reason(result: Result) -> StopReason:
    if result.status == "limit":
        return "max_turn_requests"
    if result.status == "error":
        return "refusal"  # only a content-policy refusal gets here; other errors answer as errors
    return "end_turn"
