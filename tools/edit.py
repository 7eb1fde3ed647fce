"""Mutating file tools: edit_file and write_file, both atomic and both reporting a diff."""
from __future__ import annotations

from pydantic import BaseModel, Field

from wren.tools.base import Tool, ToolContext, ToolResult
from wren.tools.errors import ToolError
from wren.tools.fileio import TextFile, atomic_write, unified_diff
from wren.tools.matching import apply, find


class EditFileArgs(BaseModel):
    path: str = Field(description="file path relative to the workspace root")
    old: str = Field(description="exact text to replace (include enough lines to be unique)")
    new: str = Field(description="replacement text")
    replace_all: bool = Field(False, description="replace every occurrence")


def edit_file(args: EditFileArgs, ctx: ToolContext) -> ToolResult:
    path = ctx.workspace.resolve(args.path, write=True)
    if not path.is_file():
        raise ToolError(f"{args.path} does not exist; use write_file to create it")
    original = TextFile.read(path)
    old, new = args.old.replace("\r\n", "\n"), args.new.replace("\r\n", "\n")
    matches = find(original.text, old, new, args.replace_all)
    updated = apply(original.text, matches)
    atomic_write(path, original.encode(updated))
    rel = ctx.workspace.rel(path)
    how = "" if matches[0].stage == "exact" else " (matched ignoring whitespace; indentation adjusted)"
    diff = unified_diff(rel, original.text, updated)
    return ToolResult(output=f"Edited {rel}: {len(matches)} replacement(s){how}.\n{diff}",
                      diff=diff, files_changed=[rel])


class WriteFileArgs(BaseModel):
    path: str = Field(description="file path relative to the workspace root")
    content: str = Field(description="the complete new content of the file")


def write_file(args: WriteFileArgs, ctx: ToolContext) -> ToolResult:
    path = ctx.workspace.resolve(args.path, write=True)
    if path.is_dir():
        raise ToolError(f"{args.path} is a directory")
    existed = path.exists()
    before = TextFile.read(path) if existed else TextFile("")
    content = args.content.replace("\r\n", "\n")
    atomic_write(path, before.encode(content))
    rel = ctx.workspace.rel(path)
    diff = unified_diff(rel, before.text, content)
    verb = "Wrote" if existed else "Created"
    return ToolResult(output=f"{verb} {rel} ({len(content)} chars).\n{diff}", diff=diff, files_changed=[rel])


EDIT_FILE = Tool("edit_file", "Replace text in a file. `old` must match the file (whitespace differences are "
                 "tolerated); include enough context to be unique.", EditFileArgs, edit_file, kind="edit")
WRITE_FILE = Tool("write_file", "Create or overwrite a file with the given content (atomic).",
                  WriteFileArgs, write_file, kind="edit")
