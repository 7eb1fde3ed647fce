"""A counting HTTP proxy between a coding agent and an OpenAI-compatible server.

Requests are forwarded unchanged; the proxy sums `usage.prompt_tokens` and
`usage.completion_tokens` from the JSON responses of `POST .../completions` and counts those
requests (= model calls). Streamed (`text/event-stream`) responses are passed through chunk by
chunk; their `usage` is read from the chunks when the server sends it, and otherwise every chunk
that carries generated text counts as one completion token (`estimated_chunks` says how many were
counted that way; llama-cpp-python's server sends no usage when streaming).

A peer killed mid-call leaves the server generating for nobody (llama-cpp-python cannot cancel a
running completion): `wait_idle()` waits for such calls to end, and counts from calls begun
before the last `reset()` are dropped, so they never land on the next task.
"""
from __future__ import annotations

import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authorization", "proxy-authenticate", "host", "content-length"}
UPSTREAM_TIMEOUT_S = 1800  # one CPU generation of 1024 tokens can take minutes


class TokenProxy:
    """Context manager: a threaded proxy on 127.0.0.1 (free port) in front of `upstream`.

    `upstream` is the server's root URL, e.g. "http://127.0.0.1:8080" (a trailing "/v1" is
    dropped). `.url` is what agents take as their API base ("http://127.0.0.1:P/v1").
    `.totals()` -> {"requests", "prompt_tokens", "completion_tokens", "estimated_chunks"}
    (ints, since the last `.reset()`; a request counts when sent, its tokens when it ends).
    `.bodies` holds the JSON body of each model call since the last reset, as the agent sent it (what
    tests check the agent's request parameters on). Upstream failures reach the agent as 502 responses."""

    def __init__(self, upstream: str):
        parts = urlsplit(upstream.rstrip("/").removesuffix("/v1"))
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.lock = threading.Condition()
        self.epoch, self.in_flight = 0, 0
        self.reset()
        self.server: ThreadingHTTPServer | None = None

    def reset(self) -> None:
        with self.lock:
            self.epoch += 1
            self.counts = {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0, "estimated_chunks": 0}
            self.bodies: list[dict] = []

    def totals(self) -> dict:
        with self.lock:
            return dict(self.counts)

    def wait_idle(self, timeout_s: float = 600) -> bool:
        """Wait until no request is in flight (e.g. after killing a peer); False on timeout."""
        with self.lock:
            return self.lock.wait_for(lambda: self.in_flight == 0, timeout_s)

    def add(self, epoch: int, **counts: int) -> None:
        with self.lock:
            if epoch != self.epoch:
                return
            for key, value in counts.items():
                self.counts[key] += int(value or 0)

    @property
    def url(self) -> str:
        assert self.server, "TokenProxy is not running"
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> "TokenProxy":
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                proxy.forward(self)

            do_POST = do_PUT = do_DELETE = do_GET

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def forward(self, handler: BaseHTTPRequestHandler) -> None:
        with self.lock:
            self.in_flight += 1
            epoch = self.epoch
        try:
            self.relay(handler, epoch)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the agent went away (killed); the upstream answer was still read and counted
        finally:
            with self.lock:
                self.in_flight -= 1
                self.lock.notify_all()

    def relay(self, handler: BaseHTTPRequestHandler, epoch: int) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP_BY_HOP}
        is_call = handler.command == "POST" and handler.path.rstrip("/").endswith("completions")
        if is_call:
            self.add(epoch, requests=1)
            self.record(body, epoch)
        try:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=UPSTREAM_TIMEOUT_S)
            conn.request(handler.command, handler.path, body=body, headers=headers)
            resp = conn.getresponse()
        except OSError as e:
            handler.send_error(502, f"upstream: {e}")
            return
        streamed = resp.getheader("Content-Type", "").startswith("text/event-stream")
        handler.send_response(resp.status, resp.reason)
        for key, value in resp.getheaders():
            if key.lower() not in HOP_BY_HOP:
                handler.send_header(key, value)
        if not streamed:
            data = resp.read()
            conn.close()
            if is_call:
                self.count_json(data, epoch)
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
            return
        else:  # close-delimited body (HTTP/1.0 handler), passed through line by line
            handler.send_header("Connection", "close")
            handler.end_headers()
            usage, chunks = None, 0
            client = True
            while line := resp.readline():
                if client:
                    try:
                        handler.wfile.write(line)
                        handler.wfile.flush()
                    except (BrokenPipeError, ConnectionResetError):
                        client = False  # keep reading: the server is generating anyway
                event = parse_event(line)
                if event.get("usage"):
                    usage = event["usage"]
                elif any((c.get("delta") or {}).get("content") or c.get("text") for c in event.get("choices") or []):
                    chunks += 1
            conn.close()
            if is_call and usage:
                self.add(epoch, prompt_tokens=usage.get("prompt_tokens"),
                         completion_tokens=usage.get("completion_tokens"))
            elif is_call:
                self.add(epoch, completion_tokens=chunks, estimated_chunks=chunks)

    def record(self, body: bytes, epoch: int) -> None:
        try:
            sent = json.loads(body)
        except ValueError:
            return
        with self.lock:
            if epoch == self.epoch and isinstance(sent, dict):
                self.bodies.append(sent)

    def count_json(self, data: bytes, epoch: int) -> None:
        try:
            usage = json.loads(data).get("usage") or {}
        except (ValueError, AttributeError):
            return
        self.add(epoch, prompt_tokens=usage.get("prompt_tokens"), completion_tokens=usage.get("completion_tokens"))


def parse_event(line: bytes) -> dict:
    """The JSON object of one `data: {...}` server-sent-event line, else {}."""
    line = line.strip()
    if not line.startswith(b"data:"):
        return {}
    try:
        event = json.loads(line[5:])
    except ValueError:
        return {}
    return event if isinstance(event, dict) else {}
