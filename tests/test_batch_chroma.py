"""`wren batch --chroma URL` and `wren index --chroma URL` on a real Chroma server on 127.0.0.1."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import free_port, git, needs_embedding_model, wren, write_script
from test_batch import NOTHING, results, tasks_file, without_sandbox
from wren.context.embeddings import chroma_model_dir

needs_model = needs_embedding_model(chroma_model_dir(), "all-MiniLM-L6-v2 is not in Chroma's cache; run ./.ci/setup")
SEARCH = [{"tool_calls": [{"name": "search_code", "arguments": {"query": "add two numbers"}}]},
          {"content": "add() is in calc.py."}]


class Server:
    """`chroma run` on a free port, answering before the test goes on."""

    def __init__(self, data: Path) -> None:
        import chromadb

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([str(Path(sys.executable).with_name("chroma")), "run", "--path", str(data),
                                      "--host", "127.0.0.1", "--port", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while True:
            assert self.proc.poll() is None, "chroma run exited"
            try:
                self.client = chromadb.HttpClient(host="127.0.0.1", port=self.port)
                self.client.heartbeat()
                return
            except Exception:  # noqa: BLE001 - not listening yet
                time.sleep(0.1)

    def names(self, prefix: str) -> list[str]:
        return sorted(c.name for c in self.client.list_collections() if c.name.startswith(prefix))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = Server(tmp_path_factory.mktemp("chroma"))
    yield running
    running.stop()


@needs_model
def test_tasks_on_one_commit_share_one_index_built_once(server, calc_repo, tmp_path):
    head = git(calc_repo, "rev-parse", "HEAD").strip()
    search = write_script(tmp_path / "search.json", SEARCH)
    tasks = tasks_file(tmp_path, [{"id": f"t{n}", "repo": "repo", "commit": head, "prompt": "where is add?",
                                   "model": search, "approval": "read-only"} for n in (1, 2)])
    run = wren("batch", str(tasks), "--chroma", server.url, "--out", "out", "--output-format", "json",
               cwd=tmp_path, timeout=600)
    assert run.code == 0, run.stderr
    [built] = [line for line in run.stderr.splitlines() if "shared index of" in line]  # once for the commit
    [name] = server.names("code-")
    assert name.startswith(f"code-{head[:12]}-{head[:12]}-")  # the repository (first commit) and the commit
    assert f"collection {name}" in built and " 0 waiting" in built
    embedded = server.client.get_collection(name).count()
    assert embedded > 0
    for n in (1, 2):
        got = results(tmp_path / "out")[f"t{n}"]
        assert got["solved"], got
        work = tmp_path / "out" / "tasks" / f"t{n}" / "work"
        assert not (work / ".wren" / "index" / "chroma").exists()  # not the embedded store
        [log] = (work / ".wren" / "sessions").glob("*.jsonl")
        [found] = [e["output"] for e in map(json.loads, log.read_text().splitlines()) if e["type"] == "tool_result"]
        # The server's vectors, all there: no note of a store that cannot open or of chunks still to embed.
        assert found.startswith("1. calc.py:1-2 add (function)") and "note:" not in found, found

    # `wren index --chroma` on the user's checkout of the same commit: the same collection, nothing to embed.
    index = wren("index", "--cwd", str(calc_repo), "--chroma", server.url, "--quiet", timeout=300)
    assert index.code == 0 and "0 chunks embedded" in index.stdout, index.stdout + index.stderr
    assert server.names("code-") == [name] and server.client.get_collection(name).count() == embedded


@needs_model
def test_session_memory_has_a_collection_per_session_on_the_server(server, tmp_path, monkeypatch):
    from wren.context.chroma import URL_ENV
    from wren.context.embeddings import load_embedder
    from wren.context.memory import MemoryChunk, SessionMemory

    monkeypatch.setenv(URL_ENV, server.url)
    embedder = load_embedder("default", pytest.fail)
    for session, text in (("s-one", "the port is 8123"), ("s-two", "the flag is --fast")):
        memory = SessionMemory(tmp_path, session, embedder)
        memory.add([MemoryChunk(id="c1", text=text, role="tool", compaction=1)])
    assert server.names("mem-s-") == ["mem-s-one", "mem-s-two"]
    # Each chunk is stored as its line windows (ids CHUNK#N; see SessionMemory.add).
    assert server.client.get_collection("mem-s-two").get(ids=["c1#0"])["documents"] == ["the flag is --fast"]
    assert not (tmp_path / ".wren" / "memory" / "chroma").exists()  # nothing in the embedded store
    assert SessionMemory(tmp_path, "s-one", embedder).search("which port", 1)[0].chunk.text == "the port is 8123"


@needs_model
def test_a_server_that_goes_away_mid_batch_is_each_task_s_error(calc_repo, tmp_path):
    without_sandbox(calc_repo)  # its command reaches outside the workspace
    server = Server(tmp_path / "data")
    try:
        stopper = write_script(tmp_path / "stop.json", [
            {"tool_calls": [{"name": "shell", "arguments": {"command": f"kill {server.proc.pid}"}}]},
            {"content": "Stopped it."}])
        idle = write_script(tmp_path / "idle.json", NOTHING)
        tasks = tasks_file(tmp_path, [{"id": "first", "repo": "repo", "prompt": "x", "model": stopper,
                                       "approval": "auto"},
                                      *({"id": i, "repo": "repo", "prompt": "x", "model": idle} for i in ("b", "c"))])
        run = wren("batch", str(tasks), "--chroma", server.url, "--workers", "1", "--out", "out",
                   "--output-format", "json", cwd=tmp_path, timeout=600)  # a hang guard
    finally:
        server.stop()
    assert run.code == 1, run.stderr
    got = results(tmp_path / "out")
    assert all(r["status"] == "error" for r in got.values()), got
    gone = f"Chroma server {server.url} is not reachable"
    assert gone in got["first"]["error"] and "by the end of the task" in got["first"]["error"]
    assert all(gone in got[i]["error"] and "did not start" in got[i]["error"] for i in ("b", "c"))


def test_bad_chroma_options_are_usage_errors(calc_repo, tmp_path):
    tasks = tasks_file(tmp_path, [{"id": "a", "repo": "repo", "prompt": "x",
                                   "model": write_script(tmp_path / "i.json", NOTHING)}])
    bad = wren("batch", str(tasks), "--chroma", "localhost:8000/x", "--out", "out", cwd=tmp_path)
    assert bad.code == 2 and "is not a Chroma server URL such as http://host:8000" in bad.stderr, bad.stderr
    url = f"http://127.0.0.1:{free_port()}"
    gone = wren("batch", str(tasks), "--chroma", url, "--out", "out", cwd=tmp_path)
    assert gone.code == 2 and f"Chroma server {url} is not reachable" in gone.stderr, gone.stderr
    assert not (tmp_path / "out").exists()  # refused before any task started
    index = wren("index", "--cwd", str(calc_repo), "--chroma", "ftp://host")
    assert index.code == 2 and "not a Chroma server URL" in index.stderr


class AuthProxy:
    """An HTTP proxy in front of the real server that wants `Authorization: Bearer s3cret`, as a
    deployment behind an authenticating gateway does."""

    def __init__(self, upstream: str) -> None:
        import threading
        import urllib.error
        import urllib.request
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def relay(self) -> None:
                if self.headers.get("Authorization") != "Bearer s3cret":
                    self.send_response(401)
                    self.end_headers()
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) or None
                request = urllib.request.Request(upstream + self.path, data=body, method=self.command,
                                                 headers={"Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(request, timeout=60) as reply:
                        status, data = reply.status, reply.read()
                except urllib.error.HTTPError as exc:
                    status, data = exc.code, exc.read()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = relay

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@needs_model
def test_headers_from_config_reach_a_server_that_needs_them(server, calc_repo):
    proxy = AuthProxy(server.url)
    try:
        refused = wren("index", "--cwd", str(calc_repo), "--chroma", proxy.url, "--quiet")
        assert refused.code == 2 and "answered HTTP 401 (check [chroma] headers)" in refused.stderr, refused.stderr
        (calc_repo / "wren.toml").write_text('[chroma]\nheaders = { Authorization = "Bearer s3cret" }\n')
        built = wren("index", "--cwd", str(calc_repo), "--chroma", proxy.url, "--quiet", timeout=300)
        assert built.code == 0 and "warning" not in built.stderr, built.stderr  # chromadb's own requests too
        head = git(calc_repo, "rev-parse", "HEAD").strip()
        assert f"code-{head[:12]}-{head[:12]}" in " ".join(server.names("code-"))
    finally:
        proxy.httpd.shutdown()
