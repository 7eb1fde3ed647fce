"""From the session's worker thread to the ACP connection's event loop, and back.

Tools run in the worker thread; the connection lives in an asyncio loop. A tool
that needs the client schedules a coroutine on the loop and waits for it, still
watching the turn's interrupt and deadline so a cancel never waits on the editor.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from acp.exceptions import RequestError
from acp.helpers import ToolCallContentVariant

from wren.tools.base import ToolContext
from wren.core.errors import ToolError
from wren.tools.loop_thread import submit, wait


@dataclass
class ToolStarted:
    """A tool began to run (after any approval): its call goes in_progress."""
    call_id: str


@dataclass
class ToolShown:
    """Content to show on a call while it runs, such as the terminal it runs in."""
    call_id: str
    content: list[ToolCallContentVariant]


@dataclass
class Bridge:
    loop: asyncio.AbstractEventLoop
    client: Any  # the SDK's AgentSideConnection: fs/*, terminal/* and session/update towards the editor
    session_id: str
    # Where tools report progress (ToolStarted, ToolShown); wired by the live session.
    on_tool_event: Callable[[Any], None] = field(default=lambda item: None)

    def call(self, make: Callable[[], Awaitable[Any]], what: str, ctx: ToolContext | None = None,
             timeout_s: float = 60.0) -> Any:
        """Run `make()` on the loop and wait for it; client errors become ToolError for the model.

        With a ToolContext the wait also ends (Stopped) as soon as the turn is interrupted.
        """
        try:
            return wait(submit(self.loop, make), what, ctx, timeout_s)
        except RequestError as exc:
            raise ToolError(f"the editor refused {what}: {exc}") from None
        except ConnectionError:
            raise ToolError(f"the editor disconnected during {what}") from None

    def started(self, call_id: str) -> None:
        """Tool call `call_id` began to run (after any approval)."""
        self.loop.call_soon_threadsafe(self.on_tool_event, ToolStarted(call_id))

    def show(self, call_id: str, content: list[ToolCallContentVariant]) -> None:
        """Show `content` (ACP tool-call content blocks) on tool call `call_id` while it runs."""
        self.loop.call_soon_threadsafe(self.on_tool_event, ToolShown(call_id, content))
