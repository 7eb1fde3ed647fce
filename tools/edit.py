"""Mutating file tools: edit_file and write_file, both atomic and both reporting a unified diff."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field

from wren.tools.base import Tool, ToolContext, ToolResult
from wren.core.errors import ToolError
from wren.core.events import FileChange
from wren.core.fileio import TextFile, unified_diff
from wren.tools.matching import Match, apply, find, followed, line_no
from wren.tools.rescue import (guard_block, if_else_blocks, json_closers, restated_if, run_on_block,
                               run_together, whole_statements)
from wren.tools.syntax import broken_by_edit, syntax_error
from wren.core.redact import PLACEHOLDER, PlaceholderError, restore


def line_prefix(rel: str) -> re.Pattern:
    """What read_file ("    12\tcode") and grep ("REL:12:code", "REL-12-code") put before each line of `rel`."""
    return re.compile(rf"^(?: *\d+\t|{re.escape(rel)}[:-]\d+[:-])")


def strip_line_prefixes(text: str, rel: str) -> tuple[str, bool]:
    """`text` without the line-number prefixes of read_file or grep output for `rel`, when every
    non-empty line has one (models paste tool output as code); (text, whether anything was removed)."""
    prefix = line_prefix(rel)
    lines = text.split("\n")
    filled = [line for line in lines if line.strip()]
    if not filled or not all(prefix.match(line) for line in filled):
        return text, False
    return "\n".join(prefix.sub("", line, count=1) for line in lines), True


def unprefixed(rel: str, **texts: str) -> tuple[dict[str, str], str]:
    """The texts with line-number prefixes stripped, and a note for the model naming what changed."""
    out, fixed = {}, []
    for name, text in texts.items():
        out[name], stripped = strip_line_prefixes(text, rel)
        fixed += [name] * stripped
    note = (f"\n[removed the line-number prefixes copied from read_file or grep output from {' and '.join(fixed)}]"
            if fixed else "")
    return out, note


class EditFileArgs(BaseModel):
    path: str = Field(description="file path relative to the workspace root")
    old: str = Field(description="exact text to replace (include enough lines to be unique)")
    new: str = Field(description="replacement text")
    replace_all: bool = Field(False, description="replace every occurrence")
    line: int | None = Field(None, description="where old occurs more than once: the line the one to replace "
                                               "starts on")


def secrets_back(text: str, source: str) -> str:
    """`text` with the redaction placeholders the model copied put back to the secrets of `source`
    (the file as it is), or a ToolError saying what to do; see redact.restore."""
    try:
        return restore(text, source)
    except PlaceholderError as exc:
        raise ToolError(f"{exc}. Nothing was changed.") from None


def elsewhere(old: str, ctx: ToolContext, rel: str) -> str:
    """A note naming another file read this session that holds `old` exactly, else "".

    Small models copy a line from the file they read last (often the test) into an edit of another
    (Qwen on QuixBugs edited `node.successors = [nodea]`, a line of the test, into the program)."""
    for other in sorted(ctx.read_paths or ()):
        if other == rel or not old.strip():
            continue
        try:
            text = ctx.files.read(ctx.workspace.root / other).text
        except (OSError, ToolError):
            continue
        if (at := text.find(old)) >= 0:
            line = text.count("\n", 0, at) + 1
            return (f"\n[That `old` text is in {other} (line {line}), not in {rel}: copy `old` from {rel} as "
                    f"read_file shows it.]")
    return ""


@dataclass
class _Edit:
    """An edit_file call worked out against the file as it is: where, what, and the notes for the model."""
    path: Path
    rel: str
    original: TextFile
    matches: list[Match]
    updated: str  # the new text, \n newlines
    note: str     # said after "Edited ...": line-number prefixes removed from the arguments, a rescue (WHOLE, IF_ELSE, RUN_ON, GUARD, RESTATED)


WHOLE = (" `old` is a line of a statement that goes over several lines, and `new` is a whole statement: it "
         "replaced all of that statement.")
GUARD = (" `new` is a one-line `if` whose body goes on after its `return` (or `raise`, `break`, `continue`), where "
         "nothing can run: the statements after it were written after the `if`, not inside it.")
RESTATED = (" `new` is a conditional expression over the condition of the `if` around `old`, where one of its arms "
            "could never run: it replaced that whole `if`/`else`.")
RUN_ON = (" `new` ran a statement on after a one-line `if`, with no `;` or line break between, which Python does not "
          "take: the `if` was written as its block and that statement after it.")
RUN_TOGETHER = (" `new` put two statements on one line with no `;` or line break between, which Python does not take: "
                "they were written as two lines.")
CLOSERS = (" `new` ended with `}` that no `{` in it opens (what closes the call's JSON, not code): it was written "
           "without them.")
IF_ELSE = (" `new` put `if ...: ...` with its `elif` or `else` on one line, which Python does not take: it was written "
           "as a block.")


def _rescues(text: str, matches: list[Match], unparseable: bool) -> tuple[tuple[list[Match], str], ...]:
    """The readings of a one-line edit of Python (`matches` in `text`) to try, in order, each with the note that
    says what was done (tools/rescue.py); the caller takes the first that leaves the file sound."""
    if unparseable:
        # `old` given without its indentation (narrowed edits hand lines stripped), and `new`'s later lines
        # written from column 0: re-indented to follow `old`'s line. Or `old` a line of a statement over several
        # and `new` a whole statement: that statement replaced. Or a one-line if/else, a one-line if with a
        # statement run on after it, or two statements run together: written as meant.
        return ((followed(text, matches), ""), (whole_statements(text, matches), WHOLE),
                (if_else_blocks(text, matches), IF_ELSE), (if_else_blocks(text, matches, run_on_block), RUN_ON),
                (if_else_blocks(text, matches, run_together), RUN_TOGETHER),
                (if_else_blocks(text, matches, json_closers), CLOSERS))
    # It parses, but a one-line guard's body goes on after its `return` (leaving the rest's names unbound after
    # it): the rest was meant after the guard. Or a branch of an if/else became a conditional expression over the
    # same condition: the whole if meant.
    return ((if_else_blocks(text, matches, guard_block), GUARD), (restated_if(text, matches), RESTATED))


def _plan_edit(args: EditFileArgs, ctx: ToolContext) -> _Edit:
    """ToolError when the edit cannot apply (no such file, `old` not found or not unique)."""
    path = ctx.workspace.resolve(args.path, write=True)
    stat = ctx.files.stat(path)
    if stat.is_dir:
        raise ToolError(f"{args.path} is a directory; name a file")
    if not stat.exists:
        raise ToolError(f"{args.path} does not exist; use write_file to create it")
    rel = ctx.workspace.rel(path)
    original = ctx.files.read(path)
    texts, note = unprefixed(rel, old=args.old.replace("\r\n", "\n"), new=args.new.replace("\r\n", "\n"))
    old, new = secrets_back(texts["old"], original.text), secrets_back(texts["new"], original.text)
    try:
        matches = find(original.text, old, new, args.replace_all, args.line)
    except ToolError as exc:
        raise ToolError(f"{exc}{elsewhere(old, ctx, rel)}") from None
    updated = apply(original.text, matches)
    broken = broken_by_edit(rel, original.text, updated)
    if "\n" not in old and rel.endswith(".py"):
        for again, why in _rescues(original.text, matches, bool(broken) and syntax_error(rel, updated) is not None):
            if again != matches and not broken_by_edit(rel, original.text, apply(original.text, again)):
                if why == CLOSERS and apply(original.text, again) == original.text:  # `old}}`: `old` meant
                    raise ToolError("`new` without the `}` after its code (which close the call's JSON, not code) "
                                    "is the line as it is, so nothing was changed. If that line is right, the bug "
                                    "is on another line: edit that one.")
                matches, updated, note, broken = again, apply(original.text, again), note + why, ""
                break
    if broken:
        raise ToolError(broken)
    return _Edit(path, rel, original, matches, updated, note)


def edit_file(args: EditFileArgs, ctx: ToolContext) -> ToolResult:
    path = ctx.workspace.resolve(args.path, write=True)
    stat = ctx.files.stat(path)
    if stat.exists and not stat.is_dir:
        ctx.require_read(ctx.workspace.rel(path), "edit")
    edit = _plan_edit(args, ctx)
    original, rel, matches = edit.original, edit.rel, edit.matches
    ctx.files.write(edit.path, original.replaced([(m.start, m.end, m.new) for m in matches]), like=original)
    where = ", ".join(str(line_no(original.text, m.start)) for m in sorted(matches, key=lambda m: m.start))
    how = "" if matches[0].stage == "exact" else " (matched ignoring whitespace; indentation adjusted to the file)"
    diff = unified_diff(rel, original.text, edit.updated)
    ctx.mark_read(rel)
    return ToolResult(output=f"Edited {rel}: {len(matches)} replacement(s) at line {where}{how}.{edit.note}\n{diff}",
                      diff=diff, files_changed=[rel])


def preview_edit(args: EditFileArgs, ctx: ToolContext) -> FileChange:
    """The file change an edit_file call would make now; its `error` says why it would not apply."""
    try:
        edit = _plan_edit(args, ctx)
    except (ToolError, OSError) as exc:
        return FileChange(path=args.path, old_text=args.old, new_text=args.new, error=str(exc))
    return FileChange(path=edit.rel, old_text=edit.original.text, new_text=edit.updated,
                      diff=unified_diff(edit.rel, edit.original.text, edit.updated))


class WriteFileArgs(BaseModel):
    path: str = Field(description="file path relative to the workspace root")
    content: str = Field(description="the complete new content of the file")


def _like(before: TextFile, content: str) -> str:
    """`content` with \n newlines and the final newline (or its absence) of the file it replaces."""
    content = content.replace("\r\n", "\n")
    if content and before.text.endswith("\n") and not content.endswith("\n"):
        return content + "\n"
    if before.text and not before.text.endswith("\n") and content.endswith("\n"):
        return content[:-1]
    return content


def write_file(args: WriteFileArgs, ctx: ToolContext) -> ToolResult:
    path = ctx.workspace.resolve(args.path, write=True)
    stat = ctx.files.stat(path)
    if stat.is_dir:
        raise ToolError(f"{args.path} is a directory; name a file")
    if args.path.rstrip().endswith(("/", "\\")):  # resolve() drops the slash: "newdir/" became a file "newdir"
        raise ToolError(f"{args.path} ends with a slash, so it names a folder; name a file in it, such as "
                        f"{args.path.rstrip().rstrip('/')}/notes.txt (write_file makes the folders it needs)")
    rel = ctx.workspace.rel(path)
    texts, note = unprefixed(rel, content=args.content)
    if PLACEHOLDER.search(texts["content"]):  # read the file only when a placeholder needs it
        texts["content"] = secrets_back(texts["content"], ctx.files.read(path).text if stat.exists else "")
    args = args.model_copy(update=texts)
    unread = ""
    if stat.exists:
        ctx.require_read(rel, "rewrite")
        if not ctx.has_read(rel):
            unread = (f"\n[{rel} existed and had not been read in this session: what it held is the '-' side "
                      "of the diff below, and `wren undo` puts it back]")
    ctx.mark_read(rel)  # whatever happens next, the model knows what it wrote
    if not stat.exists:
        ctx.files.write(path, args.content)
        diff = unified_diff(rel, "", args.content.replace("\r\n", "\n"))
        lines = args.content.count("\n") + (not args.content.endswith("\n") and bool(args.content))
        return ToolResult(output=f"Created {rel} ({lines} lines).{note}", diff=diff, files_changed=[rel])
    before = ctx.files.read(path)
    content = _like(before, args.content)
    kept, had = len(content.splitlines()), len(before.text.splitlines())
    if ctx.read_paths is not None and ctx.strict_reads and had >= 4 and kept < had / 2:
        # Careful mode (see ToolContext.read_paths): small models "rewrite" a program as a placeholder.
        raise ToolError(f"this would cut {rel} from {had} lines to {kept}; to change part of it use edit_file "
                        "(old: the lines as they are now, new: the lines as they should be)")
    if broken := broken_by_edit(rel, before.text, content):
        raise ToolError(broken)
    ctx.files.write(path, content.replace("\n", before.newline), like=before)
    diff = unified_diff(rel, before.text, content)
    return ToolResult(output=f"Wrote {rel} ({len(content)} chars).{note}{unread}\n{diff or '(no change)'}",
                      diff=diff, files_changed=[rel])


def preview_write(args: WriteFileArgs, ctx: ToolContext) -> FileChange:
    """The file change a write_file call would make now (old_text None: it creates the file)."""
    try:
        path = ctx.workspace.resolve(args.path, write=True)
        rel = ctx.workspace.rel(path)
        stat = ctx.files.stat(path)
        if stat.is_dir:
            raise ToolError(f"{args.path} is a directory; name a file")
        before = ctx.files.read(path) if stat.exists else None
    except (ToolError, OSError) as exc:
        return FileChange(path=args.path, old_text=None, new_text=args.content, error=str(exc))
    content = _like(before, args.content) if before else args.content.replace("\r\n", "\n")
    return FileChange(path=rel, old_text=before.text if before else None, new_text=content,
                      diff=unified_diff(rel, before.text if before else "", content))


EDIT_FILE = Tool("edit_file", "Replace text in a file: `old` must match it (whitespace may differ) and be "
                 "unique there.", EditFileArgs, edit_file, kind="edit",
                 more_hint="read_file the changed range to see the rest",
                 title_of=lambda args: f"Edit {args.path}", preview_of=preview_edit)
WRITE_FILE = Tool("write_file", "Create or overwrite a file.",
                  WriteFileArgs, write_file, kind="edit", more_hint="read_file the changed range to see the rest",
                  title_of=lambda args: f"Write {args.path}", preview_of=preview_write)
