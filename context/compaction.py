"""Compaction: replace the oldest turns with a summary, keep everything evicted in session memory."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from wren.core.errors import ModelError, SummaryFull
from wren.core.events import CompactReason, ContextCompacted, EvictedItem
from wren.core.messages import Message, redacted
from wren.core.redact import redact
from wren.core.backend import ModelBackend, OnDelta, estimate_tokens, ignore
from wren.context.manager import ContextManager
from wren.context.memory import MemoryChunk, SessionMemory, chunk_message


TASK_CHARS = 300  # the task's opening is what a summary must keep of it
# A summary may take at most this share of the tokens it replaces (at least SUMMARY_FLOOR tokens): Qwen2.5-Coder-1.5B
# wrote summaries as long as what they replaced (2,666 tokens before a compaction, 2,690 after), so the next step
# compacted again. What it replaced is in session memory; the cut end of the summary is not kept.
SUMMARY_SHARE = 0.5
SUMMARY_FLOOR = 64
CUT = " [summary cut to fit; the messages it replaced are in session memory: recall]"
KEPT_SHARE = 0.6  # of a part's words of 4+ letters, the share a summary must hold to keep it
WORD = re.compile(r"[a-z0-9_]{4,}")


def must_keep(ctx: ContextManager, evicted: list[Message]) -> dict[str, str]:
    """What a compaction summary of `evicted` must not lose, by name: the task (the request being worked on,
    the user's newest), when this compaction evicts its message, and every pinned note. Every request stays
    in the summary block verbatim once compacted, so a finished one is not held: in a session that went on
    to a second task (bench/chained.py, Qwen2.5-Coder-1.5B) the summaries were held to the finished first
    one, sent back for it (a second summarizer call, up to five minutes on a laptop CPU) and then had it
    added as "the task"."""
    task = ctx.directives[-1][:TASK_CHARS] if ctx.directives else ""
    asked = bool(task) and any(m.role == "user" and (m.content or "").startswith(task) for m in evicted)
    parts = {"the task": task} if asked else {}
    parts.update({f"pinned note {n}": pin for n, pin in enumerate(ctx.pins, 1)})
    # As the summariser saw them (roles.Metered redacts): a summary cannot hold a key it never saw, and what is
    # added verbatim to a summary goes on into memory.
    return {name: redact(text) for name, text in parts.items()}


def summary_opening(parts: dict[str, str]) -> str:
    """The text a summary opens with where the summariser takes an opening (LocalBackend.opens_summaries):
    each part it must keep (must_keep), verbatim, under SUMMARY_INSTRUCTIONS' own headings, so that the model
    goes on from them. Qwen2.5-Coder-1.5B's summaries left out the task every time, and again when asked once
    more with the task named (bench/summaries.py, bench/chained.py): each compaction that evicted the task
    wrote two summaries, about 100 s each on a laptop CPU, and then had the task added verbatim anyway."""
    task = [f"Task: {parts['the task']}"] if "the task" in parts else []
    pins = [f"- {text}" for name, text in parts.items() if name.startswith("pinned note")]
    return "\n".join(task + (["Pinned notes (verbatim):", *pins] if pins else [])) + "\n" if task or pins else ""


def lost(summary: str, parts: dict[str, str]) -> list[str]:
    """Names of the parts `summary` does not keep: neither verbatim (case and spacing aside) nor
    through most (KEPT_SHARE) of their words, as a faithful paraphrase would."""
    flat = " ".join(summary.lower().split())
    have = set(WORD.findall(flat))
    missing = []
    for name, text in parts.items():
        words = set(WORD.findall(text.lower()))
        if " ".join(text.lower().split()) not in flat and len(words & have) < KEPT_SHARE * len(words):
            missing.append(name)
    return missing


def plan_eviction(ctx: ContextManager, to_free: int | None, everything: bool = False,
                  keep_from: int | None = None) -> int:
    """How many leading messages to evict: whole units, oldest first, the newest unit always kept.

    `to_free` tokens is the goal; None (a manual /compact) evicts everything before the latest
    user message, or every unit but the newest when that message is the first; `everything` (the
    model's own `compact`) every unit but the newest. `keep_from`: no unit from that message on is
    evicted (the working set an automatic compaction leaves in place: see ContextService.ensure_room).
    """
    starts = ctx.eviction_units()
    if to_free is None and not everything:
        last_user = max((i for i, m in enumerate(ctx.messages) if m.role == "user"), default=0)
        if last_user > 0:
            return last_user
    if keep_from in starts:  # a unit's start, so no call is split from its result
        starts = [i for i in starts if i <= keep_from]
    count, freed = 0, 0
    for start, end in zip(starts, starts[1:]):
        freed += estimate_tokens(ctx.messages[start:end], [])
        count = end
        if to_free is not None and freed >= to_free:
            break
    return count


def summary_bound(backend: ModelBackend, evicted: list[Message]) -> int:
    """The most tokens a summary of `evicted` may take: SUMMARY_SHARE of theirs by `backend`'s count, at least
    SUMMARY_FLOOR."""
    return max(SUMMARY_FLOOR, int(backend.count_tokens(evicted, []) * SUMMARY_SHARE))


@dataclass
class Compactor:
    backend: ModelBackend  # counts the prompt's tokens: the main model's
    memory: SessionMemory
    summarizer: ModelBackend  # writes the summary (see ContextService.summarizer)

    def compact(self, ctx: ContextManager, tools: list[dict], reason: CompactReason, number: int, to_free: int | None,
                warn: Callable[[str], None], on_delta: OnDelta = ignore, keep: str = "",
                keep_from: int | None = None) -> ContextCompacted:
        """Evict the oldest whole units into memory, with a summary written by the model.

        `on_delta` gets the summary's heartbeats; StreamStopped raised from it leaves the context and
        the memory as they were. ModelError when nothing can be evicted. `keep`: what the model asked
        the summary to keep (its `compact` call; reason "model"). `keep_from`: see plan_eviction.
        """
        before = self.backend.count_tokens(ctx.prompt(), tools)
        count = plan_eviction(ctx, to_free, everything=reason == "model", keep_from=keep_from)
        if count == 0:
            raise ModelError(f"the context cannot be compacted further: the prompt is {before} tokens and "
                             "only the newest exchange is left; start a new session or use a model with a "
                             "larger window", kind="context_window")
        evicted = ctx.messages[:count]
        try:
            summary = self.summary(evicted, ctx, keep, warn, on_delta)
        except ModelError as exc:
            # Nothing is lost (memory and the log hold it all); the summary is just thinner.
            warn(f"the model could not summarise ({exc.message}); keeping the structured summary only")
            summary = "(no narrative summary: the model call failed)"
        # Stored redacted: the context keeps the user's words raw (the loop redacts each prompt), and the
        # memory is a file on disk and maybe a Chroma server.
        self.memory.add([c for i, m in enumerate(redacted(evicted)) for c in chunk_message(m, number, i)])
        for n, old in enumerate(ctx.evict(count, summary)):
            self.memory.add([MemoryChunk(id=f"c{number}-summary{n}", text=f"[earlier summary] {redact(old)}",
                                         role="summary", compaction=number)])
        after = self.backend.count_tokens(ctx.prompt(), tools)
        return ContextCompacted(tokens_before=before, tokens_after=after, summary=summary, evicted=count,
                                reason=reason, number=number, items=[evicted_item(m) for m in evicted],
                                retrieval=self.memory.retrieval)

    def limit(self, evicted: list[Message]) -> int:
        """The most tokens a summary of `evicted` may take: summary_bound by the main backend's count."""
        return summary_bound(self.backend, evicted)

    def written(self, evicted: list[Message], on_delta: OnDelta, focus: str, opening: str = "") -> str:
        """The summarizer's summary of `evicted`, within limit() (see bounded), opening with `opening` where the
        summariser takes one (opens_summaries) and `opening` is at most half the limit. Its writing is stopped once
        what it streamed is past the limit: Qwen2.5-Coder-1.5B on a laptop CPU writes about 8 tokens a second,
        and its summaries ran to its 1,024-token reply cap, all of it past the limit cut away after. A
        summariser that does not stream its text writes to its end, and is cut the same way."""
        limit, size, checked = self.limit(evicted), 0, 0
        parts: list[str] = []

        def capped(delta: str) -> None:
            nonlocal size, checked
            on_delta(delta)  # the caller's heartbeat first: an interrupt still stops the summary
            parts.append(delta)
            size += len(delta)
            # A token is at least a character, so below `limit` characters there is no need to count;
            # past it, count every 200 characters (a tokenizer call each, not one per token).
            if size > limit and size - checked >= 200:
                checked = size
                text = "".join(parts)
                # The summariser's own count, not the main backend's: this runs inside the summariser's step
                # (a local model's lock held), and taking a second model's lock here could deadlock two sessions.
                if self.summarizer.count_tokens([Message(role="assistant", content=text)], []) > limit:
                    raise SummaryFull(text)

        opens = bool(opening) and getattr(self.summarizer, "opens_summaries", False) is True and \
            self.backend.count_tokens([Message(role="assistant", content=opening)], []) <= limit // 2
        try:
            summary = self.summarizer.summarize(evicted, capped, focus, *([opening] if opens else []))
        except SummaryFull as full:
            summary = full.text.strip()
        return self.bounded(summary, evicted)

    def bounded(self, summary: str, evicted: list[Message]) -> str:
        """`summary` cut to limit() tokens, by the main backend's count, at whitespace where there is some,
        ending with CUT; as it was when within."""
        limit = self.limit(evicted)
        tokens = self.backend.count_tokens([Message(role="assistant", content=summary)], [])
        if tokens <= limit:
            return summary
        keep = summary[: max(0, int(len(summary) * limit / tokens) - len(CUT))]
        if keep and not summary[len(keep)].isspace() and any(c.isspace() for c in keep.strip()):
            keep = keep.rstrip().rsplit(None, 1)[0]  # not in the middle of a word
        return keep.rstrip() + CUT

    def summary(self, evicted: list[Message], ctx: ContextManager, keep: str, warn: Callable[[str], None],
                on_delta: OnDelta) -> str:
        """The summarizer's summary; one that loses the task or a pinned note is rejected and asked for
        again, once, naming what it lost. When the second also loses some, the one that lost fewer
        parts stays, with what it lost added verbatim (the prompt shows the task and pins anyway). A summariser
        that takes an opening (a local model's) opens the summary with those parts (summary_opening), so it
        keeps them the first time."""
        parts = must_keep(ctx, evicted)
        focus = "\n".join(filter(None, [
            f"The agent asked to keep: {keep}" if keep else "",
            # Each redacted on its own, as must_keep does: after "- " a `NAME=value` secret is not seen as one.
            "Pinned notes (keep each verbatim):\n" + "\n".join(f"- {redact(p)}" for p in ctx.pins) if ctx.pins else ""]))
        # Bounded before the check, so that what the check finds kept, or what is added verbatim, is not cut after.
        first = self.written(evicted, on_delta, focus, summary_opening(parts))
        missing = lost(first, parts)
        if not missing:
            return first
        named = "; ".join(f"{name}: {parts[name]!r}" for name in missing)
        retry = f"{focus}\nA summary you wrote lost {named}. Write it again, keeping them.".strip()
        second = self.written(evicted, on_delta, retry)
        still = lost(second, parts)
        if not still:
            return second
        summary, still = (second, still) if len(still) < len(missing) else (first, missing)
        warn(f"the compaction summary lost {', '.join(still)} twice; added verbatim")
        return summary + "\n" + "\n".join(f"{name.capitalize()} (verbatim): {parts[name]}" for name in still)


def evicted_item(message: Message) -> EvictedItem:
    """How an evicted message is shown: role, tool name, size and the start of its text."""
    text = message.content or " ".join(f"{c.name}({c.arguments})" for c in message.tool_calls)
    return EvictedItem(role=message.role, name=message.name, chars=len(text), preview=" ".join(text.split())[:200])
