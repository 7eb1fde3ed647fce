"""A session: ops in, events out. The loop runs in a worker thread; every event is logged."""
from __future__ import annotations

import queue
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from wren.agent.approval import Policy
from wren.core.errors import ExitCode, StreamStopped, WrenError
from wren.core.events import (CompactionUndone, CompactReason, ErrorEvent, ErrorInfo, Event,
                               PlanProposed, ProposedPlan, Result, SessionStarted, SessionTitled, ToolCallEvent,
                               TurnEnded, Usage, UserMessage)
from wren.core.config import Config, ContextConfig, ModelsConfig, Role, SandboxConfig, load_config
from wren.agent.limits import LimitState, Limits
from wren.agent.directives import keeps_tests
from wren.core.log import SessionLog, new_session_id, read_events, sessions_dir
from wren.agent.loop import TurnOutcome, run_turn
from wren.core.messages import Message
from wren.agent.models import BackendFactory, backend_factory
from wren.core.backend import ModelBackend, ToolChoice
from wren.core.ops import (Compact, Interrupt, Op, PlanDecision, SetApprovalMode, SetEffort, SetMode, SetModel,
                            Shutdown, UndoCompaction, UserInput)
from wren.agent import careful as careful_mode
from wren.agent import effort as effort_mode
from wren.agent import switches
from wren.agent import plan as plan_mode
from wren.agent.plan import PLAN_INSTRUCTIONS, parse_plan
from wren.agent.roles import Roles
from wren.agent.attempts import Attempt
from wren.agent.baseline import TestBaseline
from wren.agent.prompt import system_prompt
from wren.context.manager import close_dangling_calls, user_content
from wren.context.service import ContextService
from wren.tools.base import Registry
from wren.tools.checkpoints import CheckpointError, Checkpointer
from wren.tools.ports import Commands, DiskFiles, Files, LocalCommands
from wren.core.redact import redact_data
from wren.tools.sandbox import Sandbox
from wren.tools.tests import is_test_path
from wren.core.paths import shown, state_dir
from wren.tools.workspace import Workspace

if TYPE_CHECKING:
    from wren.tools.mcp import McpHost

EXIT_CODES = {"success": ExitCode.FINISHED, "failed": ExitCode.NOT_FINISHED, "denied": ExitCode.DENIED,
              "limit": ExitCode.LIMIT, "interrupted": ExitCode.INTERRUPTED}


@dataclass
class SessionConfig:
    root: Path
    backend: ModelBackend
    registry: Registry
    policy: Policy = field(default_factory=Policy)
    limits: Limits = field(default_factory=Limits)
    interactive: bool = False  # headless sessions never wait: what would ask is denied
    resume_id: str | None = None
    context: ContextConfig = field(default_factory=ContextConfig)
    # MCP servers whose tools are in the registry; their owner stops them, since a UI restarts
    # sessions with the same servers.
    mcp: "McpHost | None" = None
    sandbox: SandboxConfig = field(default_factory=SandboxConfig)
    # Resolves the model a SetModel op names; None: with the workspace's config. An editor server
    # passes its cache, so sessions on one local model share its weights.
    models: BackendFactory | None = None
    # The working method enforced: edits only to files read this session, and a final answer after
    # untested changes sent back once to run the tests. None: as the backend prefers (local models
    # are careful: a small model otherwise edits from a grep line and answers "fixed" untested).
    careful: bool | None = None
    # The configuration read at the start (a front end passes what it read); tools use this snapshot and
    # never re-read wren.toml, so a file the model writes cannot change what an allowed tool runs.
    config: Config | None = None
    # The tools' ports (tools/ports.py): the disk and local processes, unless an editor supplies its own.
    files: Files = field(default_factory=DiskFiles)
    commands: Commands = field(default_factory=LocalCommands)
    # How hard the models think (agent/effort.py); None: the config's `effort`, else the provider's default.
    effort: str | None = None
    # "plan": turns explore read-only and end with a proposed plan (agent/plan.py); "act": ordinary turns.
    mode: str = "act"


def _read_config(root: Path) -> Config | None:
    """The workspace's config, or None when it cannot be read (run_tests then says why when it needs it)."""
    try:
        return load_config(root)
    except WrenError:
        return None


