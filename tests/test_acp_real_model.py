"""`wren acp` on real models, through a real subprocess: SmolLM2 in process (llama.cpp), then, switched
by the editor mid-session, SmolLM2 behind llama.cpp's OpenAI-compatible server (litellm).

A small model does not always do what it is asked, so what is asserted is what Wren did: the
session opens, each prompt ends normally, a tool call is served by the editor's buffer when the
model makes one, and the switch takes effect.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from acp_client import AcpClient, running

pytestmark = pytest.mark.slow

ATTEMPTS = 3


def _said(client: AcpClient, sid: str, kind: str) -> str:
    return "".join(u["content"]["text"] for u in client.updates(sid, kind) if u["content"].get("type") == "text")


def test_an_editor_session_on_the_local_model_then_on_a_server(tmp_path: Path, calc_repo: Path, llama_server: str):
    buffer = "def add(a, b):\n    return a + b  # the editor's unsaved buffer\n"
    with running("--model", "local:smollm2", "--api-base", llama_server, "--approval", "ask", cwd=calc_repo,
                 buffers={str(calc_repo / "calc.py"): buffer}, permission=lambda params: "allow_once") as client:
        client.initialize(fs=True)
        reply = client.request("session/new", {"cwd": str(calc_repo), "mcpServers": []}, timeout=300)
        assert "result" in reply, reply  # the bug this guards: session/new failed on every real model
        sid = reply["result"]["sessionId"]
        model = next(o for o in reply["result"]["configOptions"] if o["category"] == "model")
        assert model["currentValue"] == "local:smollm2"

        # 1. The local model: prompts end normally; a read it makes is served from the editor's buffer.
        for _ in range(ATTEMPTS):
            done = client.prompt(sid, "Call read_file with path calc.py and tell me what add returns.", timeout=900)
            assert done["result"]["stopReason"] in ("end_turn", "max_turn_requests"), done
            if client.reads:
                break
        steps = client.updates(sid, "tool_call")
        print(f"\nlocal model: {len(steps)} tool call(s), editor reads {client.reads}")
        assert steps or _said(client, sid, "agent_message_chunk"), "the model neither answered nor acted"
        if client.reads:
            assert str(calc_repo / "calc.py") in client.reads
            results = [u for u in client.updates(sid, "tool_call_update") if u.get("status") == "completed"]
            assert any("the editor's unsaved buffer" in str(u.get("content")) for u in results), results

        # 2. Switched by the editor to the litellm backend on the llama.cpp server: the next prompt runs there.
        switched = client.request("session/set_config_option",
                                  {"sessionId": sid, "configId": "model", "value": "openai/smollm2"}, timeout=300)
        assert "result" in switched, switched
        option = next(o for o in switched["result"]["configOptions"] if o["category"] == "model")
        assert option["currentValue"] == "openai/smollm2"
        before = len(client.updates(sid, "usage_update"))
        done = client.prompt(sid, "Say hello in one short sentence.", timeout=900)
        assert done["result"]["stopReason"] in ("end_turn", "max_turn_requests"), done
        assert "now on openai/smollm2" in _said(client, sid, "agent_thought_chunk")
        assert client.updates(sid, "usage_update")[before:], "no usage came from the server's model"
        assert client.close() == 0
