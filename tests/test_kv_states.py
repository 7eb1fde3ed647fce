"""Saved llama.cpp states on the bundled SmolLM2 (local_models/kv_cache.SavedStates): a conversation left for a
request of its own is loaded again, not evaluated anew."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_a_request_of_its_own_leaves_the_conversations_cache_to_be_loaded_again(backend, tmp_path):
    """A rewrite attempt's request (or a summary's) shares nothing with the conversation: the next step of the
    conversation loads its saved state (kv_cache.SavedStates) instead of evaluating its whole prompt again, and the
    same request made again later is cached too."""
    from wren.agent.prompt import system_prompt
    from wren.core.messages import Message
    from wren.tools.base import default_registry

    tools = default_registry().schemas()
    conversation = [Message(role="system", content=system_prompt(tmp_path)),
                    Message(role="user", content="Read calc.py, then grep for 'add' in every Python file.")]
    aside = [Message(role="system", content="You write Python functions."),
             Message(role="user", content="Write a function add(a, b) that returns the sum of a and b. " * 30)]
    sizes = [len(backend.prompt_tokens(messages, t)[0]) for messages, t in ((conversation, tools), (aside, []))]
    backend.complete(conversation, tools, lambda text: None)
    first_aside = backend.complete(aside, [], lambda text: None)
    again = backend.complete(conversation, tools, lambda text: None, tool_choice="none")
    second_aside = backend.complete(aside, [], lambda text: None)
    assert first_aside.usage.cached_tokens < 10  # nothing in common but the template's opening
    assert again.usage.cached_tokens == sizes[0] - 1  # all but the last token, which llama.cpp evaluates again
    assert second_aside.usage.cached_tokens == sizes[1] - 1
    backend.clear_cache()  # a benchmark's cold start: nothing held, nothing saved to load
    cold = backend.complete(conversation, tools, lambda text: None, tool_choice="none")
    assert cold.usage.cached_tokens == 0