class Session:
    def __init__(self, cfg: SessionConfig) -> None:
        self.cfg, self.backend, self.registry = cfg, cfg.backend, cfg.registry
        self.policy = cfg.policy.for_session()  # grants made in this session stay in it
        self.config = cfg.config if cfg.config is not None else _read_config(cfg.root)
        self._models = cfg.models or backend_factory(cfg.root)
        self.workspace = Workspace(cfg.root)
        self.id = cfg.resume_id or new_session_id()
        state_dir(self.workspace.root)
        log_path = sessions_dir(self.workspace.root) / f"{self.id}.jsonl"
        past = read_events(log_path) if cfg.resume_id else []
        self.log = SessionLog(log_path)
        self.context = ContextService(self.workspace.root, self.id, system_prompt(self.workspace.root),
                                      self.backend, cfg.context, self.warn)
        self.context.replay(past)
        # Call ids already used in this session: a resumed session's backend numbers its calls from the
        # start again, and forget and recall name results by id (see unique_call_ids).
        self._call_ids = {e.call_id for e in past if isinstance(e, ToolCallEvent)}
        self.roles = Roles(cfg.backend, self.config.models if self.config else ModelsConfig(), self._models, self.warn)
        self.role: Role = "main"  # the role whose model runs the turn now
        self.context.summarizer = self.roles.summarizer()
        self.effort = cfg.effort or (self.config.effort if self.config else None)
        self.mode = cfg.mode
        self._titled = any(isinstance(e, SessionTitled) for e in past)
        self.proposed: ProposedPlan | None = None  # the plan a PlanDecision would answer
        self.checkpoints = Checkpointer(self.workspace.root, self.id)
        self.limits = LimitState(cfg.limits)
        # Consulted by the policy and the command tools; says once when commands cannot be sandboxed.
        self.sandbox = self.policy.sandbox = Sandbox(cfg.sandbox, self.warn)
        self.policy.root = self.workspace.root
        self.usage = Usage()
        self.interrupt = threading.Event()
        self.terminated = False  # the interrupt came from a SIGTERM (Interrupt.terminated)
        self._ops: queue.Queue[Op] = queue.Queue()
        self._pending: deque[Op] = deque()
        self._events: queue.Queue[Event | None] = queue.Queue()  # None: the worker has ended
        self._reset_attempt()  # what a turn changed and tested
        self.wrapped_up = False  # see careful.wrap_up
        # The next step's tool_choice: "auto"; "none" (careful.wrap_up: answer only); or edit_file, by name or
        # as a narrowed schema (careful.edit_first). Backends take it as ModelBackend.complete's tool_choice.
        self.tool_choice: ToolChoice = "auto"
        self._read_paths: set[str] = set()  # see ToolContext.read_paths
        self._batch_checkpoint: int | None = None
        self.attempt = Attempt()  # careful sessions: see agent/attempts.py
        self._turn_text = ""
        self.tried_changes: dict[tuple[str, str, str], str] = {}  # this turn's failed edits: see call_checks.check_tried
        self.keep_tests = False  # see agent/directives.py
        self._thread = threading.Thread(target=self._work, name=f"wren-session-{self.id}", daemon=True)
        self.emit(SessionStarted(session_id=self.id, model=self.backend.name, cwd=str(self.workspace.root),
                                 approval=self.policy.mode, resumed=bool(cfg.resume_id)))
        if cfg.mcp is not None:
            cfg.mcp.attach(self.warn)
        if self.effort:
            self.emit(effort_mode.changed(self.backend, self.effort, self.cfg.limits))
        self._thread.start()

    # ---- ops in, events out -------------------------------------------------------------
    def submit(self, op: Op) -> None:
        if isinstance(op, Interrupt):
            self.terminated = self.terminated or op.terminated
            self.interrupt.set()  # seen at once by the loop and by running tools
        elif isinstance(op, SetApprovalMode):
            self.policy.mode = op.mode  # the user's choice; tools can never send this op
            return
        self._ops.put(op)

    def events(self) -> Iterator[Event]:
        while True:
            try:
                # A timeout, not a plain get(): Python runs a signal's handler (Ctrl+C, SIGTERM) only when
                # the main thread runs bytecode, and a signal that lands on another thread does not wake a
                # main thread blocked in a lock. Waking twice a second bounds the wait.
                event = self._events.get(timeout=0.5)
            except queue.Empty:
                continue
            if event is None:  # the worker has ended
                return
            yield event

    def emit(self, event: Event) -> None:
        # One seam for the log, stream-json, the TUI and editors: none of them ever sees a secret.
        event = type(event).model_validate(redact_data(event.model_dump()))
        self.log.append(event)
        self._events.put(event)

    def warn(self, message: str) -> None:
        self.emit(ErrorEvent(kind="warning", message=message, fatal=False))

    def record(self, message: Message, event: Event) -> None:
        self.context.manager.add(message)
        self.emit(event)

    def offered_tools(self) -> list[dict[str, Any]]:
        """Schemas of the tools the model can use now. A headless run offers nothing the policy would
        refuse or ask about: a model (a small one above all) wastes no steps on calls that cannot run."""
        offered = []
        for tool in self.registry.tools.values():
            if tool.name == "recall" and not (self.context.compactions or self.context.manager.forgotten):
                continue  # nothing to recall yet: one tool fewer to misuse, and a shorter prompt
            if tool.name in getattr(self.backend, "unused_tools", ()):
                continue
            verdict, _ = self.policy.decide(tool)
            # A headless run still offers a tool that allow rules let some calls of run (`shell(pytest*)`).
            if verdict == "allow" or (verdict == "ask"
                                      and (self.cfg.interactive or self.policy.rules.names(tool.name))):
                offered.append(tool.schema())
        return offered

    def make_room(self, reason: CompactReason = "auto", in_turn: bool = True) -> None:
        """Before a model call: compact when needed (or asked); fatal when nothing can make it fit.

        An interrupt (and in a turn, the time limit) cuts the summary: StreamStopped, context unchanged.
        """
        tools = self.offered_tools()
        stop = self.check_stop if in_turn else self._check_interrupt
        if reason != "auto":
            events = [self.context.compact(tools, reason, stop)]
        else:
            events = self.context.ensure_room(tools, stop, self.attempt.working_set(self.context.compactions))
        for event in events:
            self.attempt.evicted(event.evicted, event.number)
            self.emit(event)

    def check_stop(self, text: str = "") -> None:
        """An OnDelta heartbeat for a model call in a turn: StreamStopped when the user interrupted
        or the turn's time limit has passed."""
        self._check_interrupt(text)
        if (why := self.limits.exceeded()) and why.startswith("time limit"):
            raise StreamStopped("limit", why)

    def _check_interrupt(self, text: str = "") -> None:
        if self.interrupt.is_set():
            raise StreamStopped("interrupted", "interrupted by the user")

    # ---- the worker ---------------------------------------------------------------------
    def _next_op(self) -> Op:
        return self._pending.popleft() if self._pending else self._ops.get()

    def _work(self) -> None:
        try:
            while not isinstance(op := self._next_op(), Shutdown):
                try:
                    self._handle(op)
                except Exception as exc:  # noqa: BLE001 - a bug in Wren must not end the session unseen
                    self._internal_error(exc, fatal=False)
        finally:
            self.log.close()
            self._events.put(None)

    def _handle(self, op: Op) -> None:
        if isinstance(op, UserInput):
            self._turn(op.text)
        elif isinstance(op, Compact):
            self._compact_between_turns()
        elif isinstance(op, UndoCompaction):
            self._undo_compaction()
        elif isinstance(op, (SetModel, SetEffort)):
            switches.apply(self, op)
        elif isinstance(op, SetMode):
            self.mode = op.mode
        elif isinstance(op, PlanDecision):
            plan_mode.decide(self, op)
        elif isinstance(op, Interrupt):
            self.interrupt.clear()  # nothing was running

    def _internal_error(self, exc: Exception, fatal: bool) -> ErrorInfo:
        """Report a bug in Wren (not a model or config error) as an `internal` error event with its traceback."""
        close_dangling_calls(self.context.manager)  # the next prompt must still be valid for the provider
        message = f"internal error in Wren ({type(exc).__name__}: {exc}); the session log has the traceback"
        detail = "".join(traceback.format_exception(exc))
        self.emit(ErrorEvent(kind="internal", message=message, fatal=fatal, detail=detail))
        return ErrorInfo(kind="internal", message=message)

    def _compact_between_turns(self) -> None:
        try:
            self.make_room("manual", in_turn=False)
        except WrenError as exc:
            self.emit(ErrorEvent(kind=exc.kind, message=exc.message, fatal=False))
        except StreamStopped:
            self.interrupt.clear()
            self.emit(ErrorEvent(kind="interrupted", message="compaction interrupted; the context is as it was",
                                 fatal=False))

    def _undo_compaction(self) -> None:
        """Undo the newest context change: a compaction, a forget or a pin."""
        number = self.context.compactions
        undone = self.context.manager.undo_change()
        if undone is None:
            self.emit(ErrorEvent(kind="undo", message="there is no compaction, forget or pin to undo", fatal=False))
            return
        what, restored = undone
        self.context.compactions -= what == "compaction"
        self.emit(CompactionUndone(number=number, restored=restored, what=what))

    def _turn(self, text: str, role: Role = "main") -> None:
        """One turn on `role`'s model; in plan mode on the plan model, read-only, ending with a plan."""
        planning = self.mode == "plan"
        mode, role = self.policy.mode, "plan" if planning else role
        self.interrupt.clear()
        started = time.monotonic()
        switches.use_role(self, role)
        if planning:
            self.policy.mode = "read-only"  # nothing changes and no command runs before approval
        limits = self.cfg.limits if effort_mode.applies(self) else effort_mode.turn_limits(self.cfg.limits, self.effort)
        self.limits = LimitState(limits)  # limits apply per turn
        self._reset_attempt()
        self.wrapped_up, self.tool_choice = False, "auto"
        self._turn_text = text
        self.keep_tests = self.keep_tests or keeps_tests(text)  # the user's word stands for the session
        self.tried_changes = {}
        # Every status run_turn returns has its code in EXIT_CODES; the handlers below set the rest.
        error: ErrorInfo | None = None
        code: int = ExitCode.NOT_FINISHED
        plan: ProposedPlan | None = None
        try:
            recalled, repo_map = self.context.auto_recall(text), self.context.repo_map(text)
            told = text + PLAN_INSTRUCTIONS if planning else text
            self.record(Message(role="user", content=user_content(told, recalled, repo_map)),
                        UserMessage(text=text, recalled=recalled, repo_map=repo_map))
            self.context.manager.add_directive(text)
            self.attempt = Attempt(start=len(self.context.manager.messages), compactions=self.context.compactions)
            careful_mode.orient(self, text)
            outcome = run_turn(self)
        except WrenError as exc:
            error, code = ErrorInfo(kind=exc.kind, message=exc.message), exc.exit_code
            self.emit(ErrorEvent(kind=exc.kind, message=exc.message))
            outcome = TurnOutcome("error", summary=exc.message, reason=exc.message)
        except Exception as exc:  # noqa: BLE001 - even a bug ends the turn with a result
            error, code = self._internal_error(exc, fatal=True), ExitCode.NOT_FINISHED
            outcome = TurnOutcome("error", summary=error.message, reason=error.message)
        finally:
            if planning:
                self.policy.mode = mode
            switches.use_role(self, "main")
        if planning and outcome.status == "denied":
            # What a plan turn tried to change was refused, as plan mode promises; its plan stands.
            outcome = TurnOutcome("success", summary=outcome.summary)
        if planning and outcome.status == "success":
            plan = parse_plan(outcome.summary, list(self.context.manager.plan or []), request=text)
            if not plan.steps and not plan.text:  # nothing to approve, and --plan-file would refuse it
                outcome, plan = TurnOutcome("failed", reason="the plan turn ended without a plan "
                                                             "(no steps and no text)"), None
        code = EXIT_CODES.get(outcome.status, code)
        if outcome.status == "interrupted" and self.terminated:
            outcome = TurnOutcome("interrupted", summary=outcome.summary, reason="terminated (SIGTERM)")
            code = ExitCode.TERMINATED
        self.emit(TurnEnded(status=outcome.status, reason=outcome.reason))
        if plan is not None:
            self.proposed = plan
            self.emit(PlanProposed(plan=plan))
        switches.title(self, text)
        changed = self._changed_this_turn()
        self.emit(Result(session_id=self.id, status=outcome.status, exit_code=code,
                         summary=outcome.summary or outcome.reason, steps=self.limits.steps,
                         usage=self.usage, files_changed=changed,
                         tests_changed=[path for path in changed if is_test_path(path)],
                         duration_s=round(time.monotonic() - started, 3), error=error,
                         usage_by_role=dict(self.roles.usage), plan=plan))

    def _changed_this_turn(self) -> list[str]:
        """The files the edit tools reported, then any other file that differs from the turn's first
        checkpoint: shell commands and MCP tools change files without saying which."""
        changed = list(self._files_changed)
        if self.attempt.checkpoint is not None:
            try:
                found = map(shown, self.checkpoints.changed_since(self.attempt.checkpoint))
                changed += [p for p in found if p not in changed]
            except CheckpointError as exc:
                self.warn(f"cannot list the files this turn changed beyond the edit tools' own reports: {exc}")
        return changed

    def _reset_attempt(self) -> None:
        """State of one attempt at the turn (see agent/attempts.py): what it changed and tested."""
        self._files_changed: list[str] = []
        self._unverified: list[str] = []  # files changed since the tests last passed
        self._verify_asks = 0
        self._tests_failed = False  # how the last run_tests ended
        self._edits_failed = 0  # edit-kind calls that failed
        self._changed_since_tests = False
        self.baseline = TestBaseline()  # careful sessions: see agent/baseline.py

    @property
    def careful(self) -> bool:
        """See SessionConfig.careful; follows the backend after a model switch."""
        return self.cfg.careful if self.cfg.careful is not None else getattr(self.backend, "careful", False)

    def changed_and_failing(self) -> str:
        """The files this turn changed, when its last run_tests, after the last change, failed; else ""."""
        failing = self._tests_failed and self._files_changed and not self._changed_since_tests
        return ", ".join(self._files_changed[:5]) if failing else ""
