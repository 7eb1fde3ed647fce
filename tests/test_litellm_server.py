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
