"""Events a session emits. Every front end (TUI, headless, ACP) consumes this one stream,
and every event is appended to the session's JSONL log as it happens."""
from __future__ import annotations

import time
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Field, TypeAdapter

from wren.core.messages import Image, ToolCall

Status = Literal["success", "failed", "denied", "limit", "error", "interrupted"]
CompactReason = Literal["auto", "manual", "overflow", "model"]  # what started one; model: its own `compact` call


class _Event(BaseModel):
    ts: float = Field(default_factory=time.time)


class SessionStarted(_Event):
    type: Literal["session_started"] = "session_started"
    session_id: str
    model: str
    cwd: str
    approval: str
    resumed: bool = False


class SessionTitled(_Event):
    """A short title for the session, written by the `fast` role's model after the first turn."""
    type: Literal["session_titled"] = "session_titled"
    title: str
    model: str  # the model that wrote it


class ModelChanged(_Event):
    """The session now runs on `model` (a SetModel op was applied between steps)."""
    type: Literal["model_changed"] = "model_changed"
    model: str
    role: str = "main"  # the model role switched (core/config.py ModelsConfig)
    window: int | None = None  # the new model's context window in tokens; None when unknown


class UserMessage(_Event):
    """The user's text; logged so that --resume can rebuild the conversation."""
    type: Literal["user_message"] = "user_message"
    text: str
    recalled: str = ""  # session memory retrieved for this message and shown to the model with it
    repo_map: str = ""  # the workspace's most relevant definitions, shown with it to models with room
    # "wren": a note Wren sent in the user's place (a fresh attempt, a request to verify); not a directive.
    by: Literal["user", "wren"] = "user"


class AssistantDelta(_Event):
    type: Literal["assistant_delta"] = "assistant_delta"
    text: str


class ThoughtDelta(_Event):
    """Reasoning text a thinking model streams before its reply; shown folded, never fed back."""
    type: Literal["thought_delta"] = "thought_delta"
    text: str


class EffortChanged(_Event):
    """The effort now in force and what it does on this backend (`applied`, e.g. `reasoning_effort=high`);
    `supported` is False where the backend has no such switch (then only Wren's step budget and its
    verification follow the effort)."""
    type: Literal["effort_changed"] = "effort_changed"
    effort: str
    applied: str
    supported: bool = True


class AssistantMessage(_Event):
    type: Literal["assistant_message"] = "assistant_message"
    content: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    # "wren": calls Wren made itself before the model's first step (see agent/orient.py).
    by: Literal["model", "wren"] = "model"


class FileChange(BaseModel):
    """What an edit tool call means to do to one file, computed by the tool from the file as it is.

    `path` is workspace-relative; `old_text` is None for a file the call creates; `diff` is the
    unified diff from old to new ("" for no change). `error` says why the edit would not apply as it
    stands (then old_text and new_text are what the call names, and `diff` is empty)."""
    type: Literal["file_change"] = "file_change"
    path: str
    old_text: str | None
    new_text: str
    diff: str = ""
    error: str = ""


class CommandPreview(BaseModel):
    """The command a tool call means to run: `command` for bash in `cwd`, killed after `timeout_s`."""
    type: Literal["command"] = "command"
    command: str
    cwd: str
    timeout_s: float | None = None


Preview = Annotated[Union[FileChange, CommandPreview], Field(discriminator="type")]


class ToolCallEvent(_Event):
    """A call the model made. `arguments` is its raw text as the model wrote it; `args` the arguments
    as the tool parsed them ({} when they are invalid); `title` and `preview` come from the tool
    (Tool.title, Tool.preview), so front ends render them and never parse arguments themselves."""
    type: Literal["tool_call"] = "tool_call"
    call_id: str
    name: str
    arguments: str
    kind: str = "other"
    title: str = ""
    args: dict[str, Any] = Field(default_factory=dict)
    preview: Preview | None = None


class ApprovalRequested(_Event):
    """The policy asks the user about a call; `title`, `args` and `preview` as on its ToolCallEvent."""
    type: Literal["approval_requested"] = "approval_requested"
    call_id: str
    name: str
    arguments: str
    reason: str
    title: str = ""
    args: dict[str, Any] = Field(default_factory=dict)
    preview: Preview | None = None
    # What "allow always" would remember, in rule syntax (agent/rules.py): a shell command's first
    # words; empty when the call cannot be remembered (a command that cannot be split).
    always: list[str] = Field(default_factory=list)
    summary: str = ""  # what the call does, in one line by the fast model; "" without a fast model


class ToolStarted(_Event):
    """A tool began to run, after any approval."""
    type: Literal["tool_started"] = "tool_started"
    call_id: str


class ToolProgress(_Event):
    """What a running tool reports: a line of `text`, or the editor terminal it runs in (`terminal_id`,
    ACP's terminal/create id), so a front end can show it on the call."""
    type: Literal["tool_progress"] = "tool_progress"
    call_id: str
    text: str = ""
    terminal_id: str | None = None


class ApprovalResolved(_Event):
    type: Literal["approval_resolved"] = "approval_resolved"
    call_id: str
    decision: Literal["allow_once", "allow_always", "deny"]
    message: str = ""
    by: Literal["user", "policy"] = "user"


class ToolResultEvent(_Event):
    type: Literal["tool_result"] = "tool_result"
    call_id: str
    name: str
    ok: bool
    output: str
    diff: str | None = None
    exit_code: int | None = None
    duration_s: float = 0.0
    files_changed: list[str] = Field(default_factory=list)
    full_output: str | None = None  # the uncapped output, when `output` (what the model saw) was cut
    images: list[Image] = Field(default_factory=list)  # images the tool returned (MCP), base64


