"""What a session needs from context/: the working context, its budget, compaction and memory."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from wren.core.config import ContextConfig
from wren.core.errors import ModelError
from wren.core.events import CompactReason, ContextCompacted, ContextForgotten, ContextPinned, Event
from wren.core.backend import ModelBackend, OnDelta, ignore
from wren.core.messages import redacted
from wren.context.budget import Budget
from wren.context.compaction import Compactor, evicted_item, plan_eviction, summary_bound
from wren.context.manager import ContextManager, replay
from wren.context.memory import SessionMemory, chunk_message, format_recalled

AUTO_RECALL_K = 3
AUTO_RECALL_CHARS = 1800  # about 450 tokens: a small, bounded share of any window
# A tool result may take this share of the prompt's budget: on a 4,096-token window one pytest run (2,877
# characters, five failing tests listed) took 1,166 of the 3,072 tokens, and with the code read next it crossed
# the budget before the model's first step.
RESULT_SHARE = 0.25
CHARS_PER_TOKEN = 2.5  # Qwen2.5-Coder's tokenizer on pytest output (2,877 characters, 1,166 tokens)


class ContextService:
    def __init__(self, root: Path, session_id: str, system: str, backend: ModelBackend,
                 options: ContextConfig, warn: Callable[[str], None]) -> None:
        self.root, self.session_id, self.options, self.warn = root, session_id, options, warn
        self.manager = ContextManager(system)
        self._memory: SessionMemory | None = None
        self.compactions = 0
        self.use_backend(backend)

    def use_backend(self, backend: ModelBackend) -> None:
        """Count tokens, budget and summarise with `backend` from now on (after a model switch)."""
        self.backend = backend
        # Compaction summaries come from this backend: the `fast` role's when the session sets one
        # (agent/roles.py), else the main model.
        self.summarizer: ModelBackend = backend
        window = self.options.window or backend.window
        self.budget: Budget | None = Budget(window, backend.reply_reserve, self.options.compact_at) if window else None

    def replay(self, events: list[Event]) -> None:
        replay(self.manager, events)
        self.compactions = sum(isinstance(e, ContextCompacted) for e in events)

    @property
    def memory(self) -> SessionMemory:
        if self._memory is None:
            from wren.core.config import load_config
            from wren.context.embeddings import load_embedder

            # The same embedder and Chroma store settings as the code index (top-level in wren.toml).
            config = load_config(self.root)
            embedder = load_embedder(config.embeddings, self.warn)
            missing = "" if embedder is not None else (
                'embeddings = "none" in wren.toml' if config.embeddings == "none" else "the embedding model is missing")
            self._memory = SessionMemory(self.root, self.session_id, embedder, config.chroma, missing)
        return self._memory

    def has_memory(self) -> bool:
        return self._memory is not None or (self.root / ".wren" / "memory" / f"{self.session_id}.jsonl").is_file()

    def compact(self, tools: list[dict], reason: CompactReason, on_delta: OnDelta = ignore, keep: str = "",
                keep_from: int | None = None) -> ContextCompacted:
        """`manual` keeps only the newest exchange, `model` (the model's own `compact`, with what to `keep`)
        only the newest step; `auto` and `overflow` free down to the budget's target, `auto` evicting
        nothing from message `keep_from` on (see ensure_room)."""
        to_free = None
        if reason not in ("manual", "model"):
            to_free = self._to_free(self.backend.count_tokens(self.manager.prompt(), tools))
        try:
            event = Compactor(self.backend, self.memory, self.summarizer).compact(
                self.manager, tools, reason, self.compactions + 1, to_free, self.warn, on_delta, keep, keep_from)
            self.compactions += 1  # only once done: a compaction refused or stopped is none
            return event.model_copy(update={"summary_model": self.summarizer.name})
        except ModelError as exc:
            if self.budget is None:
                raise
            raise ModelError(f"{exc.message} (the model's window is {self.budget.window} tokens; "
                             f"{self.budget.reserve} tokens are kept for the reply)", kind=exc.kind) from None

    def ensure_room(self, tools: list[dict], on_delta: OnDelta = ignore,
                    working_set: int | None = None) -> list[ContextCompacted]:
        """Compact when the prompt nears the budget (its compaction trigger); stop (never loop) when even
        that cannot make it fit the limit (the window less the reply's reserve). Returns the compactions made.

        `working_set`: the index of the first message the next step works from (a careful attempt's
        orienting calls, agent/careful.py). On a 4,096-token window each fresh attempt's failing run and
        code crossed the trigger, the compaction evicted them, and the next attempt had to run and read
        them again: a compaction (a Qwen summary, about a minute on a laptop CPU) per attempt. So, with
        what comes before the working set evicted (its summary taken at its bound, Compactor.limit): under
        the trigger, the compaction leaves the working set in place; over it but within the limit, none
        happens while the prompt is within the limit (a compaction could not bring it under the trigger);
        past the limit, it leaves the working set in place if that fits, else evicts it like the rest (and
        when a summary came out longer than its bound, a second compaction does).
        """
        if self.budget is None:
            return []
        tokens = self.backend.count_tokens(self.manager.prompt(), tools)
        events: list[ContextCompacted] = []
        if self.budget.needs_compaction(tokens):
            keep_from, kept = None, self._kept(working_set, tokens, tools)
            if kept is not None and kept <= self.budget.limit:
                if self.budget.needs_compaction(kept) and self.budget.fits(tokens):
                    return []
                keep_from = working_set
            events.append(self.compact(tools, "auto", on_delta, keep_from=keep_from))
            tokens = events[-1].tokens_after
            if keep_from is not None and not self.budget.fits(tokens):
                events.append(self.compact(tools, "auto", on_delta))
                tokens = events[-1].tokens_after
        if not self.budget.fits(tokens):
            raise ModelError(f"the prompt is {tokens} tokens after compaction, more than the window allows "
                             f"({self.budget.window} tokens minus {self.budget.reserve} for the reply); "
                             "use a model with a larger window or a shorter request", kind="context_window")
        return events

    def result_room(self) -> int | None:
        """Characters a tool result's output may take: RESULT_SHARE of the budget's tokens at CHARS_PER_TOKEN;
        None without a window (tools/output.py's MAX_CHARS applies either way)."""
        return int(self.budget.limit * RESULT_SHARE * CHARS_PER_TOKEN) if self.budget else None

    def _kept(self, working_set: int | None, tokens: int, tools: list[dict]) -> int | None:
        """The tokens of the prompt (now `tokens`) after an automatic compaction that leaves message
        `working_set` and those after it in place, its summary as long as its bound; None without a
        working set."""
        if working_set is None or working_set not in self.manager.eviction_units():
            return None
        count = plan_eviction(self.manager, self._to_free(tokens), keep_from=working_set)
        if not count:
            return tokens
        probe = self.manager.evicted_copy(count, "")  # the summary's own tokens are added at its bound
        return self.backend.count_tokens(probe.prompt(), tools) + summary_bound(self.backend,
                                                                                self.manager.messages[:count])

    def _to_free(self, tokens: int) -> int:
        """Tokens an automatic compaction frees of a prompt of `tokens`: down to the budget's target."""
        return int(tokens - self.budget.target * self.budget.limit) if self.budget else tokens // 2

    def recall(self, query: str, k: int) -> str:
        """The passages of memory that best match `query`; a tool call id as the query brings back that
        call's whole result (forgotten, or compacted away)."""
        if whole := self.manager.forgotten.get(query.strip()):
            return whole
        if not self.has_memory() or not len(self.memory):
            return "Nothing has been compacted out of this session yet; everything is still in your context."
        if chunks := self.memory.of_call(query.strip()):
            return "\n".join(c.text for c in chunks)
        return format_recalled(self.memory.search(query, k)) or "No earlier context matches that query."

    def forget(self, call_ids: list[str]) -> ContextForgotten | None:
        """Move the results of `call_ids` still in the prompt to memory, each leaving a stub; None when
        none of them is there."""
        originals = self.manager.forget(call_ids)
        if not originals:
            return None
        self.memory.add([c for m in redacted(originals)  # as compaction stores them (context/compaction.py)
                         for c in chunk_message(m, self.compactions, 0, prefix=f"forget-{m.tool_call_id}")])
        return ContextForgotten(call_ids=[m.tool_call_id or "" for m in originals],
                                items=[evicted_item(m) for m in originals])

    def pin(self, text: str) -> ContextPinned:
        """Keep `text` verbatim in every prompt; ValueError (with the reason) when it cannot be pinned."""
        if problem := self.manager.pin_problem(text):
            raise ValueError(problem)
        self.manager.pin(text)
        return ContextPinned(text=text.strip())

    def repo_map(self, text: str) -> str:
        """The repo map for a new user message, personalised by the files in play and the names it
        uses; empty for models without room for one."""
        from wren.context.repomap import map_budget, mentioned_identifiers, repo_map

        tokens = map_budget(self.budget.window if self.budget else None, self.options.repo_map_tokens)
        if not tokens:
            return ""
        from wren.context.shared_index import opened_index

        try:
            index = opened_index(self.root)
            index.update(dense=False)
        except Exception as exc:  # noqa: BLE001 - the map is an aid: an index that cannot open must not stop the turn
            self.warn(f"no repo map this turn: the code index could not be opened ({exc})")
            return ""
        # Files a tool has read or changed are left out of the map (the model has seen them); files
        # the message names count through their names, among the identifiers.
        return repo_map(index, tokens, self.manager.files_in_play(), mentioned_identifiers(text))

    def auto_recall(self, text: str) -> str:
        """The few evicted chunks most relevant to a new user message, within a small budget."""
        if not self.has_memory() or not len(self.memory):
            return ""
        return format_recalled(self.memory.search(text, AUTO_RECALL_K), AUTO_RECALL_CHARS)
