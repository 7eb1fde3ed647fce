"""One step of a local model, constrained to exactly one tool call or a final reply.

The grammar comes from a JSON schema (llama.cpp converts it), so even a 135M model
always produces a step that parses. Titles, descriptions and defaults are stripped
and $refs inlined to keep the grammar small and decoding fast.
"""
from __future__ import annotations

import json

from wren.core.messages import ToolCall

DROP = {"title", "description", "default", "examples"}


def _inline(node, defs: dict):
    if isinstance(node, dict):
        if "$ref" in node:
            return _inline(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
        return {k: _inline(v, defs) for k, v in node.items() if k not in DROP and k != "$defs"}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def _simplify(node):
    """`anyOf [X, null]` (pydantic's Optional) becomes X: an omitted key says null more cheaply."""
    if isinstance(node, dict):
        options = node.get("anyOf")
        if options and len(options) == 2 and {"type": "null"} in options:
            rest = next(o for o in options if o != {"type": "null"})
            node = {**{k: v for k, v in node.items() if k != "anyOf"}, **rest}
        return {k: _simplify(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_simplify(v) for v in node]
    return node


def tool_parameters(schema: dict) -> dict:
    params = schema["function"]["parameters"]
    return _simplify(_inline(params, params.get("$defs", {})))


def step_schema(tools: list[dict]) -> dict:
    """JSON schema of one step: {"tool": NAME, "arguments": {...}} for an offered tool, or {"reply": TEXT}."""
    options = [{"type": "object",
                "properties": {"tool": {"const": t["function"]["name"]}, "arguments": tool_parameters(t)},
                "required": ["tool", "arguments"]} for t in tools]
    # Not empty: SmolLM2, at a step that may only answer (careful.wrap_up), wrote `{"reply": ""}`.
    options.append({"type": "object", "properties": {"reply": {"type": "string", "minLength": 1}},
                    "required": ["reply"]})
    return {"oneOf": options}


def parse_step(text: str, call_id: str) -> tuple[str, list[ToolCall]]:
    """(reply text, tool calls) from a step's JSON.

    A step cut off by the token limit is not valid JSON: a cut reply keeps the text it
    has; a cut tool call goes to the tool registry as is, which tells the model what
    went wrong. Unconstrained text that is not JSON is a reply.
    """
    try:
        step = json.loads(text, strict=False)  # small models put raw newlines in strings
    except json.JSONDecodeError:
        head = text.lstrip()
        if head.startswith("{") and '"tool"' in head[:40]:
            name = head.split('"tool"', 1)[1].split('"')[1] if head.count('"') >= 4 else ""
            return "", [ToolCall(id=call_id, name=name, arguments=text)]
        return partial_reply(text) or text.strip(), []
    if isinstance(step, dict) and isinstance(step.get("tool"), str):
        return "", [ToolCall(id=call_id, name=step["tool"], arguments=json.dumps(step.get("arguments", {})))]
    if isinstance(step, dict) and isinstance(step.get("reply"), str):
        return step["reply"], []
    return text.strip(), []


def render_call(call: ToolCall) -> str:
    """How a past tool call appears in the transcript: the same JSON shape the model emits."""
    try:
        args = json.loads(call.arguments)
    except json.JSONDecodeError:
        args = call.arguments
    return json.dumps({"tool": call.name, "arguments": args}, ensure_ascii=False)


def partial_reply(text: str) -> str | None:
    """The text of a {"reply": ...} step read so far, or None when `text` is not one."""
    head = text.lstrip()
    if not head.startswith("{"):
        return None
    key, colon, rest = head[1:].lstrip().partition(":")
    if key.strip() != '"reply"' or not colon or not rest.lstrip().startswith('"'):
        return None
    body = rest.lstrip()[1:]
    for end in range(len(body), -1, -1):  # the longest prefix that decodes as a JSON string
        candidate = body[:end].removesuffix('"}').rstrip().removesuffix('"')
        try:
            return json.loads('"' + candidate + '"', strict=False)
        except json.JSONDecodeError:
            continue
    return None
