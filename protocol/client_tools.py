"""Tools whose IO goes through the editor: files over fs/*, commands in terminals over terminal/*.

They keep the names and argument models of wren.tools (a public contract), so the
model sees the same tools; only where the bytes come from and go to changes. Reads
through the editor see its unsaved buffers; writes land in them.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

from acp.helpers import tool_terminal_ref
from acp.schema import EnvVariable, ReadTextFileResponse

from wren.tools.base import Tool, ToolContext, ToolResult
from wren.tools.edit import EditFileArgs, WriteFileArgs
from wren.core.errors import ToolError
from wren.core.fileio import TextFile, unified_diff
from wren.tools.files import MAX_READ_LINES, ReadFileArgs, numbered_lines
from wren.tools.matching import apply, find
from wren.tools.output import cap, clean_terminal
from wren.tools.process import NONINTERACTIVE
from wren.core.redact import redact
from wren.tools.shell import DEFAULT_TIMEOUT_S, ShellArgs
from wren.protocol.bridge import Bridge
from wren.tools.loop_thread import Stopped

OUTPUT_BYTES = 1_000_000  # what the editor keeps of a command's output; cap() trims it for the prompt


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


@dataclass
class EditorFiles:
    """read_file, edit_file and write_file through the editor; reads from disk where it offers only writes."""
    bridge: Bridge
    read_remote: bool
    write_remote: bool

    def tools(self, local: dict[str, Tool]) -> list[Tool]:
        """The local tools of these names (same descriptions and arguments) with their IO rerouted."""
        tools = [replace(local["read_file"], func=self.read_file)] if self.read_remote else []
        if self.write_remote:
            tools += [replace(local["edit_file"], func=self.edit_file), replace(local["write_file"], func=self.write_file)]
        return tools

    def read(self, path: Path, ctx: ToolContext) -> str:
        if not self.read_remote:
            return TextFile.read(path).text
        reply: ReadTextFileResponse = self.bridge.call(lambda: self.bridge.client.read_text_file(
            session_id=self.bridge.session_id, path=str(path)), f"reading {path}", ctx)
        return reply.content

    def write(self, path: Path, text: str, ctx: ToolContext) -> None:
        self.bridge.call(lambda: self.bridge.client.write_text_file(
            session_id=self.bridge.session_id, path=str(path), content=text), f"writing {path}", ctx)

    def read_file(self, args: ReadFileArgs, ctx: ToolContext) -> ToolResult:
        path = ctx.workspace.resolve(args.path)
        lines = self.read(path, ctx).replace("\r\n", "\n").splitlines()
        start = max(args.start_line or 1, 1)  # below 1: from the start, as the workspace read_file takes it
        end = min(args.end_line if args.end_line and args.end_line > 0 else len(lines), len(lines),
                  start + MAX_READ_LINES - 1)
        if start > max(len(lines), 1):
            raise ToolError(f"{args.path} has {len(lines)} lines; start_line {start} is past the end")
        # The same long-line pieces and output budget as the workspace read_file.
        shown, end = numbered_lines(iter(lines), start, end, max(args.start_char or 1, 1))
        body = "\n".join(shown)
        more = f"\n[{len(lines) - end} more lines; read_file with start_line={end + 1} for the rest]" \
            if end < len(lines) else ""
        return ToolResult(output=(body or "(empty file)") + more)

    def edit_file(self, args: EditFileArgs, ctx: ToolContext) -> ToolResult:
        path = ctx.workspace.resolve(args.path, write=True)
        if not path.is_file():
            raise ToolError(f"{args.path} does not exist; use write_file to create it")
        raw = self.read(path, ctx)
        original = raw.replace("\r\n", "\n")
        matches = find(original, args.old.replace("\r\n", "\n"), args.new.replace("\r\n", "\n"), args.replace_all)
        updated = apply(original, matches)
        self.write(path, updated.replace("\n", _newline(raw)), ctx)
        rel = ctx.workspace.rel(path)
        how = "" if matches[0].stage == "exact" else " (matched ignoring whitespace; indentation adjusted)"
        diff = unified_diff(rel, original, updated)
        return ToolResult(output=f"Edited {rel}: {len(matches)} replacement(s){how}.\n{diff}",
                          diff=diff, files_changed=[rel])

    def write_file(self, args: WriteFileArgs, ctx: ToolContext) -> ToolResult:
        path = ctx.workspace.resolve(args.path, write=True)
        if path.is_dir():
            raise ToolError(f"{args.path} is a directory")
        existed = path.is_file()
        raw = self.read(path, ctx) if existed else ""
        content = args.content.replace("\r\n", "\n")
        self.write(path, content.replace("\n", _newline(raw)), ctx)
        rel = ctx.workspace.rel(path)
        diff = unified_diff(rel, raw.replace("\r\n", "\n"), content)
        return ToolResult(output=f"{'Wrote' if existed else 'Created'} {rel} ({len(content)} chars).\n{diff}",
                          diff=diff, files_changed=[rel])


def terminal_shell(bridge: Bridge, local: Tool) -> Tool:
    """`local` (the shell tool) run in an editor terminal: the user watches it; it is always released."""
    client = bridge.client

    def shell(args: ShellArgs, ctx: ToolContext) -> ToolResult:
        sid = bridge.session_id  # read now: a new session learns its id after its tools are made
        timeout = args.timeout_s or DEFAULT_TIMEOUT_S
        started = time.monotonic()
        argv = ctx.sandbox.wrap(["bash", "-c", args.command], ctx.workspace.root)
        created = bridge.call(lambda: client.create_terminal(
            session_id=sid, command=argv[0], args=argv[1:], cwd=str(ctx.workspace.root),
            env=[EnvVariable(name=k, value=v) for k, v in NONINTERACTIVE.items()],
            output_byte_limit=OUTPUT_BYTES), "terminal/create", ctx)
        tid = created.terminal_id
        bridge.show(ctx.call_id, [tool_terminal_ref(tid)])
        killed = ""
        try:
            try:
                bridge.call(lambda: client.wait_for_terminal_exit(session_id=sid, terminal_id=tid),
                            "the command", ctx, timeout_s=timeout)
            except Stopped as stop:
                killed = stop.why
                bridge.call(lambda: client.kill_terminal(session_id=sid, terminal_id=tid), "terminal/kill")
            out = bridge.call(lambda: client.terminal_output(session_id=sid, terminal_id=tid), "terminal/output")
        finally:
            bridge.call(lambda: client.release_terminal(session_id=sid, terminal_id=tid), "terminal/release")
        code = None if killed or out.exit_status is None else out.exit_status.exit_code
        text = redact(clean_terminal(out.output))
        status = f"killed: {killed}" if killed else f"exit code {code}"
        body = cap(text, hint="redirect to a file and read_file a range for the rest") or "(no output)"
        took = time.monotonic() - started
        return ToolResult(ok=not killed, output=f"$ {args.command}\n{body}\n[{status}, {took:.1f}s]", exit_code=code)

    return replace(local, func=shell)
