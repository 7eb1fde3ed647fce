"""Thinking text: streamed as its own event kind, never part of the reply the model sees again."""
from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import clean_env, wren

THOUGHT = "Let me think: the user wants a greeting."


class Streaming(BaseHTTPRequestHandler):
    """A provider's side of the model seam: records each request body and streams a reply."""
    bodies: list[dict] = []

    def log_message(self, *args):
        pass

    def send_stream(self, data: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class Thinking(Streaming):
    """An OpenAI-compatible server whose replies stream reasoning_content before the content, as
    reasoning models served by vLLM or llama.cpp do."""

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Thinking.bodies.append(body)
        chunks = [{"choices": [{"index": 0, "delta": {"role": "assistant"}}]}]
        chunks += [{"choices": [{"index": 0, "delta": {"reasoning_content": w}}]} for w in re.findall(r"\S+\s*", THOUGHT)]
        chunks += [{"choices": [{"index": 0, "delta": {"content": "Hello!"}, "finish_reason": "stop"}]},
                   {"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21}}]
        data = b"".join(b"data: " + json.dumps({"id": "x", "object": "chat.completion.chunk", "created": 1,
                                                "model": "thinker", **c}).encode() + b"\n\n" for c in chunks)
        self.send_stream(data + b"data: [DONE]\n\n")


@pytest.fixture
def thinker():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Thinking)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Thinking.bodies = []
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_thinking_streams_as_thought_events_and_is_never_sent_back(calc_repo, thinker):
    first = wren("run", "Say hello.", "--model", "openai/thinker", "--api-base", thinker,
                 "--output-format", "stream-json", cwd=calc_repo)
    assert first.code == 0, first.stderr
    thoughts = "".join(e["text"] for e in first.lines if e["type"] == "thought_delta")
    assert thoughts == THOUGHT
    assert first.lines[-1]["summary"] == "Hello!"  # the reply holds the content only
    again = wren("run", "--continue", "And again.", "--model", "openai/thinker", "--api-base", thinker,
                 "--output-format", "json", cwd=calc_repo)
    assert again.code == 0, again.stderr
    sent = json.dumps(Thinking.bodies[-1]["messages"])
    assert "Hello!" in sent and "the user wants a greeting" not in sent


SIGNATURE = "EqoBCkgIARABGAIiQL2UoU0b1OHYi+sig/4="


def sse(events: list[dict]) -> bytes:
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


class AnthropicThinking(Streaming):
    """The Anthropic Messages API: the first reply thinks (signed) and calls read_file, the second answers."""

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        AnthropicThinking.bodies.append(body)
        first = len(AnthropicThinking.bodies) == 1
        start = {"type": "message_start", "message": {
            "id": "msg_1", "type": "message", "role": "assistant", "model": body["model"], "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 1}}}
        if first:
            blocks = [
                {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},
                {"type": "content_block_delta", "index": 0,
                 "delta": {"type": "thinking_delta", "thinking": "I should read calc.py."}},
                {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": SIGNATURE}},
                {"type": "content_block_stop", "index": 0},
                {"type": "content_block_start", "index": 1,
                 "content_block": {"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {}}},
                {"type": "content_block_delta", "index": 1,
                 "delta": {"type": "input_json_delta", "partial_json": '{"path": "calc.py"}'}},
                {"type": "content_block_stop", "index": 1}]
            stop = "tool_use"
        else:
            blocks = [{"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                      {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Read it."}},
                      {"type": "content_block_stop", "index": 0}]
            stop = "end_turn"
        self.send_stream(sse([start, *blocks, {"type": "message_delta", "usage": {"output_tokens": 20},
                                               "delta": {"stop_reason": stop, "stop_sequence": None}},
                              {"type": "message_stop"}]))


def test_anthropic_gets_a_thinking_budget_and_its_signed_thinking_back(calc_repo):
    server = ThreadingHTTPServer(("127.0.0.1", 0), AnthropicThinking)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    AnthropicThinking.bodies = []
    try:
        run = wren("run", "Read calc.py", "--model", "anthropic/claude-sonnet-4-5", "--effort", "max",
                   "--api-base", f"http://127.0.0.1:{server.server_address[1]}", "--approval", "read-only",
                   "--output-format", "stream-json", cwd=calc_repo, env=clean_env(ANTHROPIC_API_KEY="sk-ant-test"))
    finally:
        server.shutdown()
    assert run.code == 0, run.stderr + run.stdout[-2000:]
    first, second = AnthropicThinking.bodies
    assert first["thinking"] == {"type": "enabled", "budget_tokens": 32000}
    assistant = next(m for m in second["messages"] if m["role"] == "assistant")
    assert assistant["content"][0] == {"type": "thinking", "thinking": "I should read calc.py.",
                                       "signature": SIGNATURE}
    assert assistant["content"][1]["type"] == "tool_use"
    assert "".join(e["text"] for e in run.lines if e["type"] == "thought_delta") == "I should read calc.py."
