"""Replays a file of assistant turns (format in ARCHITECTURE.md); used by tests, CI and demos.

Fault injection: a turn `{"error": KIND}` raises the provider failure KIND, and a
turn's tool-call `arguments` may be a string of malformed JSON.
"""
from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any, Sequence

from pydantic import BaseModel, Field, ValidationError

from wren.core.errors import ConfigError, ModelError
from wren.core.events import Usage
from wren.core.messages import Message, ToolCall, arguments_text
from wren.core.backend import ModelReply, OnDelta, RetryPolicy, ToolChoice, choice_name, estimate_tokens, ignore
from wren.agent.models.errors import FAULTS, fault_error


class ScriptedCall(BaseModel):
    name: str
    arguments: dict[str, Any] | str = Field(default_factory=dict)


class ScriptedTurn(BaseModel):
    content: str = ""
    tool_calls: list[ScriptedCall] = Field(default_factory=list)
    error: str | None = None
    # Text that must appear in the prompt this turn answers; lets transcripts check what the model saw.
    expect: list[str] = Field(default_factory=list)
    # Text that must not appear in it (a secret, an instruction that should have been dropped).
    absent: list[str] = Field(default_factory=list)


class Script(BaseModel):
    turns: list[ScriptedTurn]
    # A small window makes compaction testable; summaries answer compaction requests in order.
    window: int | None = None
    summaries: list[str] = Field(default_factory=list)


def load_script(path: Path) -> Script:
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read scripted model file {path}: {exc.strerror}; "
                          "pass --model scripted:PATH with a readable JSON file") from None
    try:
        script = Script.model_validate(json.loads(raw))
    except (json.JSONDecodeError, ValidationError) as exc:
        first = str(exc).splitlines()[0]
        raise ConfigError(f"scripted model file {path} is not valid ({first}); "
                          'expected {"turns": [{"content": ..., "tool_calls": [...]}]}') from None
    for turn in script.turns:
        if turn.error is not None and turn.error not in FAULTS:
            raise ConfigError(f"scripted model file {path}: unknown error {turn.error!r}; "
                              f"use one of {', '.join(sorted(FAULTS))}")
    return script


class ScriptedBackend:
    # Simulated failures need no real waiting; the backoff logic is the same.
    retry = RetryPolicy(attempts=4, base_delay_s=0.01, max_delay_s=0.05)

    def __init__(self, path: Path) -> None:
        self.name = f"scripted:{path}"
        self.script = load_script(path)
        self.window = self.script.window
        self.reply_reserve = min(1024, (self.window or 8192) // 8)
        self._next = 0
        self._summaries = 0
        self._lock = threading.Lock()
        self.prompt_sizes: list[int] = []  # what each step sent, for tests of the budget
        self.tool_choices: list[ToolChoice] = []  # each step's tool_choice, for tests of careful sessions
        self.summary_focus: list[str] = []
        self.summary_streamed: list[int] = []  # characters of each summary streamed before it returned or was stopped
        self.summarized: list[list[Message]] = []  # what each summary was asked of, for tests

    def count_tokens(self, messages: list[Message], tools: list[dict[str, Any]]) -> int:
        return estimate_tokens(messages, tools)

    def summarize(self, messages: list[Message], on_delta: OnDelta = ignore, focus: str = "") -> str:
        """Compaction asks for a summary; it does not consume a scripted turn. Each `focus` is kept in
        `summary_focus`, so tests see what a retry was told."""
        on_delta("")  # one heartbeat: an interrupt already asked for stops the summary here
        with self._lock:
            i, self._summaries = self._summaries, self._summaries + 1
            self.summary_focus.append(focus)
            self.summarized.append(messages)
            self.summary_streamed.append(0)
        text = self.script.summaries[i] if i < len(self.script.summaries) else (
            # Like an obedient model, the default summary keeps what it was told to keep.
            f"(scripted summary {i + 1} of {len(messages)} earlier messages)" + (f" {focus}" if focus else ""))
        # Streamed a word at a time, as a real model's summary is, so a caller may stop it (SummaryFull).
        for word in re.findall(r"\S+\s*|\s+", text):
            self.summary_streamed[i] += len(word)
            on_delta(word)
        return text

    def complete(self, messages: list[Message], tools: list[dict[str, Any]], on_delta: OnDelta,
                 tool_choice: ToolChoice = "auto") -> ModelReply:
        """The next scripted turn; like a provider, refuses a turn with calls when `tool_choice` is "none",
        and one that calls another tool when it names a tool."""
        size = self.count_tokens(messages, tools)
        if self.window is not None and size > self.window:
            # Like a provider: an oversized prompt is refused before any turn is used.
            raise fault_error("context_window", self.name, f"{size} tokens sent to a window of {self.window}")
        with self._lock:
            if self._next >= len(self.script.turns):
                raise ModelError(f"the scripted model ran out of turns after {self._next}",
                                 kind="script_exhausted")
            index, turn = self._next, self.script.turns[self._next]
            self._next += 1
        self.prompt_sizes.append(size)
        self.tool_choices.append(tool_choice)
        tool_choice = choice_name(tool_choice)
        check_prompt(messages, turn.expect, index, turn.absent)
        if turn.error:
            raise fault_error(turn.error, self.name, "simulated by the script")
        if tool_choice == "none" and turn.tool_calls:
            raise ModelError(f"scripted turn {index} calls a tool where tool_choice was 'none'", kind="invariant")
        if tool_choice not in ("auto", "none") and any(c.name != tool_choice for c in turn.tool_calls):
            raise ModelError(f"scripted turn {index} calls another tool where tool_choice was {tool_choice!r}",
                             kind="invariant")
        if turn.content:
            on_delta(turn.content)
        calls = [ToolCall(id=f"call_{index}_{i}", name=c.name, arguments=arguments_text(c.arguments))
                 for i, c in enumerate(turn.tool_calls)]
        usage = Usage(prompt_tokens=size,
                      completion_tokens=(len(turn.content) + sum(len(c.arguments) for c in calls)) // 4)
        return ModelReply(content=turn.content, tool_calls=calls, usage=usage)


def check_prompt(messages: list[Message], expect: list[str], index: int, absent: Sequence[str] = ()) -> None:
    """The invariants a real provider enforces, checked so tests cannot pass on a broken prompt."""
    if not messages or messages[0].role != "system":
        raise ModelError(f"scripted turn {index}: the prompt must start with the system message", kind="invariant")
    open_calls: set[str] = set()
    for m in messages:
        if m.role == "tool":
            if m.tool_call_id not in open_calls:
                raise ModelError(f"scripted turn {index}: tool result {m.tool_call_id} answers no open call",
                                 kind="invariant")
            open_calls.discard(m.tool_call_id)
        elif open_calls:
            raise ModelError(f"scripted turn {index}: calls {sorted(open_calls)} have no result", kind="invariant")
        if m.role == "assistant":
            open_calls = {c.id for c in m.tool_calls}
    if open_calls:
        raise ModelError(f"scripted turn {index}: calls {sorted(open_calls)} have no result", kind="invariant")
    text = "\n".join([m.content for m in messages] + [c.arguments for m in messages for c in m.tool_calls])
    missing = [e for e in expect if e not in text]
    if missing:
        raise ModelError(f"scripted turn {index}: the prompt lacks {missing}", kind="invariant")
    present = [a for a in absent if a in text]
    if present:
        raise ModelError(f"scripted turn {index}: the prompt holds {present}, which it must not", kind="invariant")
