"""A minimal MCP server over stdio that skips the lifecycle: it rejects `initialize` (method not
found) and answers tools/list and tools/call at once, as some small hand-written servers do."""
from __future__ import annotations

import json
import sys

TOOLS = [{"name": "shout", "description": "Upper-case a text.", "annotations": {"readOnlyHint": True},
          "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}},
         {"name": "crash", "description": "Exit without answering, as a server that dies does.",
          "inputSchema": {"type": "object", "properties": {}}}]


def answer(request: dict) -> dict:
    method, params = request.get("method"), request.get("params") or {}
    if method == "tools/list":
        return {"result": {"tools": TOOLS}}
    if method == "tools/call" and params.get("name") == "crash":
        sys.exit(3)
    if method == "tools/call" and params.get("name") == "shout":
        text = str(params.get("arguments", {}).get("text", "")).upper()
        return {"result": {"content": [{"type": "text", "text": text}], "isError": False}}
    return {"error": {"code": -32601, "message": f"method not found: {method}"}}


def main() -> None:
    for line in sys.stdin:
        request = json.loads(line)
        if "id" not in request:
            continue  # a notification: nothing to answer
        reply = {"jsonrpc": "2.0", "id": request["id"], **answer(request)}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
