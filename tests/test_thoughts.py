"""Thinking text: streamed as its own event kind, never part of the reply the model sees again."""
from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import wren

THOUGHT = "Let me think: the user wants a greeting."


class Thinking(BaseHTTPRequestHandler):
    """An OpenAI-compatible server (the provider side of the model seam) whose replies stream
    reasoning_content before the content, as reasoning models served by vLLM or llama.cpp do."""
    bodies: list[dict] = []

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Thinking.bodies.append(body)
        chunks = [{"choices": [{"index": 0, "delta": {"role": "assistant"}}]}]
        chunks += [{"choices": [{"index": 0, "delta": {"reasoning_content": w}}]} for w in re.findall(r"\S+\s*", THOUGHT)]
        chunks += [{"choices": [{"index": 0, "delta": {"content": "Hello!"}, "finish_reason": "stop"}]},
                   {"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21}}]
        data = b"".join(b"data: " + json.dumps({"id": "x", "object": "chat.completion.chunk", "created": 1,
                                                "model": "thinker", **c}).encode() + b"\n\n" for c in chunks)
        data += b"data: [DONE]\n\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


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
