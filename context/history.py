"""The conversation the prompt is built from. The session log stays the truth;
this is the working copy that later compaction trims and annotates."""
from __future__ import annotations

from wren.agent.messages import Message


class History:
    def __init__(self, system: str, messages: list[Message] | None = None) -> None:
        self.system = system
        self.messages: list[Message] = list(messages or [])

    def add(self, message: Message) -> None:
        self.messages.append(message)

    def prompt(self) -> list[Message]:
        # System first and unchanged between steps, so providers and llama.cpp reuse the prefix.
        return [Message(role="system", content=self.system), *self.messages]
