"""One step of a local model, constrained to exactly one tool call or a final reply.

The grammar comes from a JSON schema (llama.cpp converts it), so even a 135M model
always produces a step that parses. Titles, descriptions and defaults are stripped
and $refs inlined to keep the grammar small and decoding fast.
"""
from __future__ import annotations

import json

from wren.agent.messages import ToolCall

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
    options.append({"type": "object", "properties": {"reply": {"type": "string"}}, "required": ["reply"]})
    return {"oneOf": options}


def parse_step(text: str, call_id: str) -> tuple[str, list[ToolCall]]:
    """(reply text, tool calls) from a step's JSON; unconstrained text that is not JSON is a reply."""
    try:
        step = json.loads(text)
    except json.JSONDecodeError:
        return text.strip(), []
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
