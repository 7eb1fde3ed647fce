"""A small stdio MCP server for the ACP tests: notes kept in the working directory.

Usage: python acp_mcp_server.py PIDFILE [PORT] (it writes its pid there so tests can see it stop).
Over stdio, or over streamable HTTP at http://127.0.0.1:PORT/mcp when PORT is given.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from mcp.server.fastmcp import FastMCP
from mcp.types import ToolAnnotations

server = FastMCP("notes")
NOTES = Path("notes.txt")


@server.tool()
def add_note(text: str) -> str:
    """Append a line to notes.txt."""
    with NOTES.open("a", encoding="utf-8") as fh:
        fh.write(text + "\n")
    return f"noted: {text}"


@server.tool(annotations=ToolAnnotations(readOnlyHint=True))
def count_notes() -> str:
    """How many notes there are."""
    lines = NOTES.read_text(encoding="utf-8").splitlines() if NOTES.exists() else []
    return f"{len(lines)} note(s); token {os.environ.get('NOTES_TOKEN', 'unset')}"


if __name__ == "__main__":
    Path(sys.argv[1]).write_text(str(os.getpid()))
    if len(sys.argv) > 2:
        server.settings.port = int(sys.argv[2])
        server.run(transport="streamable-http")
    else:
        server.run()
