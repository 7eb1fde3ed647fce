"""Read-only tools: read_file and list_files (grep lives in search.py)."""
from __future__ import annotations

from itertools import islice

from pydantic import BaseModel, Field

from wren.tools.base import Tool, ToolContext, ToolResult
from wren.core.errors import ToolError
from wren.core.globs import compile_glob
from wren.tools.listing import ignored_files, workspace_files
from wren.tools.output import MAX_CHARS

MAX_READ_BYTES = 2_000_000  # larger files are read by range only
MAX_READ_LINES = 2_000
MAX_LINE_CHARS = 2_000
NOTE_ROOM = 1_000  # kept for the notes after a read or a listing, so the generic cap (Tool.run) never cuts it
MAX_LIST = 1_000
SNIFF = 8192


class ReadFileArgs(BaseModel):
    path: str = Field(description="file path relative to the workspace root")
    # Values below 1 mean "from the start" / "to the end": local grammars cannot bound integers.
    start_line: int | None = Field(None, description="first line to show (1-based)")
    end_line: int | None = Field(None, description="last line to show (inclusive)")
    start_char: int | None = Field(None, description="first character to show of each line (1-based), "
                                                     "for lines too long to show whole")


def looks_binary(head: bytes) -> bool:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False  # UTF-16 text has NULs but is text
    if b"\x00" in head:
        return True
    control = sum(1 for b in head if b < 32 and b not in b"\t\n\r\f\b\x1b")
    return bool(head) and control / len(head) > 0.3


def text_encoding(head: bytes) -> str:
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    return "utf-16" if head.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8"


def _piece(line: str, first: int, width: int = MAX_LINE_CHARS) -> str:
    """`width` characters of `line` from character `first` (1-based), saying where it was cut."""
    if first <= 1 and len(line) <= width:
        return line
    if first > len(line):
        return f"[the line has {len(line)} chars; start_char {first} is past its end]"
    end = min(len(line), first - 1 + width)
    more = f"; read_file with start_char={end + 1} for more" if end < len(line) else ""
    return f"{line[first - 1:end]}{'…' if more else ''} [chars {first}-{end} of {len(line)}{more}]"


def shown_budget(ctx: ToolContext) -> int:
    """Characters one read or listing may show: the result's room (ToolContext.output_room) less its notes'."""
    room = ctx.output_room()
    return room - min(NOTE_ROOM, room // 5)


def numbered_lines(lines, start: int, end: int, first_char: int = 1, budget: int = MAX_CHARS - NOTE_ROOM
                   ) -> tuple[list[str], int]:
    """Numbered lines from start to end (each from character `first_char`), within `budget` characters
    (at least one line); returns them and the last line shown."""
    out: list[str] = []
    used, last = 0, start - 1
    for n, line in enumerate(islice(lines, start - 1, end), start):
        line = _piece(line, first_char, max(100, min(MAX_LINE_CHARS, budget - 100)))  # 100: its number, the note
        entry = f"{n:>6}\t{line}"
        if out and used + len(entry) > budget:
            break
        out.append(entry)
        used, last = used + len(entry) + 1, n
    return out, last


def read_file(args: ReadFileArgs, ctx: ToolContext) -> ToolResult:
    path = ctx.workspace.resolve(args.path)
    stat = ctx.files.stat(path)
    if stat.is_dir:  # what the model wants to know is what is in it
        listing = list_files(ListFilesArgs(path=args.path), ctx).output
        return ToolResult(output=f"[{args.path} is a directory; its files are below. read_file one of them]\n"
                                 + listing)
    if not stat.exists:
        raise ToolError(f"{args.path} does not exist; use list_files to see what exists")
    if stat.size > MAX_READ_BYTES and not (args.start_line or args.end_line):
        raise ToolError(f"{args.path} is {stat.size} bytes, too large to read whole; read a range with "
                        "start_line and end_line (grep finds the lines you need)")
    try:
        text: str | None = ctx.files.read(path).text
    except ToolError:  # a NUL in its head: binary
        text = None
    if text is None or looks_binary(text[:SNIFF].encode("utf-8", errors="replace")):
        raise ToolError(f"{args.path} is a binary file ({stat.size} bytes); it cannot be shown as text")
    start = max(args.start_line or 1, 1)
    if args.end_line is not None and args.end_line < 1:
        args = args.model_copy(update={"end_line": None})
    if args.end_line and args.end_line < start:
        raise ToolError(f"end_line {args.end_line} is before start_line {start}")
    lines = text.splitlines()
    total = len(lines)
    if total == 0:
        ctx.mark_read(ctx.workspace.rel(path))
        return ToolResult(output="(empty file)")
    if start > total:
        raise ToolError(f"{args.path} has {total} lines; start_line {start} is past the end")
    wanted = min(args.end_line or total, total)
    shown, last = numbered_lines(iter(lines), start, min(wanted, start + MAX_READ_LINES - 1),
                                 max(args.start_char or 1, 1), shown_budget(ctx))
    ctx.mark_read(ctx.workspace.rel(path))
    more = ""
    if last < wanted:
        more = f"\n[shown lines {start}-{last} of {total}; read_file with start_line={last + 1} for more]"
    return ToolResult(output="\n".join(shown) + more)


class ListFilesArgs(BaseModel):
    path: str = Field(".", description="directory relative to the workspace root")
    pattern: str | None = Field(None, description="glob, e.g. '*.py' or 'src/**/*.ts'")


def list_files(args: ListFilesArgs, ctx: ToolContext) -> ToolResult:
    base = ctx.workspace.resolve(args.path)
    if base.is_file():
        return ToolResult(output=f"{ctx.workspace.rel(base)}\n[a file, not a directory: read_file it to see "
                                 "its content]")
    if not base.is_dir():
        raise ToolError(f"{args.path} does not exist; list_files with path='.' shows what exists")
    keep = compile_glob(args.pattern) if args.pattern else None
    rels = [rel for rel in map(ctx.workspace.rel, workspace_files(ctx.workspace, base)) if not keep or keep(rel)]
    hidden = ""
    if keep is not None:
        # A file .gitignore hides is still the user's (notes, a local config): say it is there.
        ignored = [rel for rel in (ctx.workspace.rel(base / p) for p in ignored_files(base)) if keep(rel)]
        if ignored:
            hidden = (f"\n[also matching, but ignored by .gitignore (so not listed or searched): "
                      f"{', '.join(ignored[:10])}{' ...' if len(ignored) > 10 else ''}]")
    if not rels:
        return ToolResult(output="(no files)" + (f" matching {args.pattern!r}" if args.pattern else "") + hidden)
    shown, used, budget = [], 0, shown_budget(ctx)
    for rel in rels[:MAX_LIST]:
        if used + len(rel) > budget:
            break
        shown.append(rel)
        used += len(rel) + 1
    note = ""
    if len(shown) < len(rels):
        note = f"\n[{len(shown)} of {len(rels)} files shown; narrow with path or pattern]"
    return ToolResult(output="\n".join(shown) + note + hidden)


READ_FILE = Tool("read_file", "Read a text file with line numbers.",
                 ReadFileArgs, read_file, mutating=False, kind="read",
                 more_hint="read_file with start_line and end_line for the rest",
                 title_of=lambda args: f"Read {args.path}")
LIST_FILES = Tool("list_files", "List files (honours .gitignore).",
                  ListFilesArgs, list_files, mutating=False, kind="search",
                  more_hint="narrow with path or pattern",
                  title_of=lambda args: f"List {args.path or '.'}" + (f" ({args.pattern})" if args.pattern else ""))
