"""Local GGUF models on llama-cpp-python: constrained steps, KV-cache reuse, all layers offloaded when possible."""
from __future__ import annotations

import json
import sys
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, cast

from wren.core.config import LocalConfig
from wren.core.errors import ConfigError, ModelError
from wren.core.events import Usage
from wren.core.messages import Message, ToolCall
from wren.core.backend import (EffortSupport, ModelReply, ToolChoice, OnDelta, RetryPolicy, choice_name, ignore,
                                summary_prompt)
from wren.local_models import catalog, kv_cache, thinking
from wren.local_models.formats import OPENING_KEY, REASON_OPENING, TaggedCalls, excluded_by
from wren.local_models.degenerate import close_cut_call, cut_loop, loop_start, runaway_new
from wren.local_models.gguf import read_gguf
from wren.local_models.prompt import PromptRenderer, step_key

if TYPE_CHECKING:
    from llama_cpp import Llama
    from llama_cpp.llama_types import CreateCompletionStreamResponse

DEFAULT_N_CTX = 8192
MAX_REPLY_TOKENS = 1024  # a whole edit of a function fits; a 512 budget cut write_file calls short
# A narrowed edit (a tool's schema as tool_choice: narrowing.narrowed_edit) replaces one line: with no repeat
# penalty, Qwen2.5-Coder-1.5B once wrote `min(1, 1, 1, ...` in its `new` for all 1,024 tokens (128 s).
# With its reason first (formats.REASON_CHARS): 300 characters are 300 tokens at worst (a list of digits),
# and a call of a 200-character line with its new text fits in the rest; the reason's opening (the failing
# run's first failure, formats.reason_opening) is written into the prompt (by the grammar where it cannot be).
NARROWED_REPLY_TOKENS = 768
REASONED_EDITS = True  # False: narrowed steps without the reason (to compare the two on the task benchmark)
PREFILLED_OPENING = True  # False: the reason's opening forced by the grammar instead (bench/narrowed_step.py)
GRAMMAR_CACHE = 16  # compiled grammars kept: the offered tools, answer-only, a few narrowed edits
AS_GENERATED_KEPT = 256  # steps whose generated text is kept; older ones show in canonical JSON


@dataclass
class StepStats:
    """What the last step cost; bench/local_model.py reads it."""
    raw: str = ""
    ttft_s: float = 0.0
    generated: int = 0
    gen_s: float = 0.0


# Tools a small model misuses more than it uses: it marks a plan "completed" and stops.
UNUSED_TOOLS = frozenset({"update_plan"})


@dataclass(eq=False)
class _Loaded:
    """A model in memory and the lock of its one llama.cpp context (not thread-safe), both shared by
    every LocalBackend of this process on the same file and settings, with the states set aside from it."""
    llm: "Llama"
    lock: threading.RLock
    saved: kv_cache.SavedStates


# Loaded models, for as long as some backend uses them; the latest one is also kept with none, so
# sessions run one after another in a process (`wren batch`'s workers) load their model once.
_LOADED: "weakref.WeakValueDictionary[tuple, _Loaded]" = weakref.WeakValueDictionary()
_LATEST: list[_Loaded] = []
_LOAD_SECONDS: list[float] = []  # one entry per load this process did
_LOADING = threading.Lock()


def model_loads() -> tuple[int, float]:
    """(how many models this process loaded from disk, the seconds those loads took in all); a
    backend that reused a loaded model counts nothing. Read before and after a session for its own."""
    with _LOADING:
        return len(_LOAD_SECONDS), sum(_LOAD_SECONDS)


def _load(path: Path, n_ctx: int, threads: int, n_gpu_layers: int, seed: int) -> _Loaded:
    """The model at `path` with these settings: the one already loaded in this process, else loaded
    now. Sharing is safe for the KV cache: llama.cpp reuses only the prefix of the tokens it actually
    evaluated, so another session's prompt reuses just what it has in common. ConfigError when
    llama.cpp cannot load the file."""
    from llama_cpp import Llama

    stat = path.stat()  # a file replaced since (a new download) is loaded anew
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, n_ctx, threads, n_gpu_layers, seed)
    with _LOADING:
        loaded = _LOADED.get(key)
        if loaded is None:
            started = time.perf_counter()
            try:
                llm = Llama(str(path), n_ctx=n_ctx, n_threads=threads, n_gpu_layers=n_gpu_layers, verbose=False,
                            seed=seed)
            except (ValueError, RuntimeError) as exc:
                raise ConfigError(f"llama.cpp cannot load {path}: {exc}; is the file complete?") from None
            _LOAD_SECONDS.append(time.perf_counter() - started)
            loaded = _LOADED[key] = _Loaded(llm, threading.RLock(), kv_cache.SavedStates())
        _LATEST[:] = [loaded]
        return loaded


