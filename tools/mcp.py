"""MCP servers as tool providers, for every front end: named in wren.toml or the user's config
(`wren run`, the UI) or by an editor in session/new (ACP).

A host runs the servers of one session on an asyncio loop in a thread of its own: the MCP SDK
keeps each connection inside one task, and tools run in the session's worker thread. Each MCP
tool is offered as `mcp__<server>__<tool>`, mutating (so it goes through approval) unless the
server says it only reads. A server that cannot start, or stops, is one warning; the session
goes on without it.
"""
from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, Callable, TextIO

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp import types as mcp_types
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import McpError
from pydantic import BaseModel, ConfigDict

from wren.core.config import McpServerConfig
from wren.tools.base import Image, Tool, ToolContext, ToolResult
from wren.core.errors import ToolError
from wren.tools.loop_thread import LoopThread, submit, wait

log = logging.getLogger("wren.mcp")

START_TIMEOUT_S = 30.0
# Servers that ignore `initialize` altogether get this long before we ask for their tools anyway.
HANDSHAKE_TIMEOUT_S = 5.0
STOP_TIMEOUT_S = 5.0
CALL_TIMEOUT_S = 300.0
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


class McpServer:
    """One MCP server. Its connection lives in one task, as the MCP SDK's contexts require."""

    def __init__(self, name: str, spec: McpServerConfig, cwd: Path, errlog: TextIO) -> None:
        self.name, self.spec, self.cwd, self.errlog = name, spec, cwd, errlog
        self.session: ClientSession | None = None
        self.tools: list[mcp_types.Tool] = []
        self.error: str | None = None  # why it did not start, or why it stopped
        self._stop: asyncio.Event | None = None
        self._task: asyncio.Task | None = None

    @property
    def transport(self) -> str:
        return "http" if self.spec.url else "stdio"

    async def start(self) -> None:
        self._stop = asyncio.Event()
        ready: asyncio.Future[list[mcp_types.Tool]] = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._serve(ready), name=f"mcp-{self.name}")
        try:
            self.tools = await asyncio.wait_for(asyncio.shield(ready), self.spec.startup_timeout_s)
        except BaseException as exc:
            self.error = _reason(exc, self.spec.startup_timeout_s)
            await self.stop()
            raise

    async def _serve(self, ready: asyncio.Future) -> None:
        try:
            async with AsyncExitStack() as stack:
                streams = await stack.enter_async_context(self._connect())
                session = await stack.enter_async_context(ClientSession(streams[0], streams[1]))
                await _handshake(session)
                tools = await _all_tools(session)
                self.session = session
                ready.set_result(tools)
                assert self._stop is not None  # start() made it before this task
                await self._stop.wait()
        except Exception as exc:  # reported to whoever waits in start(); recorded when nobody does
            if not ready.done():
                ready.set_exception(exc)
            elif self.error is None:
                self.error = _reason(exc)
        finally:
            self.session = None

    def _connect(self) -> Any:
        if self.spec.url:
            client = create_mcp_http_client(headers=self.spec.headers)
            return streamable_http_client(self.spec.url, http_client=client)
        command = self.spec.command or ""
        path = {**os.environ, **self.spec.env}.get("PATH")
        if shutil.which(command, path=path) is None and not Path(self.cwd, command).is_file():
            # The SDK's own error for a missing program is BrokenResourceError, which says nothing.
            raise FileNotFoundError(f"command {command!r} not found (not on PATH, not a file)")
        params = StdioServerParameters(command=command, args=self.spec.args, env=self.spec.env, cwd=self.cwd)
        return stdio_client(params, errlog=self.errlog)

    async def call(self, tool: str, arguments: dict[str, Any]) -> mcp_types.CallToolResult:
        if self.session is None:
            raise ToolError(f"MCP server {self.name} is not running ({self.error or 'stopped'})")
        try:
            return await self.session.call_tool(tool, arguments)
        except McpError as exc:
            if exc.error.code == mcp_types.CONNECTION_CLOSED:
                raise self._lost(exc.error.message) from None
            raise ToolError(f"MCP server {self.name} refused {tool}: {exc.error.message}") from None
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream, OSError) as exc:
            raise self._lost(_reason(exc)) from None

    def _lost(self, why: str) -> ToolError:
        self.error = self.error or why
        self.session = None
        return ToolError(f"MCP server {self.name} has stopped; its tools are unavailable")

    async def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()
        if self._task is None or self._task.done():
            return
        if self.session is None:
            # Never started (or lost): no session to close politely; a server that never answered
            # would only make us wait. Cancelling closes its streams and ends its process.
            self._task.cancel()
        try:
            await asyncio.wait_for(self._task, STOP_TIMEOUT_S)
        except asyncio.CancelledError:
            pass  # the cancel above took effect
        except asyncio.TimeoutError:
            log.warning("MCP server %s did not stop in %ss", self.name, STOP_TIMEOUT_S)


