"""MCP servers from wren.toml: their tools are offered, called under approval, and a broken one is one warning."""
from __future__ import annotations

import json
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import alive, logged_events, wait_until, wren, write_script

TESTS = Path(__file__).parent
NOTES = TESTS / "acp_mcp_server.py"  # FastMCP over stdio: add_note (mutating), count_notes (read-only)
RAW = TESTS / "raw_mcp_server.py"  # answers tools/list without the initialize handshake


def configure(repo: Path, tmp_path: Path, **servers: dict) -> None:
    lines = []
    for name, table in servers.items():
        lines.append(f"[mcp.servers.{name}]")
        lines += [f"{key} = {toml_value(value)}" for key, value in table.items()]
    (repo / "wren.toml").write_text("\n".join(lines) + "\n")


def toml_value(value: object) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)  # strings and lists of strings are the same in JSON and TOML


def notes(tmp_path: Path) -> dict:
    return {"command": sys.executable, "args": [str(NOTES), str(tmp_path / "notes.pid")],
            "env": {"NOTES_TOKEN": "s3cret"}}


def raw() -> dict:
    return {"command": sys.executable, "args": [str(RAW)]}


def events(run, kind: str) -> list[dict]:
    return [line for line in run.lines if line["type"] == kind]


def test_configured_tools_run_and_their_results_reach_the_model(calc_repo, tmp_path):
    configure(calc_repo, tmp_path, notes=notes(tmp_path), raw=raw())
    model = write_script(tmp_path / "s.json", [
        {"tool_calls": [{"name": "mcp__notes__count_notes", "arguments": {}},
                        {"name": "mcp__raw__shout", "arguments": {"text": "quiet"}}]},
        {"tool_calls": [{"name": "mcp__notes__add_note", "arguments": {"text": "hello 🐦"}}],
         "expect": ["0 note(s); token s3cret", "QUIET"]},
        {"content": "Noted.", "expect": ["noted: hello 🐦"]},
    ])
    run = wren("run", "note hello", "--model", model, "--approval", "auto", "--output-format", "stream-json",
               "--include-diff", cwd=calc_repo)
    assert run.code == 0, run.stderr
    assert (calc_repo / "notes.txt").read_text(encoding="utf-8") == "hello 🐦\n"
    # The MCP tool did not say what it changed; the turn's checkpoint diff did.
    result = run.lines[-1]
    assert result["files_changed"] == ["notes.txt"] and "+hello 🐦" in result["diff"]
    assert [e["name"] for e in events(run, "tool_result") if e["ok"]] == [
        "mcp__notes__count_notes", "mcp__raw__shout", "mcp__notes__add_note"]
    assert not events(run, "error")


def test_mutating_tool_is_denied_headless_in_ask_mode(calc_repo, tmp_path):
    configure(calc_repo, tmp_path, notes=notes(tmp_path))
    model = write_script(tmp_path / "s.json", [
        {"tool_calls": [{"name": "mcp__notes__count_notes", "arguments": {}},
                        {"name": "mcp__notes__add_note", "arguments": {"text": "nope"}}]},
        {"content": "I could not add the note.", "expect": ["0 note(s)", "needs approval in ask mode"]},
    ])
    run = wren("run", "note it", "--model", model, "--approval", "ask", "--output-format", "stream-json",
               cwd=calc_repo)
    assert run.code == 4, run.stderr
    denied = events(run, "approval_resolved")
    assert len(denied) == 1 and denied[0]["decision"] == "deny" and denied[0]["by"] == "policy"
    assert not (calc_repo / "notes.txt").exists()


