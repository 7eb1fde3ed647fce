"""Client capabilities: files through the editor's buffers, commands in the editor's terminals."""
from __future__ import annotations

import signal

from acp_client import running
from conftest import CALC, write_script

UNSAVED = "def add(a, b):\n    return a * b  # unsaved in the editor\n"


def test_fs_capability_reads_and_writes_through_the_editor(calc_repo, tmp_path):
    path = str(calc_repo / "calc.py")
    model = write_script(tmp_path / "s.json", [
        {"tool_calls": [{"name": "read_file", "arguments": {"path": "calc.py"}}]},
        {"tool_calls": [{"name": "edit_file", "arguments": {"path": "calc.py", "old": "a * b", "new": "a + b"}}],
         "expect": ["unsaved in the editor"]},
        {"tool_calls": [{"name": "write_file", "arguments": {"path": "NOTES.md", "content": "fixed\n"}}]},
        {"content": "Done."},
    ])
    with running("--model", model, "--approval", "auto", cwd=calc_repo, buffers={path: UNSAVED}) as client:
        client.initialize(fs=True)
        sid = client.new_session(calc_repo)
        assert client.prompt(sid, "fix add")["result"]["stopReason"] == "end_turn"
        assert path in client.reads
        assert client.writes[0] == (path, UNSAVED.replace("a * b", "a + b"))
        assert client.writes[1] == (str(calc_repo / "NOTES.md"), "fixed\n")
        # The editor owns the buffers: nothing touched the disk behind its back.
        assert (calc_repo / "calc.py").read_text() == CALC
        assert not (calc_repo / "NOTES.md").exists()
        client.close()


def test_without_capabilities_io_is_local(calc_repo, tmp_path):
    model = write_script(tmp_path / "s.json", [
        {"tool_calls": [{"name": "edit_file", "arguments": {"path": "calc.py", "old": "a - b", "new": "a + b"}}]},
        {"tool_calls": [{"name": "shell", "arguments": {"command": "echo local-shell"}}]},
        {"content": "Done.", "expect": ["local-shell"]},
    ])
    with running("--model", model, "--approval", "auto", cwd=calc_repo) as client:
        client.initialize()
        sid = client.new_session(calc_repo)
        assert client.prompt(sid, "fix add")["result"]["stopReason"] == "end_turn"
        assert (calc_repo / "calc.py").read_text() == CALC.replace("a - b", "a + b")
        assert not client.reads and not client.writes and not client.terminals
        client.close()


def test_terminal_capability_runs_commands_in_editor_terminals(calc_repo, tmp_path):
    model = write_script(tmp_path / "s.json", [
        {"tool_calls": [{"name": "shell", "arguments": {"command": "echo hello-from-terminal; exit 3"}}]},
        {"content": "It said hello.", "expect": ["hello-from-terminal", "exit code 3"]},
        {"tool_calls": [{"name": "shell", "arguments": {"command": "sleep 86412"}}]},  # only a kill ends it
    ])
    with running("--model", model, "--approval", "auto", cwd=calc_repo) as client:
        client.initialize(terminal=True)
        sid = client.new_session(calc_repo)
        assert client.prompt(sid, "say hello")["result"]["stopReason"] == "end_turn"
        first = client.terminals["term-1"]
        assert first.released and first.proc.returncode == 3
        shown = [c for u in client.updates(sid, "tool_call_update") for c in u.get("content") or []]
        assert {"type": "terminal", "terminalId": "term-1"} in shown

        id_ = client.start_prompt(sid, "wait")
        client.until(lambda: "term-2" in client.terminals)
        client.notify("session/cancel", {"sessionId": sid})
        assert client.wait(id_)["result"]["stopReason"] == "cancelled"
        second = client.terminals["term-2"]
        # The agent asked the editor to kill the command, and it is gone.
        assert second.killed and second.released and second.proc.wait() == -signal.SIGKILL
        client.close()