class LocalBackend:
    retry = RetryPolicy(attempts=1)  # nothing remote to wait for
    streams_thoughts = True  # complete() takes on_thought (models with a thinking switch; see thinking.py)

    def __init__(self, path: Path, n_ctx: int | None = None, threads: int | None = None,
                 constrained: bool = True, seed: int = 7) -> None:
        from wren.local_models.hardware import detect

        self.info = read_gguf(path)
        self.hardware = detect()
        trained = self.info.context_length or DEFAULT_N_CTX
        self.window = min(n_ctx or DEFAULT_N_CTX, trained)
        self.name = f"local:{path.name}"
        self.reply_reserve = MAX_REPLY_TOKENS
        self.constrained = constrained
        self.seed = seed
        self.sampling = catalog.sampling_for(path)
        self.unused_tools = UNUSED_TOOLS
        self.careful = True  # see SessionConfig.careful
        # Per backend: the state of its session (below); shared: the weights and the context.
        self._loaded = _load(path, self.window, threads or self.hardware.threads, self.hardware.n_gpu_layers, seed)
        self.llm = self._loaded.llm
        self.renderer = PromptRenderer(self.info.chat_template, self._token_text("bos"), self._token_text("eos"),
                                       self.name)
        self._grammars: dict[str, object] = {}
        # Canonical JSON of recent steps -> the text generated for them (see to_template_messages).
        self._as_generated: dict[str, str] = {}
        self._lock = self._loaded.lock
        self._steps = 0
        self.last = StepStats()

    @classmethod
    def from_spec(cls, spec: str | None, options: LocalConfig) -> "LocalBackend":
        return cls(catalog.resolve(spec, options.models, options.n_ctx), n_ctx=options.n_ctx, threads=options.threads)

    def _token_text(self, which: str) -> str:
        token = self.info.metadata.get(f"tokenizer.ggml.{which}_token_id")
        if token is None:
            return ""
        return self.llm.detokenize([int(token)], special=True).decode("utf-8", errors="replace")

    def _grammar(self, tools: list[dict], reason: bool | str = False, opened: bool = False):
        """The compiled grammar of one step of `tools` (a reason first, opening with `reason` when it is a
        string, or after that opening when it is `opened` in the prompt: see formats); None when llama.cpp's
        parser does not take it (checked for reasoned, that is narrowed, steps: their rules are partly ours)."""
        from llama_cpp import LlamaGrammar

        key = json.dumps([tools, reason, opened], sort_keys=True)
        if key not in self._grammars:
            if len(self._grammars) >= GRAMMAR_CACHE:  # narrowed edits (narrowing.narrowed_edit): one per file state
                self._grammars.clear()
            text = self.renderer.format.grammar(tools, reason, opened)
            ok = not reason or grammar_parses(text)
            self._grammars[key] = LlamaGrammar.from_string(text, verbose=False) if ok else None
        return self._grammars[key]

    def prompt_tokens(self, messages: list[Message], tools: list[dict],
                      think: bool | None = None) -> tuple[list[int], list[str]]:
        text, stop = self.renderer.render(messages, tools, self._as_generated, think)
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True), stop

    def _length(self, text: str) -> int:
        """`text`'s length in the model's tokens (no BOS, no special tokens); 0 for ""."""
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)) if text else 0

    def count_tokens(self, messages: list[Message], tools: list[dict]) -> int:
        with self._lock:
            return len(self.prompt_tokens(messages, tools)[0])

    def effort_support(self, effort: str) -> EffortSupport:
        """Supported where the chat template has Qwen3's enable_thinking switch (local_models/thinking.py);
        else unsupported, saying why (SmolLM2 and Qwen2.5 have no switch)."""
        return thinking.support(self.name, self.renderer.template, effort)

    @property
    def opens_summaries(self) -> bool:
        """Whether summarize() takes an `opening`: where a reply without tools is plain prose (tagged calls,
        Qwen's); a JSON-steps model (SmolLM2) wraps its reply, so text put before it would break the wrapping."""
        return isinstance(self.renderer.format, TaggedCalls)

    def summarize(self, messages: list[Message], on_delta: OnDelta = ignore, focus: str = "", opening: str = "") -> str:
        """A compaction summary (core.backend.summary_prompt, the transcript cut to about a quarter of the
        window). `opening`: text the summary opens with verbatim, put into the model's reply ahead of what it
        writes, so that it goes on from it (where opens_summaries; else ignored); `on_delta` gets it first."""
        prompt = summary_prompt(messages, limit_chars=self.window, focus=focus)
        with self._lock:
            reply = self._complete(prompt, [], on_delta, prefix=opening if self.opens_summaries else "")
        return reply.content.strip()

    def clear_cache(self) -> None:
        """Empty the model's KV cache and drop its saved states (kv_cache.SavedStates): the next prompt is
        evaluated whole, as a benchmark's cold start wants. Every backend sharing the loaded model sees it."""
        with self._lock:
            self._loaded.saved.clear(self.llm)

    def complete(self, messages: list[Message], tools: list[dict], on_delta: OnDelta, effort: str | None = None,
                 on_thought: OnDelta = ignore, tool_choice: ToolChoice = "auto", opening: str = "") -> ModelReply:
        """One step. `tool_choice` "none": the tools stay in the prompt (the KV prefix holds) while the
        grammar allows a reply only; a tool's name: the grammar allows that call or a reply; a tool's
        schema (see chosen_tools): that call with the schema's narrower arguments, or a reply. `opening`:
        with "none" or no tools, text the reply opens with verbatim, where opens_summaries (see summarize)."""
        prefix = opening if opening and (tool_choice == "none" or not tools) and self.opens_summaries else ""
        # One llama.cpp context serves every session using this model (see _load); it is not thread-safe.
        with self._lock:
            return self._complete(messages, tools, on_delta, effort, on_thought, tool_choice, prefix)

    def _complete(self, messages: list[Message], tools: list[dict], on_delta: OnDelta, effort: str | None = None,
                  on_thought: OnDelta = ignore, tool_choice: ToolChoice = "auto", prefix: str = "") -> ModelReply:
        cap = thinking.THINK_TOKENS[effort] if effort and thinking.has_switch(self.renderer.template) else None
        tokens, stop = self.prompt_tokens(messages, tools, None if cap is None else cap > 0)
        if prefix:  # a reply without tools that opens with `prefix` (summarize): the model goes on from it
            tokens += self.llm.tokenize(prefix.encode("utf-8"), add_bos=False, special=False)
            on_delta(prefix)
        # A narrowed call (narrowing.narrowed_edit) is the fix itself: the model says first what is wrong.
        narrowed = isinstance(tool_choice, dict)
        opening = tool_choice["function"].get(OPENING_KEY, "") if isinstance(tool_choice, dict) else ""
        reason = narrowed and REASONED_EDITS and (opening or True)  # opening: careful.edit_first, from the failing run
        # The reason's opening goes into the prompt, evaluated in one batch with it: as grammar-forced text it was
        # decoded a token at a time (about 40 of Qwen2.5-Coder-1.5B's 230 tokens a narrowed step, ~8 s of ~50 s).
        written = ((opening or REASON_OPENING) if reason and self.constrained and tools
                   and self.renderer.format.takes_reason and not cap and PREFILLED_OPENING else "")
        if written:
            tokens = tokens + self.llm.tokenize(written.encode("utf-8"), add_bos=False, special=False)
        self._loaded.saved.reuse(self.llm, tokens)  # a conversation left for a request of its own is kept
        held = kv_cache.evaluated(self.llm)
        tokens = kv_cache.aligned(self.llm, held, tokens)
        if len(tokens) + MAX_REPLY_TOKENS + (cap or 0) > self.window:
            raise ModelError(f"the prompt needs {len(tokens)} tokens plus {MAX_REPLY_TOKENS + (cap or 0)} for the "
                             f"reply, more than the model's window of {self.window} tokens (n_ctx)",
                             kind="context_window")
        # What llama.cpp will reuse: the longest common prefix with what it already evaluated.
        cached = min(self.llm.longest_token_prefix(held, tokens), len(tokens) - 1)
        kv_cache.prefill(self.llm, tokens, cached, on_delta)
        thought_tokens = 0
        if cap:
            tokens, thought_tokens = self._think(tokens, cap, on_delta, on_thought)
        self._steps += 1
        grammar = (self._grammar(chosen_tools(tools, tool_choice), reason, bool(written))
                   if self.constrained and tools else None)
        if narrowed and grammar is None and opening and not written:  # an opening llama.cpp does not take: the usual one
            opening, grammar = "", self._grammar(chosen_tools(tools, tool_choice), REASONED_EDITS)
        if narrowed and grammar is None:  # a narrowed grammar llama.cpp does not take: the tool as offered
            sys.stderr.write(f"wren: warning: llama.cpp does not take the narrowed grammar of {choice_name(tool_choice)}; "
                             "the step has the tool as offered\n")
            grammar = self._grammar(chosen_tools(tools, choice_name(tool_choice)))
        # stream=True: an iterator of chunks (the return type is a union with the whole response)
        stream = cast("Iterator[CreateCompletionStreamResponse]", self.llm.create_completion(
            tokens, max_tokens=NARROWED_REPLY_TOKENS + self._length("" if written else opening) if narrowed
            else MAX_REPLY_TOKENS,
            temperature=self.sampling.temperature, top_p=self.sampling.top_p,
            top_k=self.sampling.top_k, min_p=self.sampling.min_p, repeat_penalty=self.sampling.repeat_penalty,
            stop=stop, stream=True,
            seed=self.seed + self._steps, grammar=grammar))
        text, generated, streamer = "", 0, ReplyStreamer(on_delta, self._reply_so_far(bool(tools)))
        started, first = time.perf_counter(), None
        looped, cut_at = False, None
        for chunk in stream:
            first = first or time.perf_counter()
            text += chunk["choices"][0]["text"]
            generated += 1
            on_delta("")  # a heartbeat per token: the caller may stop generation here (StreamStopped)
            streamer.feed(text)
            # The answer's prose; and a narrowed call, one line's fix, as a whole (Qwen once wrote
            # `min(1, 1, 1, ...` in its `new`): other calls' arguments (code) may repeat lines on purpose.
            if loop_start(text.removeprefix(opening) if narrowed else streamer.sent) is not None:
                looped = True
                break
            if narrowed and (cut_at := runaway_new(text)) is not None:  # one line's fix that does not end
                looped = True
                break
        done = time.perf_counter()
        if written:  # the reason as the model wrote it, from its opening (cut_at: into the generated text)
            text, cut_at = written + text, None if cut_at is None else cut_at + len(written)
        self.last = StepStats(text, (first or done) - started, generated, done - (first or done))
        content, calls = self.renderer.format.parse(text, f"call_{self._steps}")
        if narrowed and not calls and not streamer.sent:  # cut in its reason: still a call, for the registry to refuse
            content, calls = text.strip(), [ToolCall(id=f"call_{self._steps}", name=choice_name(tool_choice),
                                                     arguments="")]
        if looped and not narrowed:  # one round of the loop is kept; shown back in its canonical form
            content, calls = cut_loop(streamer.sent), []
        elif looped and calls and (closed := close_cut_call(text, getattr(self.renderer.format, "close", ""), cut_at)):
            # A narrowed call looped in its `new` (or ran past NEW_CHARS): one round kept and the call closed, so the
            # step is the edit it began (tested, and put back if fewer tests pass), not broken JSON shown back to copy.
            reason, cut_calls = self.renderer.format.parse(closed, f"call_{self._steps}")
            if cut_calls and _json_object(cut_calls[0].arguments):
                content, calls = reason, cut_calls
                if excluded_by(tool_choice, json.loads(cut_calls[0].arguments)):  # cut back to a refused `new`
                    calls = [ToolCall(id=cut_calls[0].id, name=cut_calls[0].name, arguments="")]
        streamer.finish(content if not calls else "")
        if prefix:
            content, text = prefix + content, prefix + text
        if not looped:
            self._remember_generated(Message(role="assistant", content=content, tool_calls=calls[:1]), text)
        usage = Usage(prompt_tokens=len(tokens) - thought_tokens, completion_tokens=generated + thought_tokens,
                      cached_tokens=cached)
        return ModelReply(content=content, tool_calls=calls, usage=usage)

    def _reply_so_far(self, tools: bool) -> Callable[[str], str | None]:
        """How the reply read so far is found in generated text: the format's way; and where calls are
        tags (Qwen) and no tools are offered (a compaction summary, a title), also prose that does not open
        a tag, as it comes: no step wraps Qwen's prose there, so a caller counting the reply as it streams
        (Compactor.written) saw none of it until the end. (A JSON-steps model, SmolLM2, wraps its reply.)"""
        fmt = self.renderer.format
        if tools or not isinstance(fmt, TaggedCalls):
            return fmt.reply_so_far
        return lambda text: fmt.reply_so_far(text) or (None if text.lstrip().startswith("<") else text)

    def _think(self, tokens: list[int], cap: int, on_delta: OnDelta, on_thought: OnDelta) -> tuple[list[int], int]:
        """The free part of a thinking step: up to `cap` tokens after <think>, streamed to on_thought;
        returns the prompt with the closed think block, and how many tokens the thinking added."""
        opened = tokens + self.llm.tokenize(thinking.OPEN.encode("utf-8"), add_bos=False, special=True)
        self._steps += 1
        thought = ""
        stream = cast("Iterator[CreateCompletionStreamResponse]", self.llm.create_completion(
            opened, max_tokens=cap, temperature=self.sampling.temperature, top_p=self.sampling.top_p,
            top_k=self.sampling.top_k, stop=[thinking.CLOSE], stream=True, seed=self.seed + self._steps))
        for chunk in stream:
            piece = chunk["choices"][0]["text"]
            thought += piece
            on_delta("")  # the caller may stop here too (StreamStopped)
            if piece:
                on_thought(piece)
        block = self.llm.tokenize(thinking.closed(thought).encode("utf-8"), add_bos=False, special=True)
        return tokens + block, len(block)

    def _remember_generated(self, step: Message, text: str) -> None:
        if len(self._as_generated) >= AS_GENERATED_KEPT:
            self._as_generated.pop(next(iter(self._as_generated)))  # the oldest
        # The first text wins: a later reply spelled differently must not change an earlier one's.
        self._as_generated.setdefault(step_key(step, self.renderer.format), text)