def test_mutating_tool_asks_in_an_interactive_session(calc_repo, tmp_path):
    from wren.core.events import ApprovalRequested, Result, ToolResultEvent
    from wren.core.ops import ApprovalDecision, Shutdown, UserInput
    from wren.agent.session import Session
    from wren.agent.start import session_config

    configure(calc_repo, tmp_path, notes=notes(tmp_path))
    model = write_script(tmp_path / "s.json", [
        {"tool_calls": [{"name": "mcp__notes__add_note", "arguments": {"text": "asked"}}]},
        {"content": "Done.", "expect": ["noted: asked"]},
    ])
    cfg = session_config(calc_repo, model=model, api_base=None, approval="ask", resume=None, continue_last=False,
                         interactive=True)
    session = Session(cfg)
    session.submit(UserInput(text="note it"))
    seen = []
    try:
        for event in session.events():
            seen.append(event)
            if isinstance(event, ApprovalRequested):
                assert event.name == "mcp__notes__add_note"
                session.submit(ApprovalDecision(call_id=event.call_id, decision="allow_once"))
            if isinstance(event, Result):
                session.submit(Shutdown())
    finally:
        cfg.mcp.close()
    assert sum(isinstance(e, ApprovalRequested) for e in seen) == 1
    assert [e.ok for e in seen if isinstance(e, ToolResultEvent)] == [True]
    assert (calc_repo / "notes.txt").read_text(encoding="utf-8") == "asked\n"


def test_a_server_that_cannot_start_is_one_warning(calc_repo, tmp_path):
    configure(calc_repo, tmp_path, broken={"command": str(tmp_path / "no-such-server")}, raw=raw())
    model = write_script(tmp_path / "s.json", [
        {"tool_calls": [{"name": "mcp__raw__shout", "arguments": {"text": "still here"}}]},
        {"content": "Fine.", "expect": ["STILL HERE"]},
    ])
    run = wren("run", "go on", "--model", model, "--approval", "auto", "--output-format", "json", cwd=calc_repo)
    assert run.code == 0, run.stderr
    assert run.json["status"] == "success"
    assert run.stderr.count("MCP server broken") == 1
    log = calc_repo / ".wren" / "sessions" / f"{run.json['session_id']}.jsonl"
    warnings = [e for e in map(json.loads, log.read_text().splitlines()) if e["type"] == "error"]
    assert len(warnings) == 1 and warnings[0]["kind"] == "warning" and not warnings[0]["fatal"]
    assert "MCP server broken did not start" in warnings[0]["message"]
    assert "no-such-server" in warnings[0]["message"] and "not found (not on PATH, not a file)" in warnings[0]["message"]


def test_a_server_that_never_answers_is_one_warning_and_the_run_ends_with_its_result(calc_repo, tmp_path):
    pid = tmp_path / "silent.pid"
    silent = {"command": sys.executable, "startup_timeout_s": 2,
              "args": ["-c", f"import os, time; open({str(pid)!r}, 'w').write(str(os.getpid())); time.sleep(3600)"]}
    configure(calc_repo, tmp_path, silent=silent)
    model = write_script(tmp_path / "s.json", [{"content": "Done."}])
    run = wren("run", "go on", "--model", model, "--output-format", "json", cwd=calc_repo)
    assert run.code == 0 and run.json["status"] == "success", run.stderr  # the result, on stdout
    assert "Traceback" not in run.stderr and "Error" not in run.stderr
    assert run.stderr.count("MCP server silent") == 1 and "no answer within 2s" in run.stderr
    wait_until(lambda: not alive(int(pid.read_text())))  # and the server process is gone
    listed = wren("mcp", "list", cwd=calc_repo)
    assert listed.code == 0 and "Traceback" not in listed.stderr
    assert any(line.startswith("silent") and "no answer within 2s" in line for line in listed.stdout.splitlines())


def test_mcp_list_shows_servers_status_and_tools(calc_repo, tmp_path):
    configure(calc_repo, tmp_path, notes=notes(tmp_path), broken={"command": str(tmp_path / "no-such-server")})
    run = wren("mcp", "list", cwd=calc_repo)
    assert run.code == 0, run.stderr
    lines = run.stdout.splitlines()
    assert any(line.startswith("notes") and "running" in line and "stdio" in line for line in lines), run.stdout
    assert any(line.startswith("broken") and "failed" in line for line in lines), run.stdout
    assert any("mcp__notes__add_note" in line for line in lines)
    assert any("mcp__notes__count_notes" in line and "read-only" in line for line in lines)


