"""bench/token_proxy.py and the cache of bench/peers.py, against a fake OpenAI-compatible server."""
import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench import peers
from bench.token_proxy import TokenProxy


class Fake(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        self.reply(b'{"data": [{"id": "m"}]}', "application/json")

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if not body.get("stream"):
            self.reply(json.dumps({"choices": [{"message": {"content": "hi"}}],
                                   "usage": {"prompt_tokens": 11, "completion_tokens": 3}}).encode(),
                       "application/json")
            return
        chunks = [{"choices": [{"delta": {"role": "assistant"}}]}] + \
                 [{"choices": [{"delta": {"content": w}}]} for w in ("a", "b", "c")]
        if body.get("usage"):
            chunks.append({"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 5}})
        data = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"
        self.reply(data, "text/event-stream")

    def reply(self, data, ctype):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def upstream():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Fake)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def post(url, payload):
    req = urllib.request.Request(url + "/chat/completions", json.dumps(payload).encode(),
                                 {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.read()


def test_proxy_counts_json_and_streams(upstream):
    with TokenProxy(upstream + "/v1") as proxy:
        assert proxy.url.endswith("/v1")
        with urllib.request.urlopen(proxy.url + "/models", timeout=10) as resp:
            assert json.loads(resp.read())["data"][0]["id"] == "m"
        assert json.loads(post(proxy.url, {}))["usage"]["prompt_tokens"] == 11
        streamed = post(proxy.url, {"stream": True})
        assert streamed.endswith(b"data: [DONE]\n\n") and streamed.count(b"data:") == 5
        post(proxy.url, {"stream": True, "usage": True})
        assert proxy.totals() == {"requests": 3, "prompt_tokens": 18, "completion_tokens": 11, "estimated_chunks": 3}
        assert proxy.wait_idle(5)
        proxy.reset()
        assert proxy.totals()["requests"] == 0


def test_cache_roundtrip(tmp_path, monkeypatch):
    monkeypatch.setattr(peers, "RESULTS", tmp_path / "peer-results")
    assert peers.cached("m", "aider", "gcd") is None
    peers.store("m", "aider", "gcd", {"solved": True})
    assert peers.cached("m", "aider", "gcd") == {"solved": True}
    assert (tmp_path / "peer-results" / "m" / "aider-0.86.2" / "gcd.json").exists()
    with pytest.raises(ValueError):
        peers.peer_dir("nope")
