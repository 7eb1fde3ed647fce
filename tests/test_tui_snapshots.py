"""Snapshots (pytest-textual-snapshot) of the main screen mid-turn, the approval modal and the context view.

Deterministic by construction: the repo's folder is always named `repo`, the script `script.json`, tool
durations under a second show as "<1s", and the scripted model below reports fixed usage (its real
estimate counts the system prompt, which holds the temp path). Update with `pytest --snapshot-update`.
"""
from __future__ import annotations

from wren.core.events import Usage
from wren.agent.models.scripted import ScriptedBackend
from tui_pilot import EDIT, PLAN, asking, send, tui_app, wait_for
from wren.tui.cards import ToolCard
from wren.tui.context_view import ContextScreen
from wren.tui.prompt import PromptInput

SIZE = (100, 30)


class FixedUsageBackend(ScriptedBackend):
    def __init__(self, path) -> None:
        super().__init__(path)
        self.window = 32_000

    def complete(self, messages, tools, on_delta):
        reply = super().complete(messages, tools, on_delta)
        reply.usage = Usage(prompt_tokens=1200, completion_tokens=40, cost_usd=0.0123)
        return reply


def still(app) -> None:
    app.query_one(PromptInput).cursor_blink = False


def test_main_screen_mid_turn(calc_repo, snap_compare):
    read = {"name": "read_file", "arguments": {"path": "calc.py"}}
    shell = {"name": "shell", "arguments": {"command": "sleep 60"}}
    app = tui_app(calc_repo, [{"content": "Let me look at `calc.py` and **plan**.", "tool_calls": [PLAN, read]},
                              {"content": "Now a long command:", "tool_calls": [shell]}],
                  mode="auto", backend=FixedUsageBackend)

    async def mid_turn(pilot):
        still(app)
        await send(pilot, "Fix the failing test in calc.py")
        await wait_for(pilot, lambda: any(c.tool == "shell" and c.status == "running" for c in app.query(ToolCard)),
                       "the shell command to run")

    assert snap_compare(app, terminal_size=SIZE, run_before=mid_turn)


def test_approval_modal(calc_repo, snap_compare):
    app = tui_app(calc_repo, [{"content": "I will fix `add()`.", "tool_calls": [EDIT]}], backend=FixedUsageBackend)

    async def modal(pilot):
        still(app)
        await send(pilot, "Fix the failing test")
        await wait_for(pilot, lambda: asking(app), "the approval modal")

    assert snap_compare(app, terminal_size=SIZE, run_before=modal)


def test_context_view(calc_repo, snap_compare):
    app = tui_app(calc_repo, [{"content": "Planning first.", "tool_calls": [PLAN]}, {"content": "Plan is set."}],
                  backend=FixedUsageBackend)

    async def context(pilot):
        still(app)
        await send(pilot, "Make a plan")
        await wait_for(pilot, lambda: not app.state.busy, "the turn to end")
        await send(pilot, "/context")
        await wait_for(pilot, lambda: isinstance(app.screen, ContextScreen), "the context view")

    assert snap_compare(app, terminal_size=SIZE, run_before=context)
