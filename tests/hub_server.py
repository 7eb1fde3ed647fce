"""A stand-in for huggingface.co on loopback, speaking what hf_hub_download needs.

Two servers on 127.0.0.1, like the hub and its CDN (different origins, so huggingface_hub
takes the file metadata from the redirect itself and does not forward auth):

- hub: HEAD/GET /{owner}/{repo}/resolve/{revision}/{file} answers 302 to the CDN with
  X-Repo-Commit, X-Linked-Etag (the LFS SHA256), X-Linked-Size and ETag; unknown files get
  404 with X-Error-Code: EntryNotFound, as the hub sends.
- cdn: GET /blobs/{sha256} serves the bytes, honouring `Range: bytes=N-` with 206 and
  Content-Range; `cut_after` makes the first full GET stop after that many bytes and drop
  the connection, as a flaky network does.

Every request is recorded as (server, method, path, Range header) for the tests to check.
`hub_with` (a fixture: import it into a test module) starts hubs and closes them after the test;
`pull_env` keeps everything a pull touches under the test's tmp_path.
"""
from __future__ import annotations

import hashlib
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import clean_env

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class HostedFile:
    content: bytes
    claimed_sha256: str | None = None  # what X-Linked-Etag says; default: the content's real SHA256

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass
class FakeHub:
    files: dict[str, HostedFile]           # "owner/repo/file" -> file
    cut_after: int | None = None          # drop the first full GET after this many body bytes
    requests: list[tuple[str, str, str, str | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._cut_done = False
        self._blobs = {f.claimed_sha256 or f.sha256: f for f in self.files.values()}
        self.hub = ThreadingHTTPServer(("127.0.0.1", 0), self._handler("hub"))
        self.cdn = ThreadingHTTPServer(("127.0.0.1", 0), self._handler("cdn"))
        for server in (self.hub, self.cdn):
            threading.Thread(target=server.serve_forever, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.hub.server_address[1]}"

    def close(self) -> None:
        for server in (self.hub, self.cdn):
            server.shutdown()
            server.server_close()

    def _handler(self, role: str):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_HEAD(self) -> None:
                self._serve(body=False)

            def do_GET(self) -> None:
                self._serve(body=True)

            def _serve(self, body: bool) -> None:
                fake.requests.append((role, self.command, self.path, self.headers.get("Range")))
                if role == "hub":
                    fake._resolve(self)
                else:
                    fake._blob(self, body)

        return Handler

    def _resolve(self, h: BaseHTTPRequestHandler) -> None:
        owner, repo, verb, _revision, *rest = h.path.split("?")[0].lstrip("/").split("/") + [""] * 4
        hosted = self.files.get(f"{owner}/{repo}/{'/'.join(p for p in rest if p)}") if verb == "resolve" else None
        if hosted is None:
            h.send_response(404)
            h.send_header("X-Error-Code", "EntryNotFound")
            h.send_header("X-Error-Message", "Entry not found")
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        sha = hosted.claimed_sha256 or hosted.sha256
        h.send_response(302)
        h.send_header("Location", f"http://127.0.0.1:{self.cdn.server_address[1]}/blobs/{sha}")
        h.send_header("X-Repo-Commit", COMMIT)
        h.send_header("X-Linked-Etag", f'"{sha}"')
        h.send_header("X-Linked-Size", str(len(hosted.content)))
        h.send_header("ETag", '"a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2"')  # the pointer file's git sha
        h.send_header("Content-Length", "0")
        h.end_headers()

    def _blob(self, h: BaseHTTPRequestHandler, body: bool) -> None:
        hosted = self._blobs.get(h.path.split("?")[0].rsplit("/", 1)[-1])
        if hosted is None:
            h.send_response(404)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        data, start = hosted.content, 0
        wanted = h.headers.get("Range")
        if wanted and wanted.startswith("bytes=") and wanted.endswith("-"):
            start = int(wanted[len("bytes="):-1])
            h.send_response(206)
            h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            h.send_response(200)
        h.send_header("Content-Length", str(len(data) - start))
        h.send_header("ETag", f'"{hosted.claimed_sha256 or hosted.sha256}"')
        h.send_header("Accept-Ranges", "bytes")
        h.end_headers()
        if not body:
            return
        if self.cut_after is not None and not self._cut_done and start == 0:
            self._cut_done = True
            h.wfile.write(data[:self.cut_after])
            h.wfile.flush()
            h.close_connection = True
            h.connection.shutdown(2)  # both ways: the client sees the body end early
            return
        h.wfile.write(data[start:])


@pytest.fixture
def hub_with():
    """Start a FakeHub serving the given files (`hub_with(files, cut_after=None)`); all are closed after the test."""
    hubs = []

    def start(files: dict[str, HostedFile], cut_after: int | None = None) -> FakeHub:
        hubs.append(FakeHub(files, cut_after=cut_after))
        return hubs[-1]

    yield start
    for hub in hubs:
        hub.close()


def closed_port() -> int:
    """A loopback port nothing listens on: connections to it are refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pull_env(tmp_path: Path, endpoint: str, **extra: str) -> dict[str, str]:
    """Everything a pull touches lives under tmp_path; the machine's pip config is ignored."""
    return clean_env(HF_ENDPOINT=endpoint, HF_HOME=str(tmp_path / "hf"), XDG_CONFIG_HOME=str(tmp_path / "config"),
                     WREN_MODEL_CACHE=str(tmp_path / "models"), HF_HUB_DISABLE_TELEMETRY="1",
                     PIP_CONFIG_FILE="/dev/null", **extra)
