"""A stdio MCP server whose tools return what real servers return besides plain text.

`show`: text, an embedded text resource, an embedded binary resource, a resource link and a PNG.
`dump`: 300,000 characters in numbered lines. `touch`: writes made_by_mcp.txt in its cwd.
"""
from __future__ import annotations

import base64
from pathlib import Path

from mcp.server.fastmcp import FastMCP
from mcp.types import (BlobResourceContents, ContentBlock, EmbeddedResource, ImageContent, ResourceLink,
                       TextContent, TextResourceContents)

server = FastMCP("content")
# A 1x1 transparent PNG.
PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002"
    "000154a24f5d0000000049454e44ae426082")).decode()
DUMP_CHARS = 300_000


@server.tool()
def show() -> list[ContentBlock]:
    """Every kind of content block."""
    return [TextContent(type="text", text="here is what I found"),
            EmbeddedResource(type="resource", resource=TextResourceContents(
                uri="file:///notes/a.txt", mimeType="text/plain", text="alpha beta gamma")),
            EmbeddedResource(type="resource", resource=BlobResourceContents(
                uri="file:///notes/b.bin", mimeType="application/octet-stream", blob=base64.b64encode(b"x" * 30).decode())),
            ResourceLink(type="resource_link", uri="https://example.com/spec.html", name="spec",
                         description="the protocol spec", mimeType="text/html"),
            ImageContent(type="image", data=PNG, mimeType="image/png")]


def dump_text() -> str:
    lines, size, n = [], 0, 0
    while size < DUMP_CHARS:
        line = f"line {n:06d} " + "x" * 40 + "\n"
        lines.append(line)
        size += len(line)
        n += 1
    return "".join(lines)[:DUMP_CHARS]


@server.tool()
def dump() -> str:
    """300,000 characters."""
    return dump_text()


@server.tool()
def touch() -> str:
    """Write made_by_mcp.txt."""
    Path("made_by_mcp.txt").write_text("made\n")
    return "done"


if __name__ == "__main__":
    server.run()
