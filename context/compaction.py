"""Compaction: replace the oldest turns with a summary, keep everything evicted in session memory."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from wren.core.errors import ModelError
from wren.core.events import ContextCompacted, EvictedItem
from wren.core.messages import Message
from wren.core.backend import ModelBackend, OnDelta, estimate_tokens, ignore
from wren.context.manager import ContextManager
from wren.context.memory import MemoryChunk, SessionMemory, chunk_message


def plan_eviction(ctx: ContextManager, to_free: int | None) -> int:
    """How many leading messages to evict: whole units, oldest first, the newest unit always kept.

    `to_free` tokens is the goal; None (a manual /compact) evicts everything before the latest
    user message, or every unit but the newest when that message is the first.
    """
    starts = ctx.eviction_units()
    if to_free is None:
        last_user = max((i for i, m in enumerate(ctx.messages) if m.role == "user"), default=0)
        if last_user > 0:
            return last_user
    count, freed = 0, 0
    for start, end in zip(starts, starts[1:]):
        freed += estimate_tokens(ctx.messages[start:end], [])
        count = end
        if to_free is not None and freed >= to_free:
            break
    return count


@dataclass
class Compactor:
    backend: ModelBackend  # counts the prompt's tokens: the main model's
    memory: SessionMemory
    summarizer: ModelBackend  # writes the summary (see ContextService.summarizer)

    def compact(self, ctx: ContextManager, tools: list[dict], reason: str, number: int, to_free: int | None,
                warn: Callable[[str], None], on_delta: OnDelta = ignore) -> ContextCompacted:
        """Evict the oldest whole units into memory, with a summary written by the model.

        `on_delta` gets the summary's heartbeats; StreamStopped raised from it leaves the context and
        the memory as they were. ModelError when nothing can be evicted.
        """
        before = self.backend.count_tokens(ctx.prompt(), tools)
        count = plan_eviction(ctx, to_free)
        if count == 0:
            raise ModelError(f"the context cannot be compacted further: the prompt is {before} tokens and "
                             "only the newest exchange is left; start a new session or use a model with a "
                             "larger window", kind="context_window")
        evicted = ctx.messages[:count]
        try:
            summary = self.summarizer.summarize(evicted, on_delta)
        except ModelError as exc:
            # Nothing is lost (memory and the log hold it all); the summary is just thinner.
            warn(f"the model could not summarise ({exc.message}); keeping the structured summary only")
            summary = "(no narrative summary: the model call failed)"
        self.memory.add([c for i, m in enumerate(evicted) for c in chunk_message(m, number, i)])
        for n, old in enumerate(ctx.evict(count, summary)):
            self.memory.add([MemoryChunk(id=f"c{number}-summary{n}", text=f"[earlier summary] {old}",
                                         role="summary", compaction=number)])
        after = self.backend.count_tokens(ctx.prompt(), tools)
        return ContextCompacted(tokens_before=before, tokens_after=after, summary=summary, evicted=count,
                                reason=reason, number=number, items=[_item(m) for m in evicted])


def _item(message: Message) -> EvictedItem:
    text = message.content or " ".join(f"{c.name}({c.arguments})" for c in message.tool_calls)
    return EvictedItem(role=message.role, name=message.name, chars=len(text), preview=" ".join(text.split())[:200])
