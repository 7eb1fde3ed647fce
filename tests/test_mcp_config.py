"""MCP servers from wren.toml: their tools are offered, called under approval, and a broken one is one warning."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from conftest import alive, wait_until, wren, write_script

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
               cwd=calc_repo)
    assert run.code == 0, run.stderr
    assert (calc_repo / "notes.txt").read_text(encoding="utf-8") == "hello 🐦\n"
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
    from wren.agent.events import ApprovalRequested, Result, ToolResultEvent
    from wren.agent.ops import ApprovalDecision, Shutdown, UserInput
    from wren.agent.session import Session
    from wren.cli.start import session_config

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
    assert "no-such-server" in warnings[0]["message"]


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
