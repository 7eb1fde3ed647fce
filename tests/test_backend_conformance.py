"""Every model backend satisfies the ModelBackend protocol, for real: scripted, litellm against a
llama.cpp server on loopback, and llama.cpp in process on SmolLM2.

The protocol's members are checked at run time (isinstance on the runtime-checkable protocol),
each method is called with a real prompt, and two threads share one backend at once, as an
editor's sessions do.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Callable

import pytest

from conftest import smollm2_path
from wren.core.messages import Message
from wren.core.backend import ModelBackend, ModelReply, RetryPolicy

pytestmark = pytest.mark.slow

PROMPT = [Message(role="system", content="You are terse."), Message(role="user", content="Say hi.")]
TOOL = {"type": "function", "function": {"name": "read_file", "description": "Read a file",
                                         "parameters": {"type": "object", "properties": {"path": {"type": "string"}},
                                                        "required": ["path"]}}}


def scripted(tmp_path: Path, _server: str) -> ModelBackend:
    from wren.agent.models.scripted import ScriptedBackend

    path = tmp_path / "script.json"
    path.write_text(json.dumps({"turns": [{"content": "hi"}, {"content": "hi again"}], "window": 4096}))
    return ScriptedBackend(path)


def litellm(_tmp_path: Path, server: str) -> ModelBackend:
    from wren.agent.models.litellm_backend import LiteLLMBackend

    return LiteLLMBackend("openai/smollm2", api_base=server)


def local(_tmp_path: Path, _server: str) -> ModelBackend:
    from wren.local_models.backend import LocalBackend

    return LocalBackend(smollm2_path(), n_ctx=2048)


MAKERS: dict[str, Callable[[Path, str], ModelBackend]] = {"scripted": scripted, "litellm": litellm, "local": local}


@pytest.mark.parametrize("kind", MAKERS)
def test_backend_conforms_and_is_safe_to_share(kind: str, tmp_path: Path, llama_server: str):
    backend = MAKERS[kind](tmp_path, llama_server)
    assert isinstance(backend, ModelBackend)
    assert isinstance(backend.name, str) and backend.name
    assert isinstance(backend.retry, RetryPolicy) and backend.retry.attempts >= 1
    assert backend.window is None or backend.window > 0
    assert isinstance(backend.reply_reserve, int) and 0 < backend.reply_reserve < (backend.window or 10**9)

    assert backend.count_tokens(PROMPT, [TOOL]) > backend.count_tokens(PROMPT, [])  # tools take room

    replies: list[ModelReply] = []
    deltas: list[str] = []
    errors: list[BaseException] = []

    def call() -> None:
        try:
            replies.append(backend.complete(PROMPT, [], deltas.append))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(replies) == 2
    for reply in replies:
        assert reply.content or reply.tool_calls
        assert reply.usage.prompt_tokens > 0
    assert "".join(deltas)  # each backend streams what it generates

    summary = backend.summarize(PROMPT)
    assert isinstance(summary, str)
