"""From the session's worker thread to the ACP connection's event loop, and back.

Tools run in the worker thread; the connection lives in an asyncio loop. A tool
that needs the client schedules a coroutine on the loop and waits for it, still
watching the turn's interrupt and deadline so a cancel never waits on the editor.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from acp.exceptions import RequestError

from wren.tools.base import ToolContext
from wren.tools.errors import ToolError

POLL_S = 0.05


@dataclass
class ToolStarted:
    """A tool began to run (after any approval): its call goes in_progress."""
    call_id: str


@dataclass
class ToolShown:
    """Content to show on a call while it runs, such as the terminal it runs in."""
    call_id: str
    content: list


class Stopped(ToolError):
    """The wait ended early: the user interrupted the turn, or its time ran out."""

    def __init__(self, why: str, what: str) -> None:
        super().__init__(f"{what} stopped: {why}")
        self.why = why


@dataclass
class Bridge:
    loop: asyncio.AbstractEventLoop
    client: Any  # the SDK's AgentSideConnection: fs/*, terminal/* and session/update towards the editor
    session_id: str
    # Where tools report progress (ToolStarted, ToolShown); wired by the live session.
    on_tool_event: Callable[[Any], None] = field(default=lambda item: None)
    # The call the worker thread is running now; set before each tool call.
    call_id: str = ""

    def call(self, make: Callable[[], Awaitable[Any]], what: str, ctx: ToolContext | None = None,
             timeout_s: float = 60.0) -> Any:
        """Run `make()` on the loop and wait for it; client errors become ToolError for the model.

        With a ToolContext the wait also ends (Stopped) as soon as the turn is interrupted.
        """
        future = asyncio.run_coroutine_threadsafe(_invoke(make), self.loop)
        deadline = time.monotonic() + (ctx.time_left(timeout_s) if ctx else timeout_s)
        while True:
            try:
                return future.result(timeout=POLL_S)
            except concurrent.futures.TimeoutError:
                pass
            except RequestError as exc:
                raise ToolError(f"the editor refused {what}: {exc}") from None
            except ConnectionError:
                raise ToolError(f"the editor disconnected during {what}") from None
            if ctx is not None and ctx.interrupt.is_set():
                future.cancel()
                raise Stopped("interrupted", what)
            if time.monotonic() > deadline:
                future.cancel()
                raise Stopped(f"timed out after {timeout_s:g}s", what)

    def started(self) -> None:
        self.loop.call_soon_threadsafe(self.on_tool_event, ToolStarted(self.call_id))

    def show(self, content: list) -> None:
        self.loop.call_soon_threadsafe(self.on_tool_event, ToolShown(self.call_id, content))


async def _invoke(make: Callable[[], Awaitable[Any]]) -> Any:
    return await make()
