"""The litellm path for real: llama-cpp-python's OpenAI-compatible server on loopback with SmolLM2."""
from __future__ import annotations

import pytest

from conftest import free_port, wren

pytestmark = pytest.mark.slow


def test_wren_run_through_litellm_against_llama_server(calc_repo, llama_server):
    run = wren("run", "Say hello in one short sentence.", "--model", "openai/smollm2", "--api-base", llama_server,
               "--output-format", "json", "--approval", "read-only", "--max-steps", "3", cwd=calc_repo, timeout=300)
    result = run.json
    assert result["error"] is None, run.stderr
    assert result["status"] in ("success", "limit", "denied"), run.stderr
    assert result["usage"]["prompt_tokens"] > 100  # the system prompt and tool schemas alone are longer
    assert result["usage"]["completion_tokens"] > 0
    assert result["steps"] >= 1


def test_server_down_is_a_provider_error(calc_repo):
    port = free_port()  # nothing listens here
    run = wren("run", "hello", "--model", "openai/smollm2", "--api-base", f"http://127.0.0.1:{port}/v1",
               "--output-format", "json", cwd=calc_repo, timeout=300)
    assert run.code == 3
    assert run.json["error"]["kind"] in ("connection", "server_error")


def test_a_step_that_may_only_answer_sends_tool_choice_none_with_the_tools(calc_repo, llama_server):
    """The wrap-up step of a stuck session (careful.wrap_up) through litellm: the tools stay in the request
    (a provider's cached prefix holds) and tool_choice "none" says only a reply may come."""
    from bench.token_proxy import TokenProxy
    from wren.agent.models.litellm_backend import LiteLLMBackend
    from wren.core.messages import Message
    from wren.tools.base import default_registry

    tools = default_registry().schemas()
    with TokenProxy(llama_server) as proxy:
        backend = LiteLLMBackend("openai/smollm2", api_base=proxy.url)
        reply = backend.complete([Message(role="system", content="You are a coding agent."),
                                  Message(role="user", content="Read calc.py.")], tools, lambda text: None,
                                 tool_choice="none")
        [body] = proxy.bodies
    assert body["tool_choice"] == "none" and len(body["tools"]) == len(tools)
    assert reply.tool_calls == [] and reply.content.strip()


def test_a_step_told_to_edit_sends_the_named_tool_choice(calc_repo, llama_server):
    """careful.edit_first through litellm: tool_choice names the function, the tools all stay, and
    llama.cpp's server answers with a call of it."""
    from bench.token_proxy import TokenProxy
    from wren.agent.models.litellm_backend import LiteLLMBackend
    from wren.core.messages import Message
    from wren.tools.base import default_registry

    tools = default_registry().schemas()
    with TokenProxy(llama_server) as proxy:
        backend = LiteLLMBackend("openai/smollm2", api_base=proxy.url)
        reply = backend.complete([Message(role="system", content="You are a coding agent."),
                                  Message(role="user", content="In calc.py replace a - b with a + b.")], tools,
                                 lambda text: None, tool_choice="edit_file")
        [body] = proxy.bodies
    assert body["tool_choice"] == {"type": "function", "function": {"name": "edit_file"}}
    assert len(body["tools"]) == len(tools)
    assert [c.name for c in reply.tool_calls] == ["edit_file"], reply
