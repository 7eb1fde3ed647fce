"""NDJSON framing on stdio with a JSON-RPC guard in front of the SDK's connection.

The SDK drops a malformed line silently and treats a request without a method
as a stray response. Editors need an answer to both, so this transport answers
-32700 and -32600 itself and hands the SDK only well-formed messages.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import threading
from dataclasses import dataclass
from typing import Any, BinaryIO, Callable, cast

from acp.meta import AGENT_METHODS

log = logging.getLogger("wren.acp")

# After stdin closes: how long running turns get to stop so that every request in flight is answered.
DRAIN_S = 30.0
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
_NOTIFICATIONS = {AGENT_METHODS["session_cancel"]}


def _names_a_session(message: dict[str, Any]) -> bool:
    params = message.get("params")
    return isinstance(params, dict) and isinstance(params.get("sessionId"), str)


@dataclass
class Stdio:
    """The protocol's own ends of the process's stdin and stdout."""
    reader: BinaryIO
    writer: BinaryIO


def claim_stdio() -> Stdio:
    """Keep fds 0 and 1 for the protocol; point the process's stdin and stdout elsewhere.

    Anything else that prints (a library, a child process that inherits fd 1) lands on
    stderr instead of corrupting the stream, and children cannot eat the client's input.
    """
    reader = os.fdopen(os.dup(0), "rb")
    writer = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    sys.stdout = sys.stderr
    return Stdio(reader, writer)


def _error(id_: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id_, "error": {"code": code, "message": message}}


def check(message: Any) -> dict[str, Any] | None:
    """None when `message` is a JSON-RPC 2.0 request, notification or response; else the error reply."""
    if not isinstance(message, dict):
        return _error(None, INVALID_REQUEST, "Invalid request: expected one JSON object per line")
    id_ = message.get("id")
    if "id" in message and (isinstance(id_, bool) or not isinstance(id_, (str, int, type(None)))):
        return _error(None, INVALID_REQUEST, "Invalid request: id must be a string, a number or null")
    if message.get("jsonrpc") != "2.0":
        return _error(id_, INVALID_REQUEST, 'Invalid request: "jsonrpc" must be "2.0"')
    if "method" not in message:
        if "id" in message and ("result" in message or "error" in message):
            return None
        return _error(id_, INVALID_REQUEST, "Invalid request: no method")
    if not isinstance(message["method"], str):
        return _error(id_, INVALID_REQUEST, "Invalid request: method must be a string")
    if "params" in message and not isinstance(message["params"], (dict, list, type(None))):
        return _error(id_, INVALID_REQUEST, "Invalid request: params must be an object")
    return None


class GuardedTransport:
    """The SDK's Transport protocol (send, receive, close) over the claimed stdio.

    When stdin closes, `receive` reports the end only once every request read so far
    has been answered (`on_eof` is called meanwhile, to cancel running turns), or after
    `drain_s` seconds: `printf REQUEST | wren acp` gets its answer.
    """

    def __init__(self, stdio: Stdio, on_sent: Callable[[dict[str, Any]], None] = lambda message: None,
                 on_eof: Callable[[], None] = lambda: None, drain_s: float = 0.0) -> None:
        self._stdio = stdio
        self._on_sent = on_sent
        self._on_eof = on_eof
        self._drain_s = drain_s
        self._unanswered: list[Any] = []  # ids of requests handed to the SDK and not yet answered
        self._lines: asyncio.Queue[bytes] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        # A thread, not a pipe transport: stdin may be a file or a tty, and lines may be megabytes.
        threading.Thread(target=self._read, args=(loop,), name="wren-acp-stdin", daemon=True).start()

    def _read(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            for line in iter(self._stdio.reader.readline, b""):
                loop.call_soon_threadsafe(self._lines.put_nowait, line)
        except (OSError, ValueError) as exc:
            log.warning("stdin closed: %s", exc)
        finally:
            try:
                loop.call_soon_threadsafe(self._lines.put_nowait, b"")
            except RuntimeError:
                pass  # the loop is gone: the server is already shutting down

    async def send(self, message: dict[str, Any]) -> None:
        try:
            data = (json.dumps(message, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        except UnicodeEncodeError:
            # A lone surrogate (a client's id may be "\ud800") has no UTF-8; a JSON \u escape carries it.
            data = (json.dumps(message, separators=(",", ":")) + "\n").encode("ascii")
        # Only the event loop's thread writes, so whole lines never interleave.
        self._stdio.writer.write(data)
        self._stdio.writer.flush()
        if "method" not in message and message.get("id") in self._unanswered:
            self._unanswered.remove(message["id"])
        self._on_sent(message)

    async def receive(self) -> dict[str, Any] | None:
        while line := await self._lines.get():
            if not line.strip():
                continue
            try:
                message = json.loads(line)
            except (ValueError, RecursionError) as exc:  # RecursionError: arrays nested thousands deep
                await self.send(_error(None, PARSE_ERROR, f"Parse error: {exc}"))
                continue
            if (reply := check(message)) is not None:
                await self.send(reply)
                continue
            if "id" not in message and not self._known_notification(message["method"]):
                log.info("ignoring unknown notification %s", message["method"])
                continue
            if "id" not in message and message["method"] in _NOTIFICATIONS and not _names_a_session(message):
                # No answer can say it is malformed; the SDK logged a pydantic traceback at ERROR for it.
                log.warning("ignoring %s without a sessionId", message["method"])
                continue
            if "id" in message and "method" in message:  # a request; the client's answers to ours have no method
                self._unanswered.append(message["id"])
            return cast("dict[str, Any]", message)  # check() found one JSON-RPC object
        await self._drain()
        return None

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._drain_s
        while self._unanswered and loop.time() < deadline:
            self._on_eof()  # again each time: a request in flight may still open a session or start a turn
            await asyncio.sleep(0.05)
        if self._unanswered:
            log.warning("stdin closed; requests %s did not get an answer within %ss", self._unanswered,
                        self._drain_s)

    @staticmethod
    def _known_notification(method: str) -> bool:
        return method in _NOTIFICATIONS or method.startswith("_")

    async def close(self) -> None:
        try:
            self._stdio.writer.flush()
        except OSError:
            pass  # the client has gone; nothing is left to deliver
