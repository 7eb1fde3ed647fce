"""grep: ripgrep when it is on PATH, Python's `re` otherwise, with the same results either way.

Both backends search the same file list (list_files' rules, minus binaries and secrets)
and only report which lines match; the lines, their context and the caps are then
computed here once, so the two cannot drift apart.
"""
from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, Field

from wren.tools.base import Tool, ToolContext, ToolResult
from wren.core.errors import ToolError
from wren.tools.files import SNIFF, looks_binary, shown_budget, text_encoding
from wren.core.globs import compile_glob
from wren.tools.listing import workspace_files
from wren.tools.workspace import looks_secret

MAX_MATCHES = 200
MAX_LINE_CHARS = 300
MAX_CONTEXT = 10
RG_BATCH_CHARS = 64_000  # file names per ripgrep call, well under the OS argument limit


class GrepArgs(BaseModel):
    pattern: str = Field(description="regular expression; text that is not a valid regex, or that only "
                                     "matches literally, is searched as plain text")
    literal: bool = Field(False, description="search for the pattern as plain text")
    path: str = Field(".", description="file or directory to search")
    glob: str | None = Field(None, description="only files matching this glob, e.g. '*.py'")
    # Clamped rather than validated: small local models cannot be held to a range by their grammar.
    context: int = Field(0, description=f"lines shown around each match (0-{MAX_CONTEXT})")


@dataclass
class Candidate:
    rel: str
    path: Path
    encoding: str
    lines: list[int] = field(default_factory=list)  # 1-based numbers of matching lines
    regex: re.Pattern | None = None  # what found them: a long line is shown around its match


def candidates(ctx: ToolContext, base: Path, glob: str | None) -> tuple[list[Candidate], list[str]]:
    """Text files to search, and the secret-looking ones left out."""
    keep = compile_glob(glob) if glob else None
    files = [base] if base.is_file() else workspace_files(ctx.workspace, base)
    found, secret = [], []
    for path in files:
        rel = ctx.workspace.rel(path)
        if keep and not keep(rel):
            continue
        if path != base and looks_secret(rel):
            secret.append(rel)
            continue
        try:
            with path.open("rb") as fh:
                head = fh.read(SNIFF)
        except OSError:
            continue
        if not looks_binary(head):
            found.append(Candidate(rel, path, text_encoding(head)))
    return found, secret


def read_lines(c: Candidate) -> list[str]:
    # Split on \n only, as ripgrep does; a trailing \r stays for matching and is dropped for display.
    text = c.path.read_bytes().decode(c.encoding, errors="replace")
    lines = text.split("\n")
    return lines[:-1] if text.endswith("\n") or not text else lines


def python_search(files: list[Candidate], regex: re.Pattern, limit: int) -> None:
    total = 0
    for c in files:
        if total > limit:
            return
        c.lines = [n for n, line in enumerate(read_lines(c), 1) if regex.search(line)][: limit + 1]
        total += len(c.lines)


def _rg_path(data: dict) -> str:
    path = data["path"]
    return path["text"] if "text" in path else os.fsdecode(base64.b64decode(path["bytes"]))


def _rg_batches(files: list[Candidate]):
    batch: list[Candidate] = []
    size = 0
    for c in files:
        if batch and size + len(c.rel) > RG_BATCH_CHARS:
            yield batch
            batch, size = [], 0
        batch.append(c)
        size += len(c.rel) + 1
    if batch:
        yield batch


def rg_search(rg: str, root: Path, files: list[Candidate], pattern: str, limit: int) -> bool:
    """Fill in matching lines with ripgrep; False when ripgrep rejects the pattern (then use Python)."""
    total = 0
    for batch in _rg_batches(files):
        if total > limit:
            return True
        by_rel = {c.rel: c for c in batch}
        cmd = [rg, "--json", "--no-config", "--text", "--line-number", "--max-count", str(limit + 1),
               "-e", pattern, "--", *by_rel]
        try:
            proc = subprocess.run(cmd, cwd=root, capture_output=True, timeout=120)
        except subprocess.TimeoutExpired:
            raise ToolError("grep ran for two minutes without finishing; narrow it with path or glob") from None
        if proc.returncode == 2 and b"regex" in proc.stderr:
            return False
        for raw in proc.stdout.splitlines():
            event = json.loads(raw)
            if event["type"] == "match":
                c = by_rel[_rg_path(event["data"])]
                c.lines.append(event["data"]["line_number"])
        total += sum(len(c.lines) for c in batch)
    return True


def ripgrep() -> str | None:
    return shutil.which("rg")


def _format_file(c: Candidate, context: int, budget: int) -> list[str]:
    lines = read_lines(c)
    shown = sorted({n for m in c.lines for n in range(max(1, m - context), min(len(lines), m + context) + 1)})
    out, prev, used = [], 0, 0
    for n in shown:
        if prev and n != prev + 1:
            out.append("--")
        mark = ":" if n in c.lines else "-"
        text = lines[n - 1].rstrip("\r")
        if len(text) > MAX_LINE_CHARS:
            text = around_match(text, c.regex if n in c.lines else None)
        out.append(f"{c.rel}{mark}{n}{mark}{text}")
        used += len(out[-1]) + 1
        if used > budget:
            break
        prev = n
    return out