async def _handshake(session: ClientSession) -> None:
    """The MCP lifecycle starts with `initialize`; some minimal servers skip it and answer
    tools/list at once, rejecting (method not found) or ignoring the handshake."""
    try:
        with anyio.fail_after(HANDSHAKE_TIMEOUT_S):
            await session.initialize()
    except McpError as exc:
        if exc.error.code != mcp_types.METHOD_NOT_FOUND:
            raise
    except TimeoutError:
        log.info("MCP server ignored initialize; listing its tools without it")


async def _all_tools(session: ClientSession) -> list[mcp_types.Tool]:
    tools: list[mcp_types.Tool] = []
    cursor = None
    while True:
        page = await session.list_tools(cursor)
        tools.extend(page.tools)
        cursor = page.nextCursor
        if not cursor:
            return tools


def _reason(exc: BaseException, waited_s: float = START_TIMEOUT_S) -> str:
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return f"no answer within {waited_s:g}s"
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_reason(e, waited_s) for e in exc.exceptions)
    if isinstance(exc, McpError):
        return exc.error.message
    return str(exc) or type(exc).__name__


def tool_name(server: str, tool: str) -> str:
    # Providers accept [A-Za-z0-9_-]{1,64} as a function name.
    return f"mcp__{_UNSAFE.sub('_', server)}__{_UNSAFE.sub('_', tool)}"[:64]


def _arguments_model(schema: dict[str, Any]) -> type[BaseModel]:
    """Arguments pass through as given; the MCP server validates them against its own schema."""

    class McpArguments(BaseModel):
        model_config = ConfigDict(extra="allow")

        @classmethod
        def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
            return {"type": "object", "properties": {}, **schema}

    return McpArguments


def _content(result: mcp_types.CallToolResult) -> tuple[str, list[Image]]:
    """The model's view of an MCP tool result: text for every block (text, embedded text resources,
    resource links, a note for binary ones), and the images, each noted in the text where it stood."""
    parts, images = [], []
    for block in result.content:
        if isinstance(block, mcp_types.TextContent):
            parts.append(block.text)
        elif isinstance(block, mcp_types.ImageContent):
            images.append(Image(mime_type=block.mimeType, data=block.data))
            parts.append(f"[image {len(images)}: {block.mimeType}, {_decoded_size(block.data):,} bytes]")
        elif isinstance(block, mcp_types.EmbeddedResource):
            res = block.resource
            if isinstance(res, mcp_types.TextResourceContents):
                parts.append(f"[resource {res.uri}]\n{res.text}")
            else:
                parts.append(f"[resource {res.uri}: {res.mimeType or 'binary'}, {_decoded_size(res.blob):,} bytes]")
        elif isinstance(block, mcp_types.ResourceLink):
            about = f" ({block.mimeType})" if block.mimeType else ""
            described = f": {block.description}" if block.description else ""
            parts.append(f"[resource link {block.name}{about}: {block.uri}{described}]")
        else:  # audio, and kinds newer than this code
            parts.append(f"[{block.type} content: not shown to the model]")
    if not parts and result.structuredContent is not None:
        parts.append(str(result.structuredContent))
    return "\n".join(parts) or "(no output)", images


def _decoded_size(b64: str) -> int:
    return len(b64) * 3 // 4 - b64[-2:].count("=")


