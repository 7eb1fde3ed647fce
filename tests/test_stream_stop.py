"""An interrupt or the time limit cuts a streaming reply at its next chunk, closes the stream and
ends the turn with a result: against a server that streams one chunk a second for ten minutes."""
from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import WREN, clean_env, wait_until, wren

CHUNK = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
         "choices": [{"index": 0, "delta": {"content": "word "}}]}


class SlowStream(BaseHTTPRequestHandler):
    """Answers every POST with an SSE stream of one chunk a second for ten minutes."""
    closed: list[float] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        try:
            for _ in range(600):
                self.wfile.write(f"data: {json.dumps(CHUNK)}\n\n".encode())
                self.wfile.flush()
                time.sleep(1)
        except (BrokenPipeError, ConnectionResetError):
            SlowStream.closed.append(time.monotonic())  # the client hung up

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def slow_server():
    SlowStream.closed = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowStream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def deltas(repo, session_id: str) -> str:
    log = repo / ".wren" / "sessions" / f"{session_id}.jsonl"
    return "".join(e["text"] for e in map(json.loads, log.read_text().splitlines()) if e["type"] == "assistant_delta")


def test_the_time_limit_cuts_a_stream_and_the_run_ends_with_its_result(calc_repo, slow_server):
    # timeout= is a hang guard for the test: before the fix the run went on for ten minutes.
    run = wren("run", "hello", "--model", "openai/m", "--api-base", slow_server, "--timeout", "3",
               "--output-format", "json", cwd=calc_repo, timeout=120)
    assert run.code == 5 and run.json["status"] == "limit", run.stderr
    assert run.json["summary"].startswith("time limit reached")
    assert "word word" in deltas(calc_repo, run.json["session_id"])  # what arrived is kept
    wait_until(lambda: SlowStream.closed)  # and the HTTP stream was closed


def test_one_ctrl_c_cuts_a_stream_and_the_run_ends_interrupted(calc_repo, slow_server):
    proc = subprocess.Popen([str(WREN), "run", "hello", "--model", "openai/m", "--api-base", slow_server,
                             "--output-format", "json"], cwd=calc_repo, env=clean_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sessions = calc_repo / ".wren" / "sessions"
    wait_until(lambda: any("assistant_delta" in p.read_text() for p in sessions.glob("*.jsonl")))
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)  # a hang guard, as above
    assert proc.returncode == 130, err
    result = json.loads(out.splitlines()[-1])
    assert result["status"] == "interrupted" and "Traceback" not in err
    wait_until(lambda: SlowStream.closed)


def test_an_acp_cancel_cuts_a_stream_and_answers_the_prompt_cancelled(calc_repo, slow_server):
    from acp_client import running

    with running("--model", "openai/m", "--api-base", slow_server, cwd=calc_repo) as client:
        client.initialize()
        sid = client.new_session(calc_repo)
        id_ = client.start_prompt(sid, "hello")
        client.until(lambda: client.updates(sid, "agent_message_chunk"), timeout=60)
        client.notify("session/cancel", {"sessionId": sid})
        assert client.wait(id_, timeout=60)["result"]["stopReason"] == "cancelled"  # 60: a hang guard
        wait_until(lambda: SlowStream.closed)
        client.close()


def test_sigterm_kills_the_running_command_prints_the_result_and_exits_143(calc_repo, tmp_path):
    from conftest import processes_with, write_script

    (calc_repo / "wren.toml").write_text('[sandbox]\nmode = "off"\n')  # auto runs shell without bubblewrap
    model = write_script(tmp_path / "s.json", [
        {"tool_calls": [{"name": "shell", "arguments": {"command": "sleep 86405"}}]}, {"content": "never"}])
    proc = subprocess.Popen([str(WREN), "run", "wait", "--model", model, "--approval", "auto",
                             "--output-format", "json"], cwd=calc_repo, env=clean_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_until(lambda: processes_with("86405", below=proc.pid) or proc.poll() is not None)
    assert proc.poll() is None, proc.communicate()  # the command runs, and wren with it
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)  # a hang guard
    assert proc.returncode == 143, err
    result = json.loads(out.splitlines()[-1])
    assert result["status"] == "interrupted" and result["exit_code"] == 143 and "Traceback" not in err
    assert "(exit 143)" in err and "(exit 130)" not in err  # the summary line on stderr says the same
    # The session log says so too (it said 130, "interrupted by the user", while the output said 143).
    logged = [json.loads(line) for line in (calc_repo / ".wren" / "sessions" / f"{result['session_id']}.jsonl")
              .read_text().splitlines()]
    assert [(e["exit_code"], e["summary"]) for e in logged if e["type"] == "result"] == [(143, "terminated (SIGTERM)")]
    wait_until(lambda: not processes_with("86405"))


def test_the_time_limit_cuts_a_compaction_summary_and_leaves_the_context_as_it_was(calc_repo, tmp_path, slow_server):
    from conftest import write_script

    for i in range(12):
        (calc_repo / f"big_{i}.txt").write_text(f"file {i}\n" + "lorem ipsum dolor sit amet\n" * 120)
    history = write_script(tmp_path / "s.json", [
        *({"tool_calls": [{"name": "read_file", "arguments": {"path": f"big_{i}.txt"}}]} for i in range(12)),
        {"content": "Read them all."}])
    first = wren("run", "read the big files", "--model", history, "--approval", "auto", "--output-format", "json",
                 "--max-steps", "20", cwd=calc_repo)
    assert first.code == 0, first.stderr
    # On an 8000-token window the history needs a compaction before the next model call; its
    # summary is asked of the slow server.
    (calc_repo / "wren.toml").write_text("[context]\nwindow = 8000\n")
    run = wren("run", "--resume", first.json["session_id"], "and now?", "--model", "openai/m", "--api-base",
               slow_server, "--timeout", "5", "--output-format", "json", cwd=calc_repo, timeout=120)
    assert run.code == 5 and run.json["status"] == "limit", run.stderr
    assert run.json["summary"].startswith("time limit reached")
    log = calc_repo / ".wren" / "sessions" / f"{first.json['session_id']}.jsonl"
    kinds = [e["type"] for e in map(json.loads, log.read_text().splitlines())]
    assert "context_compacted" not in kinds
    # The cut stream was the summary's: the step's own reply (whose words are shown) never started.
    assert "assistant_delta" not in kinds[kinds.index("user_message", kinds.index("result")):]
    wait_until(lambda: SlowStream.closed)