def _json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except json.JSONDecodeError:
        return False


def grammar_parses(text: str) -> bool:
    """Whether llama.cpp's own parser takes a grammar (LlamaGrammar.from_string only stores the text; a
    grammar llama.cpp rejects fails the step when generation starts)."""
    import llama_cpp

    sampler = llama_cpp.llama_sampler_init_grammar(None, text.encode("utf-8"), b"root")
    if sampler:
        llama_cpp.llama_sampler_free(sampler)
    return bool(sampler)


class ReplyStreamer:
    """Streams the text of a reply step as it is generated; a tool call's text is not shown.

    `reply_so_far(text)` (from the tool-call format) gives the reply read so far, or None while
    `text` is not (yet) a reply."""

    def __init__(self, on_delta: OnDelta, reply_so_far) -> None:
        self.on_delta, self.reply_so_far = on_delta, reply_so_far
        self.sent = ""

    def feed(self, text: str) -> None:
        self._send(self.reply_so_far(text) or "")

    def finish(self, content: str) -> None:
        self._send(content)

    def _send(self, decoded: str) -> None:
        if decoded.startswith(self.sent) and len(decoded) > len(self.sent):
            self.on_delta(decoded[len(self.sent):])
            self.sent = decoded


def chosen_tools(tools: list[dict], tool_choice: ToolChoice) -> list[dict]:
    """The tools a step's grammar allows besides a reply: all for "auto", none for "none", the one named
    (OpenAI's `tool_choice` values, with a function's name for {"type": "function", ...}); or, given a
    tool's schema in OpenAI's format, that schema: the same tool with narrower arguments (careful.edit_first:
    `old` one of the file's lines), while the prompt keeps the tool as offered, so its KV prefix holds."""
    if isinstance(tool_choice, dict):
        return [tool_choice]
    if tool_choice == "auto":
        return tools
    return [t for t in tools if t.get("function", {}).get("name") == tool_choice]

