"""The conversation as the model sees it: messages and tool calls."""
from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, Field

from wren.core.redact import redact_data


class Image(BaseModel):
    """An image a tool returned (an MCP ImageContent): sent to models that take images."""
    mime_type: str  # e.g. "image/png"
    data: str  # base64, as MCP carries it

    def data_url(self) -> str:
        """RFC 2397 data URL, the form OpenAI-style `image_url` parts take."""
        return f"data:{self.mime_type};base64,{self.data}"


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
    images: list[Image] = Field(default_factory=list)  # a tool result's images; see openai_messages
    # An assistant message's signed thinking (Anthropic's thinking blocks, as litellm gives them): the
    # provider wants them back with the tool calls they led to; no other model is sent them.
    thinking_blocks: list[dict] = Field(default_factory=list)

    def to_openai(self) -> dict:
        out: dict = {"role": self.role, "content": self.content}
        if self.tool_calls:
            out["tool_calls"] = [c.to_openai() for c in self.tool_calls]
        if self.role == "tool":
            out["tool_call_id"] = self.tool_call_id
            out["name"] = self.name
        return out


def openai_messages(messages: list[Message], vision: bool, thinking: bool = False) -> list[dict]:
    """The chat in OpenAI's message format, as litellm takes it; with each assistant message's
    `thinking_blocks` where `thinking` (the provider that signed them).

    Tool results' images go to a model that takes images (`vision`) in a user message after the
    batch's tool messages: OpenAI accepts `image_url` parts in user messages only, and the tool
    messages of one batch must follow their assistant message without a break. Other models see
    the note each tool result has where its image stood.
    """
    out: list[dict] = []
    pending: list[tuple[str, list[Image]]] = []
    for m in messages:
        if pending and m.role != "tool":
            out.append(_images_message(pending))
            pending = []
        out.append(m.to_openai())
        if thinking and m.thinking_blocks:
            out[-1]["thinking_blocks"] = m.thinking_blocks
        if vision and m.role == "tool" and m.images:
            pending.append((m.name or "tool", m.images))
    if pending:
        out.append(_images_message(pending))
    return out


def _images_message(results: list[tuple[str, list[Image]]]) -> dict:
    parts: list[dict] = []
    for name, images in results:
        parts.append({"type": "text", "text": f"The images {name} returned, in order (image 1 first):"})
        parts += [{"type": "image_url", "image_url": {"url": image.data_url()}} for image in images]
    return {"role": "user", "content": parts}


def arguments_text(arguments: object) -> str:
    """Scripted and hosted models give arguments as text or as an object; keep text as is."""
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


def redacted(messages: list[Message]) -> list[Message]:
    """What the model is sent: secret values and key-shaped tokens replaced, whatever their source
    (a prompt, AGENTS.md, a tool's output, a summary)."""
    # Images and signed thinking are left as they are: base64 is full of key-shaped runs that are not
    # keys, and a thinking block changed by a byte no longer matches its signature.
    return [Message.model_validate({**redact_data(m.model_dump(exclude={"images", "thinking_blocks"})),
                                    "images": m.images, "thinking_blocks": m.thinking_blocks})
            for m in messages]
