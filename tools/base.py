"""Tool base and registry.

A tool is a name, a pydantic argument model (its JSON schema goes to the model),
a `mutating` flag and a function. Names and arguments are a public contract.
"""
from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Literal, Protocol

from pydantic import BaseModel, Field, ValidationError

from wren.core.events import CommandPreview, FileChange, PlanStep
from wren.core.messages import Image
from wren.core.errors import ToolError
from wren.tools.output import MAX_CHARS, cap
from wren.core.redact import redact
from wren.tools.ports import Commands, DiskFiles, Files, LocalCommands, Progress, no_progress
from wren.tools.sandbox import Sandbox
from wren.core.paths import shown
from wren.tools.workspace import Workspace

if TYPE_CHECKING:
    from wren.core.config import Config

TITLE_CHARS = 120  # a call's title is one line for people (a card, an editor's tool-call header)
# Same vocabulary as ACP's ToolKind, so editors can show the right icon.
ToolKind = Literal["read", "edit", "delete", "move", "search", "execute", "think", "fetch", "other"]


class ToolResult(BaseModel):
    ok: bool = True
    output: str  # what the model sees: capped head and tail when long
    diff: str | None = None
    exit_code: int | None = None
    files_changed: list[str] = Field(default_factory=list)
    plan: list[PlanStep] | None = None
    full_output: str | None = None  # the whole output when `output` was capped; it goes to the session log
    # run_tests: how many tests passed (0 when the run was killed), None when the output was not understood.
    tests_passed: int | None = None
    # run_tests: the first failure in one line, as its summary says it ("`f(2)` returned 1, expected 4"); None
    # when the run passed, was not understood or named no failure.
    first_failure: str | None = None
    images: list[Image] = Field(default_factory=list)  # `output` names each one where it stood


class ContextSteering(Protocol):
    """What the compact, forget and pin tools ask of the session; each returns the text the model
    sees, and raises ToolError when it cannot do what was asked."""

    def compact(self, keep: str) -> str:
        ...

    def forget(self, call_ids: list[str]) -> str:
        ...

    def pin(self, text: str) -> str:
        ...