def test_mcp_list_without_servers_says_how_to_add_one(calc_repo):
    run = wren("mcp", "list", cwd=calc_repo)
    assert run.code == 0 and "[mcp.servers." in run.stdout


def test_a_server_that_dies_is_one_warning_and_the_run_goes_on(calc_repo, tmp_path):
    configure(calc_repo, tmp_path, raw=raw())
    model = write_script(tmp_path / "s.json", [
        {"tool_calls": [{"name": "mcp__raw__crash", "arguments": {}}]},
        {"tool_calls": [{"name": "mcp__raw__shout", "arguments": {"text": "anyone?"}}],
         "expect": ["MCP server raw has stopped"]},
        {"content": "The server is gone.", "expect": ["MCP server raw is not running"]},
    ])
    run = wren("run", "go", "--model", model, "--approval", "auto", "--output-format", "stream-json",
               cwd=calc_repo, timeout=60)
    assert run.code == 0, run.stderr
    warnings = events(run, "error")
    assert len(warnings) == 1 and not warnings[0]["fatal"], warnings
    assert "MCP server raw stopped" in warnings[0]["message"]


def test_an_http_server_is_listed_and_called(calc_repo, tmp_path):
    import subprocess
    import time
    import urllib.error
    import urllib.request

    from conftest import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, str(NOTES), str(tmp_path / "http.pid"), str(port)], cwd=calc_repo,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/mcp", timeout=1)
            except urllib.error.HTTPError:
                break  # it answers (a plain GET is refused): it is up
            except OSError:
                assert time.monotonic() < deadline, "the HTTP MCP server did not come up"
                time.sleep(0.2)
        configure(calc_repo, tmp_path, web={"url": f"http://127.0.0.1:{port}/mcp"})
        listed = wren("mcp", "list", cwd=calc_repo)
        assert any(line.startswith("web  http  running") for line in listed.stdout.splitlines()), listed.stdout
        model = write_script(tmp_path / "s.json", [
            {"tool_calls": [{"name": "mcp__web__add_note", "arguments": {"text": "over http"}}]},
            {"content": "Noted.", "expect": ["noted: over http"]},
        ])
        run = wren("run", "note it", "--model", model, "--approval", "auto", "--output-format", "json",
                   cwd=calc_repo)
        assert run.code == 0, run.stderr
        assert (calc_repo / "notes.txt").read_text(encoding="utf-8") == "over http\n"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


CONTENT = TESTS / "content_mcp_server.py"


def content() -> dict:
    return {"command": sys.executable, "args": [str(CONTENT)]}


def test_resources_links_and_images_reach_the_model_as_text(calc_repo, tmp_path):
    configure(calc_repo, tmp_path, content=content())
    model = write_script(tmp_path / "s.json", [
        {"tool_calls": [{"name": "mcp__content__show", "arguments": {}}]},
        {"content": "Seen.", "expect": ["here is what I found", "[resource file:///notes/a.txt]\nalpha beta gamma",
                                        "[resource file:///notes/b.bin: application/octet-stream, 30 bytes]",
                                        "[resource link spec (text/html): https://example.com/spec.html: the protocol",
                                        "[image 1: image/png, 66 bytes]"]},
    ])
    run = wren("run", "look", "--model", model, "--approval", "auto", "--output-format", "json", cwd=calc_repo)
    assert run.code == 0, run.stderr
    assert "omitted" not in json.dumps(logged_events(calc_repo, run.json["session_id"]))


