"""MCP servers named by the editor in session/new: started with the session, their tools
offered to the model as `mcp__<server>__<tool>`, stopped when the session ends."""
from __future__ import annotations

import asyncio
import logging
import re
import sys
from pathlib import Path
from typing import Any

import anyio
from acp.schema import McpServerStdio
from mcp import ClientSession, StdioServerParameters
from mcp import types as mcp_types
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import McpError
from pydantic import BaseModel, ConfigDict

from wren.tools.base import Tool, ToolContext, ToolResult
from wren.tools.errors import ToolError
from wren.tools.output import cap
from wren.protocol.bridge import Bridge

log = logging.getLogger("wren.acp")

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 5.0
CALL_TIMEOUT_S = 300.0
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


class McpServer:
    """One stdio MCP server. Its connection lives in one task, as the MCP SDK's contexts require."""

    def __init__(self, spec: McpServerStdio, cwd: Path) -> None:
        self.name = spec.name
        self.params = StdioServerParameters(command=spec.command, args=list(spec.args), cwd=cwd,
                                            env={v.name: v.value for v in spec.env})
        self.session: ClientSession | None = None
        self._stop = asyncio.Event()
        self._ready: asyncio.Future[list[mcp_types.Tool]] = asyncio.get_running_loop().create_future()
        self._task: asyncio.Task | None = None

    async def start(self) -> list[mcp_types.Tool]:
        self._task = asyncio.create_task(self._serve(), name=f"mcp-{self.name}")
        try:
            return await asyncio.wait_for(asyncio.shield(self._ready), START_TIMEOUT_S)
        except BaseException:
            await self.stop()
            raise

    async def _serve(self) -> None:
        try:
            async with stdio_client(self.params, errlog=sys.stderr) as (read, write), \
                    ClientSession(read, write) as session:
                await session.initialize()
                tools = await _all_tools(session)
                self.session = session
                self._ready.set_result(tools)
                await self._stop.wait()
        except Exception as exc:  # reported to whoever waits in start(); logged when nobody does
            if not self._ready.done():
                self._ready.set_exception(exc)
            else:
                log.warning("MCP server %s failed: %s", self.name, exc)

    async def call(self, tool: str, arguments: dict[str, Any]) -> mcp_types.CallToolResult:
        if self.session is None:
            raise ToolError(f"MCP server {self.name} is not running")
        try:
            return await self.session.call_tool(tool, arguments)
        except McpError as exc:
            raise ToolError(f"MCP server {self.name} refused {tool}: {exc.error.message}") from None
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            raise ToolError(f"MCP server {self.name} has stopped; its tools are unavailable") from None

    async def stop(self) -> None:
        self._stop.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(self._task, STOP_TIMEOUT_S)
        except asyncio.TimeoutError:
            log.warning("MCP server %s did not stop in %ss", self.name, STOP_TIMEOUT_S)


async def _all_tools(session: ClientSession) -> list[mcp_types.Tool]:
    tools: list[mcp_types.Tool] = []
    cursor = None
    while True:
        page = await session.list_tools(cursor)
        tools.extend(page.tools)
        cursor = page.nextCursor
        if not cursor:
            return tools


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


def _text(result: mcp_types.CallToolResult) -> str:
    parts = []
    for block in result.content:
        if isinstance(block, mcp_types.TextContent):
            parts.append(block.text)
        else:
            parts.append(f"[{block.type} content omitted]")
    if not parts and result.structuredContent is not None:
        parts.append(str(result.structuredContent))
    return "\n".join(parts) or "(no output)"


def as_tool(server: McpServer, spec: mcp_types.Tool, bridge: Bridge) -> Tool:
    """An MCP tool as a Wren tool; mutating (so it goes through approval) unless it says it only reads."""
    read_only = bool(spec.annotations and spec.annotations.readOnlyHint)

    def run(args: BaseModel, ctx: ToolContext) -> ToolResult:
        result = bridge.call(lambda: server.call(spec.name, args.model_dump()), f"MCP tool {spec.name}", ctx,
                             timeout_s=CALL_TIMEOUT_S)
        return ToolResult(ok=not result.isError, output=cap(_text(result)))

    description = spec.description or spec.title or f"{spec.name} from MCP server {server.name}"
    return Tool(tool_name(server.name, spec.name), description, _arguments_model(spec.inputSchema), run,
                mutating=not read_only, kind="other")
