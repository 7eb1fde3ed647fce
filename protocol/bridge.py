"""From the session's worker thread to the ACP connection's event loop, and back.

Tools run in the worker thread; the connection lives in an asyncio loop. A tool
that needs the client schedules a coroutine on the loop and waits for it, still
watching the session's interrupt so a cancel never waits on the editor.
"""
from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from acp.exceptions import RequestError

from wren.core.errors import ToolError
from wren.tools.loop_thread import submit, wait


@dataclass
class Bridge:
    loop: asyncio.AbstractEventLoop
    client: Any  # the SDK's AgentSideConnection: fs/*, terminal/* and session/update towards the editor
    session_id: str
    # The session's interrupt, once it exists: a request to the editor stops waiting when it is set.
    interrupt: threading.Event | None = None

    def call(self, make: Callable[[], Awaitable[Any]], what: str, watch: bool = True,
             timeout_s: float = 60.0) -> Any:
        """Run `make()` on the loop and wait for it; client errors become ToolError for the model.

        With `watch` the wait also ends (Stopped) as soon as the turn is interrupted; cleanups (killing and
        releasing a terminal) pass False, since they run because of an interrupt.
        """
        try:
            return wait(submit(self.loop, make), what, self.interrupt if watch else None, timeout_s)
        except RequestError as exc:
            raise ToolError(f"the editor refused {what}: {exc}") from None
        except ConnectionError:
            raise ToolError(f"the editor disconnected during {what}") from None
