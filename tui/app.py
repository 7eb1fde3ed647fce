"""The Wren terminal UI: a consumer of the session's event stream that sends ops. No agent logic here."""
from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import replace
from typing import cast

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.message import Message

from wren.agent.approval import MODES, Mode
from wren.core.events import ApprovalRequested, Event, ProposedPlan
from wren.core.log import read_events, sessions_dir
from wren.core.ops import ApprovalDecision, Interrupt, PlanDecision, SetApprovalMode, SetMode, Shutdown, UserInput
from wren.agent.session import Session, SessionConfig
from wren.tui.approval import ApprovalScreen
from wren.tui.commands import SlashCommands
from wren.tui.context_view import ContextScreen
from wren.tui.glance import ContextMeter, PlanPanel, StatusBar
from wren.tui.plan_review import PlanScreen
from wren.tui.present import Presenter
from wren.tui.prompt import CompletionMenu, PromptInput
from wren.tui.sessions import SessionsScreen
from wren.tui.state import ViewState, mode_after
from wren.tui.transcript import Transcript

QUIT_WINDOW_S = 2.0
# Keys that act on the main screen only; on a modal they fall through to it (Esc denies there).
MAIN_SCREEN_ACTIONS = {"escape", "cycle_mode", "open_context"}
PLAN = "plan"  # the mode after the approval modes in the Shift+Tab cycle: explore read-only, propose a plan
CYCLE = (*MODES, PLAN)


class SessionEvent(Message):
    def __init__(self, session: Session, event: Event) -> None:
        super().__init__()
        self.session, self.event = session, event


class SessionClosed(Message):
    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session


