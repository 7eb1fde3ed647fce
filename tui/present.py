"""Session events onto the screen: one small handler per event type."""
from __future__ import annotations

from pathlib import PurePath
from typing import TYPE_CHECKING

from wren.core.events import (ApprovalRequested, ApprovalResolved, AssistantDelta, AssistantMessage,
                               CompactionUndone, ContextCompacted, ContextForgotten, ContextPinned, EffortChanged,
                               ErrorEvent, Event, ModelChanged, PlanProposed, PlanResolved, Result, SessionStarted,
                               ThoughtDelta, ToolCallEvent, ToolResultEvent, TurnEnded, UserMessage)
from wren.tui.glance import model_label
from wren.tui.prompt import PromptInput

if TYPE_CHECKING:
    from wren.tui.app import WrenApp

TURN_ENDINGS = {"interrupted": "interrupted", "limit": "stopped", "denied": "finished with denied calls",
                "failed": "stopped without finishing", "error": "stopped by an error"}


class Presenter:
    """Live events may open the approval modal; replayed ones (a resumed session's log) only draw."""

    def __init__(self, app: "WrenApp") -> None:
        self.app = app

    async def show(self, event: Event, live: bool) -> None:
        self.app.state.apply(event)
        handler = getattr(self, f"_{event.type}", None)
        if handler is not None:
            await handler(event, live)
        if not isinstance(event, (AssistantDelta, ThoughtDelta)):  # fast streams stay cheap
            self.app.refresh_glance()

    async def _session_started(self, ev: SessionStarted, live: bool) -> None:
        if not live:
            return
        if ev.resumed:
            await self.app.note(f"resumed session {ev.session_id}")
        else:
            await self.app.note(f"Wren in {PurePath(ev.cwd).name} · {model_label(ev.model)} · approval {ev.approval} "
                                "· /help lists commands and keys")

    async def _model_changed(self, ev: ModelChanged, live: bool) -> None:
        if ev.role != "main":
            await self.app.note(f"the {ev.role} role now runs on {model_label(ev.model)}")
            return
        window = f" ({ev.window:,}-token window)" if ev.window else ""
        await self.app.note(f"now on {model_label(ev.model)}{window}; the conversation goes on")

    async def _effort_changed(self, ev: EffortChanged, live: bool) -> None:
        if ev.supported:
            await self.app.note(f"effort {ev.effort}: {ev.applied}")
        else:
            await self.app.note(f"effort {ev.effort} is not supported here: {ev.applied}", "warning")

    async def _thought_delta(self, ev: ThoughtDelta, live: bool) -> None:
        await self.app.transcript.thought(ev.text)

    async def _plan_proposed(self, ev: PlanProposed, live: bool) -> None:
        if live:
            self.app.review_plan(ev.plan)

    async def _plan_resolved(self, ev: PlanResolved, live: bool) -> None:
        if ev.decision == "reject":
            await self.app.note("plan rejected; nothing changed")
        else:
            await self.app.note(f"plan approved; it runs now in {ev.approval or 'the current'} mode")

    async def _result(self, ev: Result, live: bool) -> None:
        if set(ev.usage_by_role) - {"main"}:
            await self.app.note("usage by role: " + " · ".join(
                f"{role} {u.prompt_tokens}+{u.completion_tokens} tokens ${u.cost_usd:.4f}"
                for role, u in ev.usage_by_role.items()))

    async def _user_message(self, ev: UserMessage, live: bool) -> None:
        if not live:  # a resumed session's prompts are in the input's history too
            self.app.query_one(PromptInput).prompts.add(ev.text)
        await self.app.transcript.user(ev.text)

    async def _assistant_delta(self, ev: AssistantDelta, live: bool) -> None:
        if live:
            await self.app.transcript.delta(ev.text)

    async def _assistant_message(self, ev: AssistantMessage, live: bool) -> None:
        await self.app.transcript.reply(ev.content)

    async def _tool_call(self, ev: ToolCallEvent, live: bool) -> None:
        await self.app.transcript.tool_call(ev)

    async def _approval_requested(self, ev: ApprovalRequested, live: bool) -> None:
        self.app.transcript.approval(ev.call_id, waiting=True)
        if live:
            self.app.ask_approval(ev)

    async def _approval_resolved(self, ev: ApprovalResolved, live: bool) -> None:
        self.app.transcript.approval(ev.call_id, waiting=False, resolved=ev)
        self.app.close_approval(ev.call_id)

    async def _tool_result(self, ev: ToolResultEvent, live: bool) -> None:
        self.app.transcript.tool_result(ev)

    async def _context_compacted(self, ev: ContextCompacted, live: bool) -> None:
        await self.app.note(f"context compacted: {ev.tokens_before} → {ev.tokens_after} tokens, {ev.evicted} "
                            "messages moved to memory (/context shows them)")

    async def _context_pinned(self, ev: ContextPinned, live: bool) -> None:
        await self.app.note(f"pinned: {ev.text} (/context shows the pins)")

    async def _context_forgotten(self, ev: ContextForgotten, live: bool) -> None:
        await self.app.note(f"forgot {len(ev.call_ids)} tool result(s); they are in memory (/context shows them)")

    async def _compaction_undone(self, ev: CompactionUndone, live: bool) -> None:
        back = f"; {ev.restored} message(s) back in the prompt" if ev.restored else ""
        await self.app.note(f"undid the last {ev.what}{back}")

    async def _error(self, ev: ErrorEvent, live: bool) -> None:
        await self.app.note(ev.message, "error" if ev.fatal else "warning")

    async def _turn_ended(self, ev: TurnEnded, live: bool) -> None:
        if ev.status in TURN_ENDINGS:
            reason = f": {ev.reason}" if ev.reason else ""
            await self.app.note(f"{TURN_ENDINGS[ev.status]}{reason}", "warning")