def around_match(line: str, regex: re.Pattern | None) -> str:
    """MAX_LINE_CHARS of a long line, from a little before its first match (else from its start),
    with the character range shown: a minified file's match may lie megabytes into its one line."""
    found = regex.search(line) if regex else None
    start = max(0, found.start() - MAX_LINE_CHARS // 4) if found else 0
    end = min(len(line), start + MAX_LINE_CHARS)
    return (f"{'…' if start else ''}{line[start:end]}{'…' if end < len(line) else ''} "
            f"[chars {start + 1}-{end} of {len(line)}]")


def format_hits(files: list[Candidate], context: int, budget: int) -> tuple[list[str], int]:
    """Output lines for the first MAX_MATCHES matches in path order within about `budget` characters, and
    how many matches were shown."""
    out: list[str] = []
    shown = used = 0
    for c in files:
        if not c.lines or shown >= MAX_MATCHES or used > budget:
            continue
        c.lines = c.lines[: MAX_MATCHES - shown]
        block = (["--"] if out and context else []) + _format_file(c, context, budget - used)
        out.extend(block)
        used += sum(len(line) + 1 for line in block)
        shown += sum(1 for line in block if line.startswith(f"{c.rel}:"))
    return out, shown


def search(ctx: ToolContext, files: list[Candidate], pattern: str) -> None:
    """Fill in each candidate's matching lines; raises re.error for a pattern neither backend takes."""
    with warnings.catch_warnings():
        # "Possible set difference" and its kin: Python's notes on patterns it takes as they are, written to
        # the user's stderr mid-run. A pattern that does not match as meant is answered in the reply.
        warnings.simplefilter("ignore", FutureWarning)
        regex = re.compile(pattern)
    for c in files:
        c.regex = regex
    rg = ripgrep()
    if not (rg and rg_search(rg, ctx.workspace.root, files, pattern, MAX_MATCHES)):
        for c in files:
            c.lines = []
        python_search(files, regex, MAX_MATCHES)


def grep(args: GrepArgs, ctx: ToolContext) -> ToolResult:
    base = ctx.workspace.resolve(args.path)
    if not base.exists():
        raise ToolError(f"{args.path} does not exist; use list_files to see what exists")
    files, secret = candidates(ctx, base, args.glob)
    notes = []
    # Models paste code lines as patterns (`return gcd(a % b, b)`): as a regex the parentheses make it
    # miss or fail, so a pattern that is invalid or finds nothing as a regex is searched as plain text.
    why = ""
    if not args.literal:
        try:
            search(ctx, files, args.pattern)
            if not any(c.lines for c in files) and re.escape(args.pattern) != args.pattern:
                why = "as a regular expression it matched nothing"
        except re.error:
            why = "it is not a valid regular expression"
    if args.literal or why:
        for c in files:
            c.lines = []
        search(ctx, files, re.escape(args.pattern))
        if why:
            notes.append(f"[searched for the pattern as plain text: {why}]")
    if not any(c.lines for c in files) and args.pattern.strip():
        # Models guess the case of a name (`exit_codes` for EXIT_CODES): with no match as given, the
        # same search ignoring case, said so (ripgrep's smart case, as a fallback that never hides a match).
        valid = not args.literal and why != "it is not a valid regular expression"
        for searched in dict.fromkeys([args.pattern] * valid + [re.escape(args.pattern)]):
            try:
                search(ctx, files, f"(?i){searched}")
            except re.error:  # the pattern sets its own flags
                continue
            if any(c.lines for c in files):
                break
        if any(c.lines for c in files):
            notes.append("[no line matched with that case; these lines match it ignoring case]")
    total = sum(len(c.lines) for c in files)
    if not total and args.glob:
        # Models guess a glob (`*.wren` for a question about Wren): with nothing found inside it, the
        # same search without it, said so; the glob alone must not make the answer "(no matches)".
        wider = grep(args.model_copy(update={"glob": None}), ctx)
        inside = f"no file matching glob {args.glob!r} holds it" if files else f"no file matches glob {args.glob!r}"
        if not wider.output.startswith("(no matches)"):
            return ToolResult(output=f"[{inside}; these matches are in other files]\n{wider.output}")
        notes.append(f"[{inside}, and no other file does either]")
    if not total and (named := [c.rel for c in files if args.pattern.strip("/") in c.rel][:5]):
        # Models grep for a file's name to find the file.
        notes.append(f"[no line holds the pattern, but these paths do: {', '.join(named)}; read_file one to see it]")
    out, shown = format_hits(files, min(max(args.context, 0), MAX_CONTEXT), shown_budget(ctx))
    if total > MAX_MATCHES:
        notes.append(f"[showing the first {shown} matches of more than {MAX_MATCHES}; "
                     "narrow with path, glob or a more specific pattern]")
    elif shown < total:
        notes.append(f"[showing {shown} of {total} matches; narrow with path, glob or a more specific pattern]")
    if secret:
        notes.append(f"[not searched, as they look like secrets: {', '.join(secret[:5])}; read_file one "
                     "(it asks for approval) if you need it]")
    return ToolResult(output="\n".join((out or ["(no matches)"]) + notes))


GREP = Tool("grep", "Regex search in files; prints path:line:text.",
            GrepArgs, grep, mutating=False, kind="search",
            more_hint="narrow with path, glob or a more specific pattern",
            title_of=lambda args: f"Search for `{args.pattern}`")