def test_a_huge_result_is_cut_once_with_an_honest_note(calc_repo, tmp_path):
    sys.path.insert(0, str(TESTS))
    from content_mcp_server import DUMP_CHARS, dump_text

    configure(calc_repo, tmp_path, content=content())
    model = write_script(tmp_path / "s.json", [
        {"tool_calls": [{"name": "mcp__content__dump", "arguments": {}}]},
        {"content": "Seen.", "expect": ["line 000000", "the full output is in the session log"]},
    ])
    run = wren("run", "dump", "--model", model, "--approval", "auto", "--output-format", "json", cwd=calc_repo)
    assert run.code == 0, run.stderr
    result = next(e for e in logged_events(calc_repo, run.json["session_id"]) if e["type"] == "tool_result")
    shown = result["output"]
    notes = re.findall(r"\[\.\.\. lines \d+-\d+ \((\d+) chars\) cut; the full output is in the session log \.\.\.\]\n",
                       shown)
    assert len(notes) == 1, shown[:200]  # one cap, one note
    kept = re.sub(r"\[\.\.\. lines .*? \.\.\.\]\n", "", shown)
    assert len(kept) + int(notes[0]) == DUMP_CHARS  # the note tells how much was really cut
    assert result["full_output"] == dump_text()  # and the whole of it is where the note says


def test_files_an_mcp_tool_wrote_are_in_the_result(calc_repo, tmp_path):
    configure(calc_repo, tmp_path, content=content())
    model = write_script(tmp_path / "s.json", [
        {"tool_calls": [{"name": "mcp__content__touch", "arguments": {}}]}, {"content": "Done."}])
    run = wren("run", "touch", "--model", model, "--approval", "auto", "--output-format", "json",
               "--include-diff", cwd=calc_repo)
    assert run.code == 0, run.stderr
    assert run.json["files_changed"] == ["made_by_mcp.txt"] and "+made" in run.json["diff"]


class _Provider(BaseHTTPRequestHandler):
    """An OpenAI-compatible server: its first reply calls mcp__content__show, the next ones say Done.
    It keeps every request body, to see what the model was sent."""
    bodies: list[dict] = []

    def do_POST(self) -> None:
        self.bodies.append(json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0)))))
        call = {"index": 0, "id": "call_1", "type": "function",
                "function": {"name": "mcp__content__show", "arguments": "{}"}}
        delta = {"tool_calls": [call]} if len(self.bodies) == 1 else {"content": "Done."}
        finish = "tool_calls" if len(self.bodies) == 1 else "stop"
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for choice in ({"index": 0, "delta": delta}, {"index": 0, "delta": {}, "finish_reason": finish}):
            chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m", "choices": [choice]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")

    def log_message(self, *args) -> None:
        pass


@pytest.mark.parametrize("model, sees_image", [("openai/gpt-4o", True), ("openai/m", False)])
def test_images_go_to_models_that_take_images(calc_repo, tmp_path, model, sees_image):
    sys.path.insert(0, str(TESTS))
    from content_mcp_server import PNG

    configure(calc_repo, tmp_path, content=content())
    _Provider.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Provider)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        run = wren("run", "look", "--model", model, "--api-base", f"http://127.0.0.1:{server.server_address[1]}/v1",
                   "--approval", "auto", "--output-format", "json", cwd=calc_repo)
    finally:
        server.shutdown()
    assert run.code == 0, run.stderr
    sent = _Provider.bodies[1]["messages"]  # the request after the tool ran
    tool_at = next(i for i, m in enumerate(sent) if m["role"] == "tool")
    assert "[image 1: image/png, 66 bytes]" in sent[tool_at]["content"]
    images = [part["image_url"]["url"] for m in sent if isinstance(m["content"], list)
              for part in m["content"] if part.get("type") == "image_url"]
    if sees_image:
        assert images == [f"data:image/png;base64,{PNG}"]
        assert sent[tool_at + 1]["role"] == "user"  # after the batch's tool messages, not among them
    else:
        assert images == []
