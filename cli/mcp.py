"""`wren mcp list`: the MCP servers of this workspace's config, started once to show their status and tools."""
from __future__ import annotations

import argparse
import sys

from wren.core.config import load_config, user_config_path
from wren.core.errors import WrenError
from wren.agent.start import workspace_root


def run(args: argparse.Namespace) -> int:
    try:
        root = workspace_root(args.cwd)
        servers = load_config(root).mcp.servers
    except WrenError as exc:
        sys.stderr.write(f"wren: {exc.message}\n")
        return exc.exit_code
    if not servers:
        print(f"no MCP servers configured; add a [mcp.servers.NAME] table to wren.toml or {user_config_path()}")
        return 0
    from wren.tools.mcp import McpHost, read_only, tool_name

    host = McpHost(servers, root)
    try:
        host.start()
        for server in host.servers:
            status = "running" if server.session else f"failed: {server.error}"
            print(f"{server.name}  {server.transport}  {status}")
            for spec in server.tools if server.session else []:
                mark = "read-only" if read_only(spec) else "mutating"
                summary = (spec.description or "").strip().splitlines()[0:1]
                print(f"  {tool_name(server.name, spec.name)}  {mark}  {''.join(summary)}")
    finally:
        host.close()
    return 0
