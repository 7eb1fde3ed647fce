"""MCP servers named in session/new: started, their tools called under approval, stopped with the session."""
from __future__ import annotations

import sys
from pathlib import Path

from acp_client import running
from conftest import alive, wait_until, write_script

SERVER = Path(__file__).with_name("acp_mcp_server.py")


def test_mcp_tool_runs_under_permission_and_the_server_stops(calc_repo, tmp_path):
    pidfile = tmp_path / "mcp.pid"
    model = write_script(tmp_path / "s.json", [
        {"tool_calls": [{"name": "mcp__notes__count_notes", "arguments": {}}]},
        {"tool_calls": [{"name": "mcp__notes__add_note", "arguments": {"text": "hello 🐦"}}],
         "expect": ["0 note(s); token s3cret"]},
        {"content": "Noted.", "expect": ["noted: hello 🐦"]},
    ])
    with running("--model", model, cwd=calc_repo) as client:
        client.initialize()
        spec = {"name": "notes", "command": sys.executable, "args": [str(SERVER), str(pidfile)],
                "env": [{"name": "NOTES_TOKEN", "value": "s3cret"}]}
        sid = client.new_session(calc_repo, mcp_servers=[spec])
        pid = int(pidfile.read_text())
        assert alive(pid)
        assert client.prompt(sid, "note hello")["result"]["stopReason"] == "end_turn"
        assert (calc_repo / "notes.txt").read_text(encoding="utf-8") == "hello 🐦\n"
        # The read-only tool ran without asking; the other one asked first.
        assert len(client.permission_requests) == 1
        assert client.permission_requests[0]["toolCall"]["title"] == "notes: add_note"
        calls = client.updates(sid, "tool_call")
        assert [c["title"] for c in calls] == ["notes: count_notes", "notes: add_note"]
        done = [u for u in client.updates(sid, "tool_call_update") if u.get("status") == "completed"]
        assert len(done) == 2

        assert client.request("session/close", {"sessionId": sid})["result"] == {}
        wait_until(lambda: not alive(pid))  # the MCP server stops with its session; a server left running hangs here

        client.new_session(calc_repo, mcp_servers=[spec])
        second = int(pidfile.read_text())
        assert second != pid and alive(second)
        assert client.close() == 0 and not client.shutdown_warnings()
        assert not alive(second), "closing stdin stops the MCP servers too"


def test_a_server_that_cannot_start_leaves_the_session_usable(calc_repo, tmp_path):
    model = write_script(tmp_path / "s.json", [{"content": "Still here."}])
    with running("--model", model, cwd=calc_repo) as client:
        client.initialize()
        spec = {"name": "broken", "command": str(tmp_path / "no-such-server"), "args": [], "env": []}
        sid = client.new_session(calc_repo, mcp_servers=[spec])
        assert client.prompt(sid, "hello")["result"]["stopReason"] == "end_turn"
        client.until(lambda: any("MCP server broken did not start" in line for line in client.stderr))
        # The editor hears it too (it went to stderr only), once it knows the session: as a thought.
        thoughts = [u["content"]["text"] for u in client.updates(sid, "agent_thought_chunk")]
        assert any("MCP server broken did not start" in t and "not found" in t for t in thoughts), thoughts
        client.close()
