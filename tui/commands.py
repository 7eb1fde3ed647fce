"""Slash commands: the table (for /help and completion) and what each one does through the app."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from wren.agent.approval import MODES
from wren.core.config import EFFORTS, ROLES
from wren.core.ops import Compact, SetEffort, SetModel, UndoCompaction

if TYPE_CHECKING:
    from wren.tui.app import WrenApp


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    help: str


COMMANDS = [
    Command("help", "/help", "keys and commands"),
    Command("compact", "/compact", "compact the context now"),
    Command("uncompact", "/uncompact", "undo the last compaction, forget or pin"),
    Command("context", "/context", "pinned state, compactions and evicted items (Ctrl+O)"),
    Command("undo", "/undo [N]", "restore the files changed by the last N steps (default: the last)"),
    Command("model", "/model [ROLE] [NAME]", "show the model, or go on with this session (or one role: "
                                             f"{', '.join(ROLES)}) on another one"),
    Command("mode", "/mode [MODE]", f"show or set the mode ({', '.join(MODES)}, or plan)"),
    Command("effort", "/effort [LEVEL]", f"show or set how hard the model thinks ({', '.join(EFFORTS)})"),
    Command("clear", "/clear", "clear the screen; the session keeps its history"),
    Command("sessions", "/sessions", "pick a saved session and resume it"),
    Command("index", "/index", "build or update the code index that search_code uses"),
]

KEYS = [("Enter", "send"), ("Ctrl+J", "new line"), ("Up/Down", "history"), ("Tab", "complete a command"),
        ("Esc", "interrupt the turn"), ("Shift+Tab", "cycle the approval mode, then plan mode"),
        ("Ctrl+O", "context view"),
        ("Ctrl+T", "light or dark theme"), ("Ctrl+C twice", "quit")]


def completions(text: str) -> list[Command]:
    """Commands that `text` (a slash and the start of a name) could become."""
    if not text.startswith("/") or " " in text or "\n" in text:
        return []
    return [c for c in COMMANDS if c.name.startswith(text[1:])]


def help_text() -> str:
    width = max(len(c.usage) for c in COMMANDS)
    lines = ["Commands:"] + [f"  {c.usage:<{width}}  {c.help}" for c in COMMANDS]
    lines += ["Keys:"] + [f"  {key:<{width}}  {what}" for key, what in KEYS]
    return "\n".join(lines)


class SlashCommands:
    def __init__(self, app: "WrenApp") -> None:
        self.app = app

    async def run(self, text: str) -> None:
        name, _, arg = text[1:].strip().partition(" ")
        handler = getattr(self, f"cmd_{name}", None) if name in {c.name for c in COMMANDS} else None
        if handler is None:
            await self.app.note(f"unknown command /{name}; /help lists the commands", "warning")
            return
        await handler(arg.strip())

    async def _idle(self, what: str) -> bool:
        if self.app.state.busy:
            await self.app.note(f"{what} waits for the turn to end; Esc interrupts it", "warning")
        return not self.app.state.busy

    async def cmd_help(self, arg: str) -> None:
        await self.app.note(help_text())

    async def cmd_compact(self, arg: str) -> None:
        self.app.live.submit(Compact())
        await self.app.note("compaction requested; /context shows its summary once the session reports it")

    async def cmd_uncompact(self, arg: str) -> None:
        if await self._idle("/uncompact"):
            self.app.live.submit(UndoCompaction())

    async def cmd_context(self, arg: str) -> None:
        self.app.action_open_context()

    async def cmd_mode(self, arg: str) -> None:
        if not arg:
            await self.app.note(f"approval mode: {self.app.state.mode} (one of {', '.join(MODES)}; Shift+Tab cycles)")
        elif arg not in (*MODES, "plan"):
            await self.app.note(f"unknown mode {arg!r}; use one of {', '.join(MODES)} or plan", "warning")
        else:
            await self.app.set_mode(arg)

    async def cmd_clear(self, arg: str) -> None:
        await self.app.transcript.clear()
        await self.app.note("screen cleared; the session keeps its history (/compact shrinks the context)")

    async def cmd_index(self, arg: str) -> None:
        from wren.context.shared_index import workspace_index

        root = self.app.live.workspace.root
        await self.app.note("/index: indexing the workspace ...")
        warnings: list[str] = []
        stats = await asyncio.to_thread(lambda: workspace_index(root, warnings.append).update())
        for warning in warnings:
            await self.app.note(warning, "warning")
        await self.app.note(f"/index: {stats.files} files, {stats.changed} changed, {stats.removed} removed, "
                            f"{stats.chunks} chunks written, {stats.embedded} embedded in {stats.seconds:.1f}s")

    async def cmd_undo(self, arg: str) -> None:
        if not await self._idle("/undo"):
            return
        if arg and not arg.isdigit():
            await self.app.note("usage: /undo [N]: the last change, or back to checkpoint N (`wren undo --list`)", "warning")
            return
        try:
            from wren.tools.checkpoints import undo
        except ImportError:
            await self.app.note("undo is not available in this build", "warning")
            return
        session = self.app.live
        try:
            report = await asyncio.to_thread(undo, session.workspace.root, session.id, n=int(arg) if arg else None)
        except Exception as exc:  # whatever the checkpoint store raises, the user must see it
            await self.app.note(f"undo failed: {exc}", "error")
            return
        await self.app.note(f"undo: {report.text()}")

    async def cmd_effort(self, arg: str) -> None:
        if not arg:
            await self.app.note(f"effort: {self.app.live.effort or 'the provider default'} (one of "
                                f"{', '.join(EFFORTS)})")
        elif arg not in EFFORTS:
            await self.app.note(f"unknown effort {arg!r}; use one of {', '.join(EFFORTS)}", "warning")
        else:
            # Applied by the session between steps; it answers with effort_changed, saying what it does here.
            self.app.live.submit(SetEffort(effort=arg))

    async def cmd_model(self, arg: str) -> None:
        if not arg:
            roles = self.app.live.roles
            others = ", ".join(f"{role} {roles.names[role]}" for role in ROLES[1:] if roles.names.get(role))
            await self.app.note(f"model: {self.app.state.model}" + (f" ({others})" if others else "")
                                + "; /model [ROLE] NAME goes on with this session (or one role) on another model")
            return
        role, _, name = arg.partition(" ")
        role, name = (role, name.strip()) if role in ROLES and name.strip() else ("main", arg)
        # Applied by the session between steps; it answers with model_changed, or an error and no change.
        self.app.live.submit(SetModel(model=name, role=role))
        await self.app.note(f"switching {'' if role == 'main' else role + ' '}to {name}"
                            + (" from the next step" if self.app.state.busy else ""))

    async def cmd_sessions(self, arg: str) -> None:
        if await self._idle("/sessions"):
            self.app.pick_session()
