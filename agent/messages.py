"""The conversation as the model sees it: messages and tool calls."""
from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, Field

from wren.tools.redact import redact_data


class ToolCall(BaseModel):
    id: str
    name: str
    # Raw JSON text as the model produced it; parsing (and its errors) belong to the loop.
    arguments: str = "{}"

    def to_openai(self) -> dict:
        return {"id": self.id, "type": "function",
                "function": {"name": self.name, "arguments": self.arguments}}


class Message(BaseModel):
    role: Literal["system", "user", "assistant", "tool"]
    content: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None

    def to_openai(self) -> dict:
        out: dict = {"role": self.role, "content": self.content}
        if self.tool_calls:
            out["tool_calls"] = [c.to_openai() for c in self.tool_calls]
        if self.role == "tool":
            out["tool_call_id"] = self.tool_call_id
            out["name"] = self.name
        return out


def arguments_text(arguments: object) -> str:
    """Scripted and hosted models give arguments as text or as an object; keep text as is."""
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


def redacted(messages: list[Message]) -> list[Message]:
    """What the model is sent: secret values and key-shaped tokens replaced, whatever their source
    (a prompt, AGENTS.md, a tool's output, a summary)."""
    return [Message.model_validate(redact_data(m.model_dump())) for m in messages]
