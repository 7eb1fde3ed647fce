"""The model seam: one small protocol every backend implements."""
from __future__ import annotations

import os

from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Callable, Dict, Protocol, Union, runtime_checkable

from wren.core.events import Usage
from wren.core.messages import Message, ToolCall


@dataclass
class ModelReply:
    content: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    thinking_blocks: list[dict] = field(default_factory=list)  # see Message.thinking_blocks


@dataclass(frozen=True)
class EffortSupport:
    """What a backend does with an effort level (low, medium, high, max). `supported`: it sends or
    applies it (then `complete` takes `effort=`); `applied` says how, for people (`reasoning_effort=high`),
    or why not. Backends without an `effort_support(effort)` method support none."""
    supported: bool
    applied: str


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_delay_s: float = 1.0
    max_delay_s: float = 30.0

    def delay(self, attempt: int) -> float:
        return min(self.max_delay_s, self.base_delay_s * (2 ** attempt))


# Called with each piece of reply text as it arrives, and with "" at least once per chunk or token
# received (a heartbeat): the caller stops the reply by raising StreamStopped (core/errors.py) from it.
OnDelta = Callable[[str], None]


@runtime_checkable
class ModelBackend(Protocol):
    """Stream a completion for (messages, tool schemas) and report usage.

    Raise ModelError (core/errors.py) for provider failures; `retryable` says
    whether backing off and trying again can help. A backend may serve several
    sessions at once (an editor's), so each guards its own state: every method
    is safe to call from several threads.
    """

    # Read-only to callers (properties here), so a backend may hold them as plain attributes of a
    # narrower type: a local model's window is always known (an int).
    @property
    def name(self) -> str: ...

    @property
    def retry(self) -> RetryPolicy: ...

    @property
    def window(self) -> int | None:
        """Context window in tokens; None when unknown."""
        ...

    @property
    def reply_reserve(self) -> int:
        """Tokens kept free for the reply."""
        ...

    def complete(self, messages: list[Message], tools: list[dict[str, Any]], on_delta: OnDelta) -> ModelReply:
        ...

    def count_tokens(self, messages: list[Message], tools: list[dict[str, Any]]) -> int:
        """Tokens the prompt for (messages, tools) takes, counted the way this backend counts them."""
        ...

    def summarize(self, messages: list[Message], on_delta: OnDelta = ..., focus: str = "") -> str:
        """A summary of `messages` for compaction (see summarize_with_model); `on_delta` as for
        `complete`, so that an interrupt or the time limit also cuts a summary in progress; `focus`:
        what the summary must keep (pinned notes, what the model asked to keep, what a rejected
        summary lost), added to the instructions."""
        ...


SUMMARY_INSTRUCTIONS = """Summarise the conversation below for your own later use; it will be removed from
your context. Be concrete and brief. Sections:
Task: what the user asked for, in their words.
User directives: each instruction the user gave, verbatim.
Progress: what has been done and found, with file names and line numbers.
Decisions: choices made and why.
Files changed: each file changed and how.
Failed approaches: what was tried and did not work, so it is not repeated.
Next step: what to do next."""


def ignore(text: str) -> None:
    """An OnDelta that neither shows nor stops anything."""


def summary_prompt(messages: list[Message], limit_chars: int = 24_000, focus: str = "") -> list[Message]:
    """The prompt that asks a model for the narrative part of a compaction summary of `messages`: a system
    message (SUMMARY_INSTRUCTIONS, then `focus`) and the transcript, each message's text cut to 2,000
    characters and the whole to `limit_chars` (its start, the task, and its end, the latest state)."""
    lines = []
    for m in messages:
        calls = "".join(f"\n-> {c.name}({c.arguments[:300]})" for c in m.tool_calls)
        lines.append(f"[{m.role}{' ' + m.name if m.name else ''}] {m.content[:2000]}{calls}")
    transcript = "\n".join(lines)
    if len(transcript) > limit_chars:  # keep the start (the task) and the end (the latest state)
        transcript = transcript[: limit_chars // 3] + "\n[...]\n" + transcript[-limit_chars * 2 // 3:]
    instructions = SUMMARY_INSTRUCTIONS + (f"\n\n{focus}" if focus else "")
    return [Message(role="system", content=instructions), Message(role="user", content=transcript)]


def summarize_with_model(backend: "ModelBackend", messages: list[Message], limit_chars: int = 24_000,
                         on_delta: OnDelta = ignore, focus: str = "") -> str:
    """Ask the model itself for the narrative part of a compaction summary (`focus`: see ModelBackend.summarize)."""
    return backend.complete(summary_prompt(messages, limit_chars, focus), [], on_delta).content.strip()


def estimate_tokens(messages: list[Message], tools: list[dict]) -> int:
    """About four characters a token: for backends with no tokenizer of their own."""
    chars = sum(len(m.content) + sum(len(c.arguments) + len(c.name) for c in m.tool_calls) + 8 for m in messages)
    return (chars + sum(len(str(t)) for t in tools)) // 4


def import_litellm() -> ModuleType:
    """litellm, imported with Wren's settings: every module that calls it (backends, embeddings) gets these."""
    # Without this, litellm fetches its price list from the network at import.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True  # it would otherwise print help banners on stdout
    litellm.drop_params = True  # providers that lack an option (stream_options) still work
    return litellm


# A step's tool_choice: "auto", "none", a tool's name, or a tool's schema (OpenAI's format) with narrower arguments.
ToolChoice = Union[str, Dict[str, Any]]


def choice_name(tool_choice: ToolChoice) -> str:
    """"auto", "none" or a tool's name, for a step's `tool_choice` ("auto", "none", a tool's name, or a
    tool's schema in OpenAI's format whose arguments a local model's grammar narrows: see
    local_models/backend.py chosen_tools)."""
    return tool_choice["function"]["name"] if isinstance(tool_choice, dict) else tool_choice
