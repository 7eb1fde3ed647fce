"""Driving the terminal UI in-process: Textual's pilot, a real temp repo, the scripted model."""
from __future__ import annotations

import json
import time
from pathlib import Path

from wren.agent.approval import Policy
from wren.core.log import sessions_dir
from wren.agent.models.scripted import ScriptedBackend
from wren.agent.session import SessionConfig
from wren.tools.base import default_registry
from wren.tui.app import WrenApp
from wren.tui.approval import ApprovalScreen
from wren.tui.prompt import PromptInput
from wren.tui.transcript import Note

EDIT = {"name": "edit_file", "arguments": {"path": "calc.py", "old": "return a - b", "new": "return a + b"}}
EDIT_BACK = {"name": "edit_file", "arguments": {"path": "calc.py", "old": "return a + b", "new": "return a * b"}}
PLAN = {"name": "update_plan", "arguments": {"steps": [{"content": "Read calc.py", "status": "completed"},
                                                       {"content": "Fix add()", "status": "in_progress"},
                                                       {"content": "Run the tests", "status": "pending"}]}}


def tui_app(repo: Path, turns: list[dict], mode: str = "ask", backend=ScriptedBackend) -> WrenApp:
    script = repo.parent / "script.json"
    script.write_text(json.dumps({"turns": turns}))
    return WrenApp(SessionConfig(root=repo, backend=backend(script), registry=default_registry(),
                                 policy=Policy(mode=mode), interactive=True))


async def wait_for(pilot, condition, what: str, timeout: float = 60.0) -> None:
    """Pause the app until condition() holds; the timeout only ends a hang, far above what a busy machine takes."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        await pilot.pause(0.05)


async def send(pilot, text: str) -> None:
    prompt = pilot.app.query_one(PromptInput)
    prompt.focus()
    prompt.text = text
    await pilot.press("enter")


async def finish_turn(pilot) -> None:
    await wait_for(pilot, lambda: not pilot.app.state.busy, "the turn to end")


async def answer_approval(pilot, prompt: str, *keys: str) -> None:
    """Send `prompt`, wait for the approval modal, press `keys` there, and wait for the turn to end."""
    await send(pilot, prompt)
    await wait_for(pilot, lambda: asking(pilot.app), "the approval modal")
    await pilot.press(*keys)
    await finish_turn(pilot)


def asking(app: WrenApp) -> bool:
    return isinstance(app.screen, ApprovalScreen)


def notes(app: WrenApp, kind: str | None = None) -> list[str]:
    return [str(n.content) for n in app.query(Note) if kind is None or n.has_class(kind)]


def logged_types(repo: Path) -> list[str]:
    return [json.loads(line)["type"] for log in sessions_dir(repo).glob("*.jsonl")
            for line in log.read_text().splitlines()]
