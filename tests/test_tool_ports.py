"""One body per tool: file tools go through ctx.files, shell through ctx.commands; tools describe their calls
(title, typed preview) and the session puts that on its events, so front ends parse nothing."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import CALC, clean_env, write_script

from wren.core.events import CommandPreview, FileChange
from wren.core.fileio import TextFile
from wren.tools.base import ToolContext, default_registry
from wren.tools.ports import FileStat
from wren.tools.process import ProcessResult
from wren.tools.workspace import Workspace

REGISTRY = default_registry()


class MemoryFiles:
    """A Files port over a dict, standing in for an editor's buffers: nothing may touch the disk."""

    def __init__(self, files: dict[str, str], root: Path) -> None:
        self.files, self.root = files, root

    def _key(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def stat(self, path: Path) -> FileStat:
        text = self.files.get(self._key(path))
        return FileStat(exists=text is not None, size=len(text or ""))

    def read(self, path: Path) -> TextFile:
        return TextFile.from_text(self.files[self._key(path)])

    def write(self, path: Path, raw: str, like: TextFile | None = None) -> None:
        self.files[self._key(path)] = raw


class RecordingCommands:
    """A Commands port that records what it is asked to run and reports a terminal as progress."""

    def __init__(self) -> None:
        self.ran: list[tuple[str, float]] = []

    def run(self, command, cwd, timeout_s, interrupt, sandbox, progress) -> ProcessResult:
        self.ran.append((command, timeout_s))
        progress(terminal_id="term-1")
        return ProcessResult(exit_code=3, output="from the port\n", killed="", duration_s=0.0)


def call(name: str, ctx: ToolContext, **args):
    tool = REGISTRY.get(name)
    return tool.run(tool.args(**args), ctx)


def test_file_tools_read_edit_and_write_through_the_files_port(tmp_path):
    buffers = {"calc.py": "def add(a, b):\r\n    return a - b\r\n"}  # an unsaved buffer, CRLF
    ctx = ToolContext(Workspace(tmp_path), files=MemoryFiles(buffers, tmp_path))
    assert "return a - b" in call("read_file", ctx, path="calc.py").output
    # The same checks as on disk: a negative start_line means from the start, not from the end.
    assert call("read_file", ctx, path="calc.py", start_line=-1).output.startswith("     1\tdef add")
    edited = call("edit_file", ctx, path="calc.py", old="return a - b", new="return a + b")
    assert edited.ok and edited.files_changed == ["calc.py"]
    assert buffers["calc.py"] == "def add(a, b):\r\n    return a + b\r\n"  # line endings kept
    call("write_file", ctx, path="calc.py", content="def add(a, b):\n    return b + a")
    assert buffers["calc.py"] == "def add(a, b):\r\n    return b + a\r\n"  # final newline kept, as on disk
    call("write_file", ctx, path="new.py", content="x = 1\n")
    assert buffers["new.py"] == "x = 1\n"
    assert list(tmp_path.iterdir()) == []  # nothing reached the disk


def test_shell_runs_through_the_commands_port_and_reports_progress(tmp_path):
    commands, reports = RecordingCommands(), []
    ctx = ToolContext(Workspace(tmp_path), commands=commands,
                      progress=lambda text="", terminal_id=None: reports.append(terminal_id))
    result = call("shell", ctx, command="make test", timeout_s=7)
    assert commands.ran == [("make test", 7)]
    assert reports == ["term-1"]
    assert "from the port" in result.output and result.exit_code == 3


def test_tools_describe_their_calls(tmp_path):
    (tmp_path / "calc.py").write_text(CALC)
    ctx = ToolContext(Workspace(tmp_path))
    edit = REGISTRY.get("edit_file")
    about = edit.describe(edit.args(path="calc.py", old="return a - b", new="return a + b"), ctx)
    assert about["title"] == "Edit calc.py"
    change = about["preview"]
    assert isinstance(change, FileChange) and change.old_text == CALC
    assert change.new_text == CALC.replace("a - b", "a + b") and "+    return a + b" in change.diff
    assert (tmp_path / "calc.py").read_text() == CALC  # a preview changes nothing
    missing = edit.preview(edit.args(path="calc.py", old="nope", new="x"), ctx)
    assert missing.error and not missing.diff
    write = REGISTRY.get("write_file")
    created = write.preview(write.args(path="new.py", content="x = 1\n"), ctx)
    assert created.old_text is None and created.new_text == "x = 1\n"
    shell = REGISTRY.get("shell")
    command = shell.preview(shell.args(command="ls -la"), ctx)
    assert isinstance(command, CommandPreview) and command.command == "ls -la" and command.cwd == str(tmp_path)
    assert REGISTRY.get("grep").title(REGISTRY.get("grep").args(pattern="add")) == "Search for `add`"
    (tmp_path / "adir").mkdir()
    assert write.preview(write.args(path="adir", content="x"), ctx).error == "adir is a directory; name a file"
    # A title is one line, bounded: a multi-line or huge command does not make a huge header.
    long = shell.title(shell.args(command="echo a\necho b " + "x" * 500))
    assert long.startswith("Run `echo a echo b xxx") and "\n" not in long and len(long) == 120 and long.endswith("…")


def test_events_carry_title_args_and_preview(calc_repo, tmp_path):
    model = write_script(tmp_path / "script.json", [
        {"tool_calls": [{"name": "edit_file", "arguments": {"path": "calc.py", "old": "return a - b",
                                                            "new": "return a + b"}},
                        {"name": "shell", "arguments": {"command": "echo hi"}},
                        {"name": "read_file", "arguments": {"path": 7}}]},
        {"content": "done"}])
    proc = subprocess.run([sys.executable, "-m", "wren.cli.main", "run", "fix", "--model", model,
                           "--approval", "auto", "--output-format", "stream-json"],
                          cwd=calc_repo, env=clean_env(), capture_output=True, text=True, timeout=120)
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    calls = [e for e in events if e["type"] == "tool_call"]
    edit, shell, bad = calls
    assert edit["title"] == "Edit calc.py" and edit["args"]["old"] == "return a - b"
    assert edit["preview"]["type"] == "file_change" and "+    return a + b" in edit["preview"]["diff"]
    assert shell["preview"] == {"type": "command", "command": "echo hi", "cwd": str(calc_repo), "timeout_s": 120.0}
    assert bad["args"] == {} and bad["preview"] is None  # invalid arguments: nothing made up
    started = [e["call_id"] for e in events if e["type"] == "tool_started"]
    assert started == [edit["call_id"], shell["call_id"]]  # the invalid call never started