def read_only(spec: mcp_types.Tool) -> bool:
    return bool(spec.annotations and spec.annotations.readOnlyHint)


def as_tool(host: "McpHost", server: McpServer, spec: mcp_types.Tool) -> Tool:
    """An MCP tool as a Wren tool; mutating (so it goes through approval) unless it says it only reads."""

    def run(args: BaseModel, ctx: ToolContext) -> ToolResult:
        result = host.call(server, spec.name, args.model_dump(), ctx)
        text, images = _content(result)
        # Uncapped: Tool.run caps once and keeps the whole text for the session log.
        return ToolResult(ok=not result.isError, output=text, images=images)

    description = spec.description or spec.title or f"{spec.name} from MCP server {server.name}"
    return Tool(tool_name(server.name, spec.name), description, _arguments_model(spec.inputSchema), run,
                mutating=not read_only(spec), kind="other",
                title_of=lambda args: f"{server.name}: {spec.title or spec.name}")


class McpHost:
    """The MCP servers of one session, on a loop of their own. Warnings wait until a session
    attaches, then go to it; each server warns at most once."""

    def __init__(self, specs: dict[str, McpServerConfig], root: Path) -> None:
        logs = root / ".wren" / "mcp"
        logs.mkdir(parents=True, exist_ok=True)
        # Server stderr goes to a file: on our stderr it would tear through the terminal UI.
        self._errlogs = {name: (logs / f"{name}.log").open("a", encoding="utf-8") for name in specs}
        self.servers = [McpServer(name, spec, root, self._errlogs[name]) for name, spec in specs.items()]
        self._thread = LoopThread("wren-mcp")
        self._warn: Callable[[str], None] | None = None
        self._pending: list[str] = []
        self._warned: set[str] = set()
        self._closed = False

    def start(self) -> list[Tool]:
        """Start every server at once (each within its startup_timeout_s); the tools of those that run."""
        submit(self._thread.loop, self._start_all).result()
        return [as_tool(self, server, spec) for server in self.servers if server.session for spec in server.tools]

    async def _start_all(self) -> None:
        outcomes = await asyncio.gather(*(s.start() for s in self.servers), return_exceptions=True)
        for server, outcome in zip(self.servers, outcomes):
            if isinstance(outcome, BaseException):
                self._report(server, "did not start")

    def take_warnings(self) -> list[str]:
        """The warnings no session has seen yet; they will not go to one."""
        pending, self._pending = self._pending, []
        return pending

    def attach(self, warn: Callable[[str], None]) -> None:
        """Where warnings go from now on: the session that uses these servers."""
        self._warn = warn
        for message in self.take_warnings():
            warn(message)

    def _report(self, server: McpServer, what: str) -> None:
        if server.name in self._warned:
            return
        self._warned.add(server.name)
        message = (f"MCP server {server.name} {what}: {server.error}; going on without it "
                   f"(its stderr is in {self._errlogs[server.name].name})")
        if self._warn is None:
            self._pending.append(message)
        else:
            self._warn(message)

    def call(self, server: McpServer, tool: str, arguments: dict[str, Any],
             ctx: ToolContext) -> mcp_types.CallToolResult:
        future = submit(self._thread.loop, lambda: server.call(tool, arguments))
        try:
            return wait(future, f"MCP tool {tool}", ctx.interrupt, ctx.time_left(CALL_TIMEOUT_S))
        except ToolError:
            if server.session is None:
                self._report(server, "stopped")
            raise

    def close(self) -> None:
        """Stop the servers and the loop; safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        stopping = submit(self._thread.loop, lambda: asyncio.gather(*(s.stop() for s in self.servers)))
        try:
            stopping.result(timeout=STOP_TIMEOUT_S + 1)
        except Exception as exc:  # noqa: BLE001 - closing must end the run quietly: the result is out already
            log.warning("MCP servers did not stop cleanly in %ss (%s)", STOP_TIMEOUT_S, type(exc).__name__)
        self._thread.stop(STOP_TIMEOUT_S)
        for errlog in self._errlogs.values():
            errlog.close()
