"""The local backend's thinking switch: on, it thinks freely (capped) before the constrained step; off,
the template closes the think block itself. SmolLM2's own template has no switch (see test_effort.py),
so the model here runs under a Qwen3-style ChatML template that has one."""
from __future__ import annotations

import pytest

from conftest import smollm2_path
from wren.core.messages import Message
from wren.local_models.prompt import PromptRenderer
from wren.tools.base import default_registry

pytestmark = pytest.mark.slow

# Qwen3's switch, on ChatML (SmolLM2's own special tokens).
SWITCHED = ("{%- for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
            "'<|im_end|>\\n' }}{%- endfor %}{%- if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
            "{%- if enable_thinking is defined and enable_thinking is false %}{{ '<think>\\n\\n</think>\\n\\n' }}"
            "{%- endif %}{%- endif %}")
PROMPT = [Message(role="system", content="You are a coding agent."), Message(role="user", content="Read calc.py.")]


@pytest.fixture(scope="module")
def backend():
    from wren.local_models.backend import LocalBackend

    local = LocalBackend(smollm2_path(), n_ctx=4096)
    local.renderer = PromptRenderer(SWITCHED, local._token_text("bos"), local._token_text("eos"), local.name)
    return local


def test_the_switch_is_reported_and_rendered(backend):
    assert backend.effort_support("low").applied == "thinking off (enable_thinking=false)"
    assert backend.effort_support("high").applied == "thinking on (enable_thinking=true), up to 2048 tokens a step"
    off, _ = backend.renderer.render(PROMPT, [], thinking=False)
    on, _ = backend.renderer.render(PROMPT, [], thinking=True)
    assert off.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n") and on.endswith("<|im_start|>assistant\n")


def test_thinking_on_streams_capped_thoughts_before_a_valid_step(backend):
    tools = [t.schema() for t in default_registry().tools.values() if t.name == "read_file"]
    thoughts: list[str] = []
    reply = backend.complete(PROMPT, tools, lambda text: None, effort="medium", on_thought=thoughts.append)
    thought_tokens = len(backend.llm.tokenize("".join(thoughts).encode(), add_bos=False))
    assert 0 < thought_tokens <= 512 + 2  # the medium cap (a token split across pieces may count twice)
    assert reply.tool_calls or reply.content  # the constrained step still parses
    assert reply.usage.completion_tokens > thought_tokens // 2

    quiet: list[str] = []
    backend.complete(PROMPT, tools, lambda text: None, effort="low", on_thought=quiet.append)
    assert quiet == []
