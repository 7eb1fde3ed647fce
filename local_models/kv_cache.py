"""Reuse of llama.cpp's KV cache between steps: what it holds, a prompt split into tokens as the cache holds
them, and the prompt past the cache evaluated a batch at a time so that a stop is heard between batches."""
from __future__ import annotations

from typing import TYPE_CHECKING

from wren.core.backend import OnDelta

if TYPE_CHECKING:
    from llama_cpp import Llama, LlamaState

SAVED_STATES = 3  # the conversation, a rewrite's request, one more side request (a summary, an answer's own)
SAVE_MIN = 256  # tokens held below which a state is not worth saving (evaluating them again costs a few seconds)


def evaluated(llm: "Llama") -> list[int]:
    """The token ids in the KV cache, in order."""
    # (_input_ids is a numpy array of token ids: a sequence of ints, though not typed as one)
    return [int(t) for t in llm._input_ids[: llm.n_tokens]]


def aligned(llm: "Llama", held: list[int], tokens: list[int]) -> list[int]:
    """`tokens` (the prompt as the tokenizer splits its text) with the cache's own tokens (`held`) where they
    spell the same bytes: a step the model generated is shown back as its text, and the tokenizer may split that
    text differently than the model sampled it (SmolLM2 wrote `{ "` as other tokens than `{ "` tokenizes to), so
    the cache was reused only up to there and the rest of the step and all after it were evaluated again.
    The prompt's bytes are unchanged; only their split into tokens follows the model's."""
    common = llm.longest_token_prefix(held, tokens)
    if common >= len(held) or common >= len(tokens):
        return tokens
    rest = llm.detokenize(tokens[common:], special=True)
    end, at = common, 0
    while end < len(held):
        piece = llm.detokenize([held[end]], special=True)
        if not piece or not rest.startswith(piece, at):
            break
        end, at = end + 1, at + len(piece)
    while end > common and at < len(rest) and 0x80 <= rest[at] < 0xC0:  # not in the middle of a character
        end -= 1
        at -= len(llm.detokenize([held[end]], special=True))
    if end == common:
        return tokens
    return tokens[:common] + held[common:end] + llm.tokenize(rest[at:], add_bos=False, special=True)


def prefill(llm: "Llama", tokens: list[int], cached: int, on_delta: OnDelta) -> None:
    """Evaluate the prompt past its cached prefix (`cached` tokens), all but its last token, one llama.cpp batch
    (n_batch tokens) at a time, with a heartbeat (`on_delta("")`) before each, so the caller can stop here too
    (StreamStopped): create_completion evaluates the whole prompt in one call with no way to stop it, and a
    Ctrl+C waited for it (about 90 s on a fresh 4,000-token Qwen2.5-Coder-1.5B prompt on 2 busy cores).
    create_completion then finds all but the last token cached and evaluates that one. A stop leaves the
    evaluated batches cached, for the next call to reuse."""
    end, batch = len(tokens) - 1, max(1, llm.n_batch)
    if end - cached <= batch:  # one batch: as quick to stop after as before
        return
    llm.n_tokens = cached  # eval drops the KV cache past n_tokens first
    for start in range(cached, end, batch):
        on_delta("")
        llm.eval(tokens[start:min(end, start + batch)])


class SavedStates:
    """A few llama.cpp states (KV cache and tokens) set aside when a prompt leaves most of the cache behind, and
    loaded again when a later prompt shares more with one of them than with the cache.

    llama.cpp reuses only the longest common prefix of the one sequence it holds. Requests of their own that share
    nothing with the conversation (a rewrite attempt's, agent/rewrite_steps.py; a compaction summary) made the
    next step of the conversation evaluate its whole prompt again: QuixBugs knapsack at 75ff8e8, 17,634 tokens in
    8 steps of 70 to 110 s each, where a cached step took about 20 s; hanoi and minimum_spanning_tree alike, all
    three at the 900 s limit. Not thread-safe: the caller holds the model's lock. Memory: a state holds the KV
    cells of its tokens (Qwen2.5-Coder-1.5B: 28 layers x 2 x 256 values x 2 bytes, about 28 KiB a token)."""

    def __init__(self, most: int = SAVED_STATES) -> None:
        self.most = most
        self.states: list[tuple[list[int], "LlamaState"]] = []  # (its tokens, the state), least recently used first

    def clear(self, llm: "Llama") -> None:
        """An empty cache, none saved: the next prompt is evaluated whole (a benchmark's cold start)."""
        self.states = []
        llm.reset()

    def reuse(self, llm: "Llama", tokens: list[int]) -> None:
        """Before evaluating the prompt `tokens`: save the cache's state when the prompt keeps less than half of
        it (and it holds SAVE_MIN tokens or more); then load the saved state that shares the longest prefix
        with the prompt, when that is longer than what the cache shares."""
        held = evaluated(llm)
        here = llm.longest_token_prefix(held, tokens)
        if len(held) >= SAVE_MIN and here < len(held) // 2:
            # A saved state the held tokens extend is the same sequence, older: the held one replaces it.
            kept = [(ids, st) for ids, st in self.states if ids != held[:len(ids)]]
            self.states = kept[len(kept) - self.most + 1:] if len(kept) >= self.most else kept
            state = llm.save_state()
            # Its logits (n_batch x vocabulary floats, 311 MB for Qwen) are not needed: Wren evaluates at least the
            # prompt's last token after a load (prefill stops one short, create_completion evaluates it), so one
            # row is kept, which load_state broadcasts.
            state.scores = state.scores[-1:].copy()
            self.states.append((held, state))
        best = max(self.states, key=lambda saved: llm.longest_token_prefix(saved[0], tokens), default=None)
        if best is not None and llm.longest_token_prefix(best[0], tokens) > here:
            llm.load_state(best[1])
            self.states.remove(best)
            self.states.append(best)  # the most recently used