class PlanStep(BaseModel):
    content: str
    status: Literal["pending", "in_progress", "completed"] = "pending"


class PlanUpdated(_Event):
    type: Literal["plan_updated"] = "plan_updated"
    steps: list[PlanStep]


class ProposedPlan(BaseModel):
    """What a plan-mode turn ends with: the `update_plan` steps, the files it means to change, how it
    will verify, and the model's own text. Also the file `wren run --plan-file` reads."""
    steps: list[PlanStep] = Field(default_factory=list)
    files: list[str] = Field(default_factory=list)
    verify: str = ""
    text: str = ""
    # The user's request the plan answers: `--plan-file` starts a session that has not seen it ("" in plan
    # files written before it was kept, and in a plan edited as text, which keeps the proposed plan's).
    request: str = ""


class PlanProposed(_Event):
    """A plan-mode turn ended with `plan`; nothing changed. A PlanDecision op answers it."""
    type: Literal["plan_proposed"] = "plan_proposed"
    plan: ProposedPlan


class PlanResolved(_Event):
    """The human approved (possibly edited: `plan` is what runs) or rejected the proposed plan."""
    type: Literal["plan_resolved"] = "plan_resolved"
    decision: Literal["approve", "reject"]
    plan: ProposedPlan | None = None
    approval: str | None = None


class EvictedItem(BaseModel):
    role: str
    name: str | None = None
    chars: int
    preview: str


class ContextCompacted(_Event):
    """Enough to replay the compaction on resume: drop `evicted` leading messages, add `summary`."""
    type: Literal["context_compacted"] = "context_compacted"
    tokens_before: int
    tokens_after: int
    summary: str
    evicted: int
    reason: CompactReason = "auto"
    number: int = 1
    items: list[EvictedItem] = Field(default_factory=list)
    # What session memory searches with: "hybrid (NAME + BM25)" or "lexical (BM25)", and why, when lexical.
    retrieval: str = ""
    summary_model: str = ""  # the model that wrote the summary (the `fast` role's when one is set)


class AttemptRestarted(_Event):
    """Careful sessions: the turn starts a fresh attempt (see agent/attempts.py). The files are back as
    at the turn's start, or as at checkpoint `files_from` when an earlier attempt's change made more tests
    pass (Attempt.best), and the last `dropped` messages left the working context (not the log)."""
    type: Literal["attempt_restarted"] = "attempt_restarted"
    number: int  # the attempt that starts now: 2, 3, ...
    dropped: int
    reason: str  # why the last attempt ended
    files_from: int | None = None  # the checkpoint (`wren undo N`'s number) its files are; None: the turn's start


class ContextForgotten(_Event):
    """The model's `forget`: these calls' results left the prompt for session memory, each replaced by a
    one-line stub naming its call id (which `recall` takes)."""
    type: Literal["context_forgotten"] = "context_forgotten"
    call_ids: list[str]
    items: list[EvictedItem] = Field(default_factory=list)


class ContextPinned(_Event):
    """The model's `pin`: `text` is kept verbatim in every prompt from now on."""
    type: Literal["context_pinned"] = "context_pinned"
    text: str


class CompactionUndone(_Event):
    """The latest context change (`what`: a compaction, a forget or a pin) was undone."""
    type: Literal["compaction_undone"] = "compaction_undone"
    number: int
    restored: int  # messages put back into the prompt (results, for a forget; 0 for a pin)
    what: Literal["compaction", "forget", "pin"] = "compaction"


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0

    def __add__(self, other: "Usage") -> "Usage":
        return Usage(prompt_tokens=self.prompt_tokens + other.prompt_tokens,
                     completion_tokens=self.completion_tokens + other.completion_tokens,
                     cached_tokens=self.cached_tokens + other.cached_tokens,
                     cost_usd=self.cost_usd + other.cost_usd)


class UsageEvent(_Event):
    type: Literal["usage"] = "usage"
    step: Usage
    total: Usage
    window: int | None = None


class ErrorInfo(BaseModel):
    kind: str
    message: str


class ErrorEvent(_Event):
    type: Literal["error"] = "error"
    kind: str  # "internal" for a bug in Wren itself; then `detail` holds the traceback
    message: str
    fatal: bool = True
    detail: str = ""


class TurnEnded(_Event):
    type: Literal["turn_ended"] = "turn_ended"
    status: Status
    reason: str = ""


class Result(_Event):
    type: Literal["result"] = "result"
    session_id: str | None  # None when the run failed before a session existed (bad flags or config)
    status: Status
    exit_code: int
    summary: str
    steps: int
    usage: Usage
    files_changed: list[str]
    duration_s: float
    error: ErrorInfo | None = None
    tests_changed: list[str] = Field(default_factory=list)  # of files_changed, those that look like tests
    diff: str | None = None  # unified diff of the files changed, with `wren run --include-diff`
    # `usage` split by the model role that spent it (main, plan, edit), plus `fast` (compaction summaries).
    usage_by_role: dict[str, Usage] = Field(default_factory=dict)
    plan: ProposedPlan | None = None  # what a plan-mode turn proposes (`wren run --plan`)


Event = Annotated[Union[
    SessionStarted, SessionTitled, ModelChanged, UserMessage, AssistantDelta, ThoughtDelta, EffortChanged,
    AssistantMessage, ToolCallEvent, ApprovalRequested, ToolStarted, ToolProgress, ApprovalResolved, ToolResultEvent,
    PlanUpdated, PlanProposed, PlanResolved, ContextCompacted, CompactionUndone, ContextForgotten, ContextPinned,
    AttemptRestarted,
    UsageEvent, ErrorEvent, TurnEnded, Result,
], Field(discriminator="type")]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