@dataclass
class ToolContext:
    workspace: Workspace
    interrupt: threading.Event = field(default_factory=threading.Event)
    deadline: float | None = None  # time.monotonic() by which the run must end
    recall: Callable[[str, int], str] | None = None  # search of what compaction moved out of the prompt
    steer: ContextSteering | None = None  # the session's context, for compact, forget and pin
    sandbox: Sandbox = field(default_factory=Sandbox)  # where commands run; the session passes its own
    call_id: str = ""  # the tool call this context serves, so a front end can attach progress to it
    # Ports (tools/ports.py): where file bytes and commands go. The disk and local processes by
    # default; an editor supplies its buffers and terminals.
    files: Files = field(default_factory=DiskFiles)
    commands: Commands = field(default_factory=LocalCommands)
    progress: Progress = no_progress  # reports of the running call; the session emits them as events
    # Workspace-relative paths the model has read (or written) this session; None: not tracked.
    # With `strict_reads` (careful sessions), edit_file and write_file refuse to change an existing
    # file that is not in it: an edit must start from the file's current content, not from a grep
    # line or a guess. Without, overwriting an unread file is said in the result.
    read_paths: set[str] | None = None
    strict_reads: bool = True
    # The session's configuration, read once when it started; None: read the workspace's when needed.
    config: "Config | None" = None
    # Characters a result's output may take (ContextService.result_room: a share of the model's window);
    # None: MAX_CHARS. The smaller of the two applies.
    room: int | None = None

    def output_room(self) -> int:
        """Characters a result's output may take: `room`, at most MAX_CHARS."""
        return min(self.room, MAX_CHARS) if self.room else MAX_CHARS

    def require_read(self, rel: str, verb: str) -> None:
        """ToolError naming the read_file call to make when `rel` has not been read (see read_paths)."""
        if self.read_paths is not None and self.strict_reads and rel not in self.read_paths:
            raise ToolError(f"{rel} has not been read in this session; call read_file with path {rel!r} first, "
                            f"then {verb} it from what it really holds")

    def has_read(self, rel: str) -> bool:
        """Whether the model has read (or written) `rel` this session; True when reads are not tracked."""
        return self.read_paths is None or rel in self.read_paths

    def mark_read(self, rel: str) -> None:
        if self.read_paths is not None:
            self.read_paths.add(rel)

    def time_left(self, wanted: float) -> float:
        if self.deadline is None:
            return wanted
        return max(0.1, min(wanted, self.deadline - time.monotonic()))


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    args: type[BaseModel]
    # Takes an instance of `args` (its own model class, so the parameter is typed Any here).
    func: Callable[[Any, ToolContext], ToolResult]
    mutating: bool = True
    kind: ToolKind = "other"
    # Told to the model when its output is capped: how to get the part that was cut.
    more_hint: str = "the full output is in the session log"
    # A call's one-line title for people ("Edit src/a.py"); None: the tool's name.
    title_of: Callable[[Any], str] | None = None
    # What a call will do, from the workspace as it is now (an edit's diff, a command); None: no preview.
    preview_of: Callable[[Any, ToolContext], FileChange | CommandPreview | None] | None = None

    def title(self, args: BaseModel) -> str:
        """One line of at most TITLE_CHARS that says what the call with these (validated) arguments does:
        whitespace (newlines in a command) collapsed, a long one cut with "…"."""
        title = " ".join((self.title_of(args) if self.title_of else self.name.replace("_", " ").capitalize()).split())
        return title if len(title) <= TITLE_CHARS else title[: TITLE_CHARS - 1] + "…"

    def preview(self, args: BaseModel, ctx: ToolContext) -> FileChange | CommandPreview | None:
        """What the call will do, computed read-only; None for tools whose calls need no preview."""
        return self.preview_of(args, ctx) if self.preview_of else None

    def describe(self, args: BaseModel, ctx: ToolContext) -> dict[str, Any]:
        """The fields a ToolCallEvent or ApprovalRequested carries about a call: title, parsed args, preview.

        A preview that fails is left out (the call itself will say what is wrong)."""
        try:
            preview = self.preview(args, ctx)
        except (ToolError, OSError):
            preview = None
        if isinstance(preview, FileChange):  # file names that are not UTF-8 shown as \xNN, as in results
            preview = preview.model_copy(update={"path": shown(preview.path), "diff": shown(preview.diff)})
        return {"title": self.title(args), "args": args.model_dump(mode="json"), "preview": preview}

    def run(self, args: BaseModel, ctx: ToolContext) -> ToolResult:
        result = self.func(args, ctx)
        # Every tool's output, not only shell's: a file or an MCP result can hold a key too. And file
        # names that are not UTF-8 shown as \xNN, so that the model, the log and JSON can carry them.
        result = result.model_copy(update={"output": redact(shown(result.output)),
                                           "full_output": result.full_output and redact(shown(result.full_output)),
                                           "files_changed": [shown(p) for p in result.files_changed],
                                           "diff": result.diff and shown(result.diff)})
        capped = cap(result.output, ctx.output_room(), self.more_hint)
        if capped == result.output:
            return result
        return result.model_copy(update={"output": capped, "full_output": result.output})

    def schema(self) -> dict:
        params = self.args.model_json_schema()
        params.pop("title", None)
        return {"type": "function",
                "function": {"name": self.name, "description": self.description, "parameters": params}}


