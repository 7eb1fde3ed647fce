"""Plan mode, effort and roles in the terminal UI, driven by Textual's pilot over a real session."""
from __future__ import annotations

import asyncio

from conftest import CALC, write_script
from tui_pilot import EDIT, finish_turn, notes, send, tui_app, wait_for
from wren.tui.approval import ApprovalScreen
from wren.tui.plan_review import PlanScreen

READ = {"name": "read_file", "arguments": {"path": "calc.py"}}
SHELL = {"name": "shell", "arguments": {"command": "touch ran.txt"}}
PLAN = "Steps:\n1. Make add() add\nFiles: calc.py\nVerify: pytest -q"


def reviewing(app) -> bool:
    return isinstance(app.screen, PlanScreen)


async def propose(pilot, app) -> None:
    """Shift+Tab to plan mode (after ask, auto-edit and auto), then ask for a plan."""
    await pilot.press("shift+tab", "shift+tab", "shift+tab")
    assert app.state.mode == "plan"
    await send(pilot, "fix add")
    await wait_for(pilot, lambda: reviewing(app), "the plan review")


def test_an_edited_plan_is_what_runs_once_approved(calc_repo):
    app = tui_app(calc_repo, [{"tool_calls": [READ], "expect": ["Plan mode"]}, {"tool_calls": [EDIT]},
                              {"tool_calls": [SHELL]}, {"content": PLAN},
                              {"tool_calls": [EDIT], "expect": ["Make add() add and keep sub() as it is"]},
                              {"content": "done"}])

    async def scenario():
        async with app.run_test(size=(100, 30)) as pilot:
            await propose(pilot, app)
            assert (calc_repo / "calc.py").read_text() == CALC and not (calc_repo / "ran.txt").exists()
            area = app.screen.query_one("#plan-text")
            assert area.text.startswith("Steps:\n1. Make add() add")
            area.text = area.text.replace("Make add() add", "Make add() add and keep sub() as it is")
            await pilot.press("ctrl+y")  # approve; edits run without asking
            await finish_turn(pilot)
            assert not isinstance(app.screen, ApprovalScreen)
            assert app.state.mode == "auto-edit"
            assert any("plan approved" in n for n in notes(app))

    asyncio.run(scenario())
    assert (calc_repo / "calc.py").read_text() == CALC.replace("a - b", "a + b")
    assert not (calc_repo / "ran.txt").exists()


def test_rejecting_the_plan_changes_nothing(calc_repo):
    app = tui_app(calc_repo, [{"tool_calls": [EDIT]}, {"content": PLAN}])

    async def scenario():
        async with app.run_test(size=(100, 30)) as pilot:
            await propose(pilot, app)
            await pilot.press("escape")
            await wait_for(pilot, lambda: any("plan rejected" in n for n in notes(app)), "the rejection")
            assert app.state.mode == "plan" and not app.state.busy

    asyncio.run(scenario())
    assert (calc_repo / "calc.py").read_text() == CALC


def test_effort_and_role_commands(calc_repo, tmp_path):
    fast = write_script(tmp_path / "fast.json", [])
    app = tui_app(calc_repo, [{"content": "hi"}])

    async def scenario():
        async with app.run_test(size=(100, 30)) as pilot:
            await send(pilot, "/effort low")
            await wait_for(pilot, lambda: any("effort low is not supported" in n for n in notes(app)),
                           "the effort report")
            await send(pilot, f"/model fast {fast}")
            await wait_for(pilot, lambda: any("fast role now runs on" in n for n in notes(app)), "the role switch")
            await send(pilot, "hello")
            await finish_turn(pilot)
            assert app.session.roles.name("fast") == fast
            assert app.state.model.startswith("scripted:") and "fast" not in app.state.model

    asyncio.run(scenario())
