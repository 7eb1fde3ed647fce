"""Hosted providers and OpenAI-compatible servers through litellm.

litellm is imported lazily (it costs about a second) so `wren --version` stays light.
"""
from __future__ import annotations

import os
import queue
import threading
from typing import Any, Callable, Iterator

from wren.core.errors import ConfigError
from wren.core.events import Usage
from wren.core.messages import Message, ToolCall, openai_messages
from wren.core.backend import (EffortSupport, choice_name, ModelReply, OnDelta, RetryPolicy, ToolChoice, estimate_tokens, ignore, import_litellm,
                               summarize_with_model)
from wren.agent.models.errors import from_litellm


class LiteLLMBackend:
    retry = RetryPolicy()
    # complete() takes on_thought: reasoning text (litellm's delta.reasoning_content) goes there, never
    # into the reply, so it is never sent back to the model.
    streams_thoughts = True

    def __init__(self, model: str, api_base: str | None = None, timeout_s: float = 600.0) -> None:
        self.name = model
        self.api_base = api_base
        self.timeout_s = timeout_s
        self._litellm = import_litellm()
        try:
            _, self.provider, _, _ = self._litellm.get_llm_provider(model, api_base=api_base)
        except Exception:  # litellm raises BadRequestError for names it cannot route
            raise ConfigError(
                f"unknown model provider in {model!r}; use PROVIDER/MODEL such as "
                "anthropic/claude-sonnet-4-5 or openai/gpt-4.1, `local`, or scripted:PATH") from None
        self.window = self._window()
        self.vision = self._vision()
        self.reply_reserve = min(8192, max(1024, (self.window or 0) // 8))

    def _window(self) -> int | None:
        try:
            info = self._litellm.get_model_info(self.name)
        except Exception:  # unknown to litellm's map: servers we point at with --api-base
            return None
        window = info.get("max_input_tokens") or info.get("max_tokens")
        return int(window) if window else None

    def _vision(self) -> bool:
        """Whether the model takes images, by litellm's model map; unknown models are taken not to."""
        try:
            return bool(self._litellm.supports_vision(model=self.name))
        except Exception:  # a name the map lacks
            return False

    def _reasons(self) -> bool:
        """Whether litellm's model map says the model takes reasoning_effort (or Anthropic thinking)."""
        try:
            return bool(self._litellm.supports_reasoning(model=self.name))
        except Exception:  # a name the map lacks
            return False

    def effort_support(self, effort: str) -> EffortSupport:
        """Reasoning models (by litellm's map) get `reasoning_effort` (litellm turns it into Anthropic's
        thinking budget; `max` is a 32k budget there, `high` elsewhere). A server at --api-base that
        litellm does not know gets it too, passed through: such servers (llama.cpp, vLLM) serve
        reasoning models litellm cannot see. A hosted model the map says does not reason: unsupported."""
        params = self.effort_params(effort)
        if not params:
            return EffortSupport(False, f"{self.name} takes no reasoning effort (litellm's model map)")
        shown = ", ".join(f"{k}={v}" for k, v in params.items() if k != "allowed_openai_params")
        return EffortSupport(True, shown)

    def effort_params(self, effort: str) -> dict[str, Any]:
        """The completion() arguments for `effort`; {} when the model takes none."""
        if self.provider == "anthropic" and effort == "max":
            return {"thinking": {"type": "enabled", "budget_tokens": 32_000}}
        level = "high" if effort == "max" else effort
        if self._reasons():
            return {"reasoning_effort": level}
        if self.api_base and self._window() is None:
            # litellm drops params it thinks the model lacks (drop_params); this one is asked for.
            return {"reasoning_effort": level, "allowed_openai_params": ["reasoning_effort"]}
        return {}

    def price(self, usage: Usage) -> float:
        """USD for `usage` by litellm's price map; 0.0 for models without a price."""
        try:
            prompt, completion = self._litellm.cost_per_token(model=self.name, prompt_tokens=usage.prompt_tokens,
                                                              completion_tokens=usage.completion_tokens)
            return float(prompt + completion)
        except Exception:  # unpriced: local servers
            return 0.0

    def count_tokens(self, messages: list[Message], tools: list[dict[str, Any]]) -> int:
        try:
            return int(self._litellm.token_counter(model=self.name, messages=openai_messages(messages, self.vision),
                                                   tools=tools or None))
        except Exception:  # a tokenizer litellm cannot load offline: estimate rather than fail the run
            return estimate_tokens(messages, tools)

    def summarize(self, messages: list[Message], on_delta: OnDelta = ignore, focus: str = "") -> str:
        return summarize_with_model(self, messages, on_delta=on_delta, focus=focus)

    def complete(self, messages: list[Message], tools: list[dict[str, Any]], on_delta: OnDelta,
                 effort: str | None = None, on_thought: OnDelta = ignore, tool_choice: ToolChoice = "auto") -> ModelReply:
        litellm = self._litellm
        # Anthropic's signed thinking goes back to it (it refuses tool results without it); never elsewhere.
        thinking = self.provider == "anthropic"
        kwargs: dict[str, Any] = {"model": self.name, "messages": openai_messages(messages, self.vision, thinking),
                        "stream": True, "stream_options": {"include_usage": True},
                        "timeout": self.timeout_s, "num_retries": 0}
        if effort:
            kwargs.update(self.effort_params(effort))
        if tools:
            kwargs["tools"] = tools
            name = choice_name(tool_choice)  # a narrowed schema narrows only a local model's grammar
            if name == "none":  # the tools stay (a cached prefix holds) but only a reply may come
                kwargs["tool_choice"] = name
            elif name != "auto":  # a tool's name: the step must call it (OpenAI's named tool_choice)
                kwargs["tool_choice"] = {"type": "function", "function": {"name": name}}
        if self.api_base:
            kwargs["api_base"] = self.api_base
            # OpenAI-compatible local servers need some key, any key.
            if self.provider == "openai" and not os.environ.get("OPENAI_API_KEY"):
                kwargs["api_key"] = "sk-local"
        pump = _Pump(lambda: litellm.completion(**kwargs))
        try:
            chunks = []
            for chunk in pump.chunks(on_delta):
                chunks.append(chunk)
                delta = chunk.choices[0].delta if chunk.choices else None
                if thought := getattr(delta, "reasoning_content", None):
                    on_thought(thought)
                on_delta(getattr(delta, "content", None) or "")  # "" too: the caller may stop the stream at any chunk
            response = litellm.stream_chunk_builder(chunks, messages=kwargs["messages"])
        except Exception as exc:
            raise from_litellm(exc, self.name) from exc
        finally:
            pump.close()  # a stopped reply closes its HTTP stream now, not when collected
        return self._reply(response)

    def _reply(self, response: Any) -> ModelReply:
        """A ModelReply from litellm's ModelResponse (typed Any: its `choices` are typed as possibly streaming
        ones, which have no `message`, though stream_chunk_builder returns whole ones)."""
        message = response.choices[0].message
        calls = [ToolCall(id=c.id or f"call_{i}", name=c.function.name or "",
                          arguments=c.function.arguments or "{}")
                 for i, c in enumerate(message.tool_calls or [])]
        usage = getattr(response, "usage", None)
        cached = 0
        details = getattr(usage, "prompt_tokens_details", None)
        if details is not None:
            cached = getattr(details, "cached_tokens", 0) or 0
        try:
            cost = float(self._litellm.completion_cost(completion_response=response) or 0.0)
        except Exception:  # models without a price (local servers) cost nothing we can know
            cost = 0.0
        blocks = [dict(b) for b in getattr(message, "thinking_blocks", None) or []]
        return ModelReply(
            content=message.content or "", tool_calls=calls, thinking_blocks=blocks,
            usage=Usage(prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
                        completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
                        cached_tokens=cached, cost_usd=cost))


class _Pump:
    """A provider's stream read on a daemon thread, so that the caller's heartbeat (`on_delta("")`, which raises
    StreamStopped on Ctrl+C, SIGTERM or the time limit) runs every HEARTBEAT_S while the provider says nothing.
    Read in the session's thread, a server that took the request and never answered held the run for litellm's
    600 s timeout, through `--timeout`, Ctrl+C and SIGTERM, and then was retried."""

    HEARTBEAT_S = 0.5

    def __init__(self, open_stream: Callable[[], Any]) -> None:
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._stream: Any = None
        self._closed = False
        threading.Thread(target=self._read, args=(open_stream,), name="wren-provider-stream", daemon=True).start()

    def _read(self, open_stream: Callable[[], Any]) -> None:
        try:
            self._stream = open_stream()
            if self._closed:  # stopped while the request was made: nothing reads what comes
                self._shut()
                return
            for chunk in self._stream:
                if self._closed:  # the reply was stopped: close the HTTP stream from the thread that reads it
                    self._shut()
                    return
                self._queue.put(("chunk", chunk))
            self._queue.put(("end", None))
        except BaseException as exc:  # noqa: BLE001 - handed to the reading thread, which raises it
            self._queue.put(("error", exc))

    def chunks(self, on_delta: OnDelta) -> Iterator[Any]:
        """The stream's chunks as they come; the provider's exception raised here; StreamStopped from `on_delta`."""
        while True:
            try:
                kind, item = self._queue.get(timeout=self.HEARTBEAT_S)
            except queue.Empty:
                on_delta("")
                continue
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item

    def close(self) -> None:
        """Stop reading: the reading thread closes the HTTP stream at its next chunk (closed from this thread
        while that one reads, the stream hung a stopped compaction summary), or when the request comes back."""
        self._closed = True

    def _shut(self) -> None:
        if callable(getattr(self._stream, "close", None)):
            try:
                self._stream.close()
            except Exception:  # noqa: BLE001 - a stream that fails to close is dropped all the same
                pass

