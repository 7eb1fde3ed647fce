"""Read-only tools: read_file, list_files, grep."""
from __future__ import annotations

import fnmatch
import re
import subprocess
from pathlib import Path

from pydantic import BaseModel, Field

from wren.tools.base import Tool, ToolContext, ToolResult
from wren.tools.errors import ToolError
from wren.tools.output import cap
from wren.tools.workspace import Workspace

MAX_READ_BYTES = 2_000_000
MAX_READ_LINES = 2_000
MAX_LIST = 1_000
MAX_MATCHES = 200
SKIP_DIRS = {".git", ".wren", "node_modules", "__pycache__", ".venv", "venv", ".mypy_cache",
             ".pytest_cache", ".tox"}


class ReadFileArgs(BaseModel):
    path: str = Field(description="file path relative to the workspace root")
    # 0 is accepted as "from the start" / "to the end": small models emit it often.
    start_line: int | None = Field(None, ge=0, description="first line to show (1-based)")
    end_line: int | None = Field(None, ge=0, description="last line to show (inclusive)")


def read_file(args: ReadFileArgs, ctx: ToolContext) -> ToolResult:
    path = ctx.workspace.resolve(args.path)
    if not path.is_file():
        raise ToolError(f"{args.path} is not a file; use list_files to see what exists")
    if path.stat().st_size > MAX_READ_BYTES and args.start_line is None:
        raise ToolError(f"{args.path} is {path.stat().st_size} bytes; read a range with start_line/end_line")
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise ToolError(f"{args.path} is a binary file ({len(data)} bytes); it cannot be shown as text")
    lines = data.decode("utf-8", errors="replace").splitlines()
    start = args.start_line or 1
    end = min(args.end_line or len(lines), len(lines), start + MAX_READ_LINES - 1)
    if end < start and args.end_line:
        raise ToolError(f"end_line {args.end_line} is before start_line {start}")
    if start > max(len(lines), 1):
        raise ToolError(f"{args.path} has {len(lines)} lines; start_line {start} is past the end")
    body = "\n".join(f"{n:>6}\t{lines[n - 1]}" for n in range(start, end + 1))
    more = ""
    if end < len(lines):
        more = f"\n[{len(lines) - end} more lines; read_file with start_line={end + 1} for the rest]"
    return ToolResult(output=(body or "(empty file)") + more)


def workspace_files(ws: Workspace, under: Path) -> list[Path]:
    """Tracked plus untracked-not-ignored files in a git repo; a filtered walk elsewhere."""
    try:
        proc = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "."],
                              cwd=under, capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        proc = None
    if proc is not None and proc.returncode == 0:
        files = {(under / p).resolve() for p in proc.stdout.decode(errors="replace").split("\0") if p}
        return sorted(f for f in files if f.is_file() and ws.root in f.parents)
    found = []
    for path in sorted(under.rglob("*")):
        rel = path.relative_to(under).parts
        if any(part in SKIP_DIRS for part in rel) or not path.is_file():
            continue
        found.append(path)
    return found


class ListFilesArgs(BaseModel):
    path: str = Field(".", description="directory relative to the workspace root")
    pattern: str | None = Field(None, description="glob on the relative path, e.g. '*.py' or 'src/**/*.ts'")


def _matches(rel: str, pattern: str | None) -> bool:
    if not pattern:
        return True
    return fnmatch.fnmatch(rel, pattern) or fnmatch.fnmatch(rel.rsplit("/", 1)[-1], pattern)


def list_files(args: ListFilesArgs, ctx: ToolContext) -> ToolResult:
    base = ctx.workspace.resolve(args.path)
    if not base.is_dir():
        raise ToolError(f"{args.path} is not a directory")
    rels = [r for r in (ctx.workspace.rel(p) for p in workspace_files(ctx.workspace, base)) if _matches(r, args.pattern)]
    if not rels:
        return ToolResult(output="(no files)")
    shown = rels[:MAX_LIST]
    note = f"\n[{len(rels) - MAX_LIST} more; narrow with path or pattern]" if len(rels) > MAX_LIST else ""
    return ToolResult(output="\n".join(shown) + note)


class GrepArgs(BaseModel):
    pattern: str = Field(description="Python/ripgrep regular expression")
    path: str = Field(".", description="file or directory to search")
    glob: str | None = Field(None, description="only files whose path matches this glob, e.g. '*.py'")


def grep(args: GrepArgs, ctx: ToolContext) -> ToolResult:
    try:
        regex = re.compile(args.pattern)
    except re.error as exc:
        raise ToolError(f"invalid regular expression {args.pattern!r}: {exc}") from None
    base = ctx.workspace.resolve(args.path)
    files = [base] if base.is_file() else workspace_files(ctx.workspace, base)
    hits: list[str] = []
    for path in files:
        rel = ctx.workspace.rel(path)
        if not _matches(rel, args.glob):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for n, line in enumerate(text.splitlines(), 1):
            if regex.search(line):
                hits.append(f"{rel}:{n}:{line[:300]}")
    if not hits:
        return ToolResult(output="(no matches)")
    note = f"\n[{len(hits) - MAX_MATCHES} more matches; narrow with path or glob]" if len(hits) > MAX_MATCHES else ""
    return ToolResult(output=cap("\n".join(hits[:MAX_MATCHES])) + note)


READ_FILE = Tool("read_file", "Read a text file with line numbers, optionally a line range.",
                 ReadFileArgs, read_file, mutating=False, kind="read")
LIST_FILES = Tool("list_files", "List files (honours .gitignore), optionally filtered by a glob.",
                  ListFilesArgs, list_files, mutating=False, kind="search")
GREP = Tool("grep", "Search file contents with a regular expression; prints path:line:text.",
            GrepArgs, grep, mutating=False, kind="search")