class Registry:
    def __init__(self, tools: list[Tool]) -> None:
        self.tools = {t.name: t for t in tools}

    def get(self, name: str) -> Tool:
        tool = self.tools.get(name)
        if tool is None:
            raise ToolError(f"unknown tool {name!r}; available tools: {', '.join(self.tools)}")
        return tool

    def schemas(self) -> list[dict]:
        return [t.schema() for t in self.tools.values()]

    def parse(self, tool: Tool, raw: str) -> BaseModel:
        """`raw` (JSON text) as `tool`'s arguments, read as models write them (see _as_meant); ToolError with
        the expected signature when they are not JSON or do not validate."""
        try:
            data = _as_meant(tool.name, json.loads(raw or "{}"))
        except json.JSONDecodeError as exc:
            data = _closed(tool.name, raw, exc)
            if data is None:
                raise ToolError(f"arguments for {tool.name} are not valid JSON ({exc.msg} at char {exc.pos}); "
                                f"send one JSON object matching {_signature(tool)}") from None
        if not isinstance(data, dict):
            raise ToolError(f"arguments for {tool.name} must be a JSON object matching {_signature(tool)}")
        if _holds_nul(data):
            # No path, pattern or command can hold a NUL byte (the OS refuses it): said here, where it was a
            # crash of the session (ValueError: embedded null byte) in approval or the tool.
            raise ToolError(f"arguments for {tool.name} hold a NUL character (\\u0000), which no path, pattern or "
                            "command can hold; send them without it")
        try:
            return tool.args.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}"
                                 for e in exc.errors())
            raise ToolError(f"invalid arguments for {tool.name}: {problems}; "
                            f"expected {_signature(tool)}") from None

    def prepare(self, name: str, raw_args: str) -> tuple[Tool, BaseModel]:
        """The tool and its validated arguments, or ToolError with a hint for the model."""
        tool = self.get(name)
        return tool, self.parse(tool, raw_args)


def _holds_nul(value: object) -> bool:
    """Whether a JSON value holds a NUL character in any string, keys included."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    return isinstance(value, list) and any(map(_holds_nul, value))


def _as_meant(name: str, data: object) -> object:
    """Arguments wrapped in a whole call of that tool (`{"name": "edit_file", "arguments": {...}}`, the shape
    of Qwen's `<tool_call>` body, written again inside it) as the arguments they wrap; anything else as it is."""
    if isinstance(data, dict) and set(data) == {"name", "arguments"} and data["name"] == name:
        return data["arguments"]
    return data


def _closed(name: str, raw: str, error: json.JSONDecodeError) -> object | None:
    """Arguments whose last string runs into the `}` that close the object (`"new": "return b}}`: the closing
    quote left out, the braces written as the string's end) read with the quote before those braces; None
    where that does not make them JSON. Qwen2.5-Coder-1.5B wrote that 3 times in a row in QuixBugs levenshtein,
    each answered "not valid JSON", which ended the attempt as stuck."""
    closers = re.search(r"\}+\s*$", raw)
    if not error.msg.startswith("Unterminated string") or closers is None:
        return None
    try:
        return _as_meant(name, json.loads(f'{raw[: closers.start()]}"{raw[closers.start():]}'))
    except json.JSONDecodeError:
        return None


def _signature(tool: Tool) -> str:
    fields = tool.args.model_fields
    parts = [name if f.is_required() else f"{name}?" for name, f in fields.items()]
    return f"{tool.name}({', '.join(parts)})"


def default_registry() -> Registry:
    from wren.tools.edit import EDIT_FILE, WRITE_FILE
    from wren.tools.files import LIST_FILES, READ_FILE
    from wren.tools.plan import UPDATE_PLAN
    from wren.tools.code_search import SEARCH_CODE
    from wren.tools.recall import RECALL
    from wren.tools.steer import COMPACT, FORGET, PIN
    from wren.tools.search import GREP
    from wren.tools.shell import SHELL
    from wren.tools.tests import RUN_TESTS

    return Registry([READ_FILE, LIST_FILES, GREP, SEARCH_CODE, EDIT_FILE, WRITE_FILE, SHELL, RUN_TESTS, UPDATE_PLAN,
                     RECALL, COMPACT, FORGET, PIN])