class WrenApp(App[int]):
    CSS_PATH = "wren.tcss"
    TITLE = "Wren"
    BINDINGS = [
        Binding("escape", "escape", "interrupt", priority=True, show=False),
        Binding("shift+tab", "cycle_mode", "cycle mode", priority=True, show=False),
        Binding("ctrl+c", "quit_twice", "quit", priority=True, show=False),
        Binding("ctrl+o", "open_context", "context", show=False),
        Binding("ctrl+t", "toggle_theme", "theme", show=False),
    ]

    def __init__(self, cfg: SessionConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.state = ViewState(mode=cfg.policy.mode)
        self.session: Session | None = None
        self._pump: threading.Thread | None = None
        self._approval: ApprovalScreen | None = None
        self._last_ctrl_c = 0.0
        self._stopped: Session | None = None  # the session we shut down on purpose
        self.presenter, self.commands = Presenter(self), SlashCommands(self)

    def compose(self) -> ComposeResult:
        yield Transcript()
        yield PlanPanel(id="plan")
        yield CompletionMenu(id="completions")
        yield PromptInput()
        yield StatusBar(id="status")

    @property
    def transcript(self) -> Transcript:
        return self.query_one(Transcript)

    async def on_mount(self) -> None:
        await self.start_session(self.cfg, replay=True)
        self.query_one(PromptInput).focus()

    # ---- the session -------------------------------------------------------------------
    async def start_session(self, cfg: SessionConfig, replay: bool) -> None:
        self.cfg = cfg
        if replay and cfg.resume_id:
            for event in read_events(sessions_dir(cfg.root.resolve()) / f"{cfg.resume_id}.jsonl"):
                await self.presenter.show(event, live=False)
        self.session = session = Session(cfg)
        # A daemon thread, not a Textual worker: the app must be able to quit while a model call is in flight,
        # and asyncio.run() waits for every executor thread when the loop closes.
        self._pump = threading.Thread(target=self._read_events, args=(session,), daemon=True,
                                      name=f"wren-ui-events-{session.id}")
        self._pump.start()

    @property
    def live(self) -> Session:
        """The session in use: started when the app mounts, before any key or command reaches it."""
        assert self.session is not None, "no session yet"
        return self.session

    def _read_events(self, session: Session) -> None:
        for event in session.events():
            self.post_message(SessionEvent(session, event))
        self.post_message(SessionClosed(session))

    async def stop_session(self, wait_s: float | None = None) -> None:
        """Interrupt what runs and shut the session down; wait (at most wait_s) until its log is closed."""
        if self.session is None:
            return
        self._stopped = self.session
        self.session.submit(Interrupt())
        self.session.submit(Shutdown())
        if self._pump is not None:
            await asyncio.to_thread(self._pump.join, wait_s)

    async def restart(self, cfg: SessionConfig, replay: bool) -> None:
        await self.stop_session()
        if replay:
            await self.transcript.clear()
            self.state = ViewState(mode=cfg.policy.mode)
        await self.start_session(cfg, replay=replay)

    async def on_session_event(self, message: SessionEvent) -> None:
        if message.session is self.session:  # events of a session we left are stale
            await self.presenter.show(message.event, live=True)

    async def on_session_closed(self, message: SessionClosed) -> None:
        if message.session is self.session and message.session is not self._stopped:
            await self.note("the session stopped; its log is in .wren/sessions/. Restart wren to go on", "error")

    # ---- input -------------------------------------------------------------------------
    async def on_prompt_input_submitted(self, message: PromptInput.Submitted) -> None:
        self.query_one(CompletionMenu).display = False
        if message.text.startswith("/"):
            await self.commands.run(message.text)
            return
        if self.state.busy:
            await self.note("queued: it runs when this turn ends")
        self.state.turns_pending += 1
        self.live.submit(UserInput(text=message.text))
        self.refresh_glance()

    def on_text_area_changed(self, event: PromptInput.Changed) -> None:
        self.query_one(PromptInput).choosing = self.query_one(CompletionMenu).show_for(event.text_area.text) > 1

    def on_prompt_input_menu_moved(self, message: PromptInput.MenuMoved) -> None:
        self.query_one(CompletionMenu).move(message.step)

    def on_prompt_input_complete_requested(self, message: PromptInput.CompleteRequested) -> None:
        if name := self.query_one(CompletionMenu).chosen():
            self._complete(name)

    @on(CompletionMenu.OptionSelected, "#completions")
    def complete_from_menu(self, event: CompletionMenu.OptionSelected) -> None:
        self._complete(event.option.id or "")

    def _complete(self, name: str) -> None:
        prompt = self.query_one(PromptInput)
        prompt.text = f"/{name} "
        prompt.move_cursor(prompt.document.end)
        prompt.focus()

    async def note(self, text: str, kind: str = "info") -> None:
        await self.transcript.note(text, kind)

    def refresh_glance(self) -> None:
        self.query_one(StatusBar).show(self.state)
        self.query_one(PlanPanel).show(self.state.plan)

    # ---- approvals ---------------------------------------------------------------------
    def ask_approval(self, event: ApprovalRequested) -> None:
        session = self.live

        def decided(decision: ApprovalDecision | None) -> None:
            self._approval = None
            if decision is not None:
                session.submit(decision)

        self._approval = ApprovalScreen(event)
        self.push_screen(self._approval, decided)

    def review_plan(self, plan: ProposedPlan) -> None:
        """The plan a plan-mode turn proposed: the human edits, approves (in the mode picked then) or rejects it."""
        session = self.live

        def decided(decision: PlanDecision | None) -> None:
            if decision is None:
                return
            if decision.decision == "approve":
                self.state.turns_pending += 1  # the plan runs as a turn
                self.cfg = replace(self.cfg, policy=replace(self.cfg.policy,
                                                            mode=decision.approval or self.cfg.policy.mode))
            session.submit(decision)
            self.refresh_glance()

        self.push_screen(PlanScreen(plan), decided)

    def close_approval(self, call_id: str) -> None:
        """The session resolved the call without the modal (an interrupt): take the modal away."""
        if self._approval is not None and self._approval.event.call_id == call_id and self._approval.is_current:
            self._approval.dismiss(None)

    # ---- keys --------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in MAIN_SCREEN_ACTIONS and len(self.screen_stack) > 1:
            return False
        return True

    async def action_escape(self) -> None:
        menu = self.query_one(CompletionMenu)
        if menu.display:
            menu.display = False
        elif self.state.busy:
            self.live.submit(Interrupt())
            await self.note("interrupting…")

    async def action_cycle_mode(self) -> None:
        await self.set_mode(mode_after(self.state.mode, CYCLE))

    async def set_mode(self, mode: str) -> None:
        """An approval mode (leaving plan mode), or plan mode (the approval mode stays for the plan's turn)."""
        self.live.submit(SetMode(mode="plan" if mode == PLAN else "act"))
        self.state.mode = mode
        if mode == PLAN:
            self.refresh_glance()
            return
        approval = cast(Mode, mode)  # not plan: one of MODES (the cycle and the mode keys offer no other)
        self.live.submit(SetApprovalMode(mode=approval))
        # A session picked later starts in the mode chosen here, without this session's grants.
        self.cfg = replace(self.cfg, policy=replace(self.cfg.policy, mode=approval))
        self.state.mode = mode
        self.refresh_glance()

    def action_open_context(self) -> None:
        self.push_screen(ContextScreen(self.state))

    def on_context_meter_opened(self, message: ContextMeter.Opened) -> None:
        self.action_open_context()

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.current_theme.dark else "textual-dark"

    def pick_session(self) -> None:
        def picked(session_id: str | None) -> None:
            if session_id and session_id != self.live.id:
                self.run_worker(self.restart(replace(self.cfg, resume_id=session_id), replay=True))

        self.push_screen(SessionsScreen(self.cfg.root, self.live.id), picked)

    async def action_quit_twice(self) -> None:
        now = time.monotonic()
        if now - self._last_ctrl_c < QUIT_WINDOW_S:
            await self.action_quit()
            return
        self._last_ctrl_c = now
        self.notify("Press Ctrl+C again to quit", timeout=QUIT_WINDOW_S)

    async def action_quit(self) -> None:
        await self.stop_session(wait_s=2)
        self.exit(0)

    def on_unmount(self) -> None:
        # However the app ends, nothing the session started (a shell command) outlives it.
        if self.session is not None:
            self.session.submit(Interrupt())
            self.session.submit(Shutdown())
