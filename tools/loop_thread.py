"""Waiting from a tool's thread on work that lives on an asyncio loop.

Tools run in the session's worker thread; MCP connections and an editor's requests live on
an asyncio loop. The wait watches the turn's interrupt and deadline, so a cancel never waits
on the other side.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from typing import Any, Awaitable, Callable

from wren.core.errors import ToolError

POLL_S = 0.05


class Stopped(ToolError):
    """The wait ended early: the user interrupted the turn, or its time ran out."""

    def __init__(self, why: str, what: str) -> None:
        super().__init__(f"{what} stopped: {why}")
        self.why = why


def submit(loop: asyncio.AbstractEventLoop, make: Callable[[], Awaitable[Any]]) -> concurrent.futures.Future:
    """Run `make()` on the loop; the coroutine is created there, so it belongs to that loop."""
    return asyncio.run_coroutine_threadsafe(_invoke(make), loop)


def wait(future: concurrent.futures.Future, what: str, interrupt: threading.Event | None, timeout_s: float) -> Any:
    """The future's result; Stopped as soon as `interrupt` is set or `timeout_s` seconds have passed."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return future.result(timeout=POLL_S)
        except concurrent.futures.TimeoutError:
            pass
        if interrupt is not None and interrupt.is_set():
            future.cancel()
            raise Stopped("interrupted", what)
        if time.monotonic() > deadline:
            future.cancel()
            raise Stopped(f"timed out after {timeout_s:g}s", what)


class LoopThread:
    """An asyncio loop of our own in a daemon thread, for front ends that have no loop (wren run, the UI)."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout_s)
        if not self._thread.is_alive():
            self.loop.close()


async def _invoke(make: Callable[[], Awaitable[Any]]) -> Any:
    return await make()
