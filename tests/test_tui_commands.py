"""Slash commands, keys and fit of the terminal UI (pilot, real session, scripted model)."""
from __future__ import annotations

import asyncio
import importlib.util

from tui_pilot import EDIT, asking, finish_turn, notes, send, tui_app, wait_for
from wren.tui.context_view import ContextScreen
from wren.tui.prompt import CompletionMenu, PromptInput
from wren.tui.sessions import SessionsScreen
from wren.tui.transcript import Transcript


def test_shift_tab_cycles_the_mode_in_the_session(calc_repo):
    app = tui_app(calc_repo, [{"tool_calls": [EDIT]}, {"content": "done"}], mode="read-only")

    async def scenario():
        async with app.run_test(size=(100, 30)) as pilot:
            seen = []
            for _ in range(5):
                await pilot.press("shift+tab")
                seen.append((app.state.mode, app.session.policy.mode))
            # Plan mode keeps the approval mode in force for the plan's turn.
            assert seen == [(m, m) for m in ("ask", "auto-edit", "auto")] + [("plan", "auto"),
                                                                             ("read-only", "read-only")]
            await pilot.press("shift+tab", "shift+tab")  # auto-edit: the edit runs without a modal
            await send(pilot, "Fix it")
            await finish_turn(pilot)
            assert not asking(app)

    asyncio.run(scenario())
    assert "a + b" in (calc_repo / "calc.py").read_text()


def test_mode_command_and_unknown_commands(calc_repo):
    app = tui_app(calc_repo, [])

    async def scenario():
        async with app.run_test(size=(100, 30)) as pilot:
            await send(pilot, "/mode auto")
            assert app.session.policy.mode == "auto"
            await send(pilot, "/mode sometimes")
            await send(pilot, "/frobnicate")
            warnings = notes(app, "warning")
            assert any("unknown mode 'sometimes'" in w for w in warnings)
            assert any("unknown command /frobnicate" in w for w in warnings)

    asyncio.run(scenario())


def test_index_model_and_undo_commands(calc_repo):
    app = tui_app(calc_repo, [])

    async def scenario():
        async with app.run_test(size=(100, 30)) as pilot:
            await send(pilot, "/index")
            await wait_for(pilot, lambda: any("files," in n and "chunks written" in n for n in notes(app)),
                           "the index to be built", timeout=120)
            assert (calc_repo / ".wren" / "index").is_dir()
            await send(pilot, "/model")
            assert any("model: scripted:" in n for n in notes(app))
            if importlib.util.find_spec("wren.tools.checkpoints") is None:
                await send(pilot, "/undo")
                assert "undo is not available in this build" in notes(app, "warning")

    asyncio.run(scenario())


def test_model_switch_goes_on_with_the_same_session(calc_repo, tmp_path):
    second = tmp_path / "second.json"
    second.write_text('{"turns": [{"content": "from the second model", "expect": ["first question"]}]}')
    app = tui_app(calc_repo, [{"content": "first answer"}])

    async def scenario():
        async with app.run_test(size=(100, 30)) as pilot:
            await send(pilot, "first question")
            await finish_turn(pilot)
            session_id = app.session.id
            await send(pilot, f"/model scripted:{second}")
            await wait_for(pilot, lambda: app.session.backend.name.endswith("second.json"), "the new model")
            assert app.session.id == session_id
            await send(pilot, "second question")
            await finish_turn(pilot)
            assert app.state.items[-1].text == "from the second model"
            assert not notes(app, "error")

    asyncio.run(scenario())


def test_completion_history_and_clear(calc_repo):
    app = tui_app(calc_repo, [{"content": "one"}])

    async def scenario():
        async with app.run_test(size=(100, 30)) as pilot:
            prompt, menu = app.query_one(PromptInput), app.query_one(CompletionMenu)
            await pilot.press("/", "c", "o")
            assert menu.display and [o.id for o in menu.options] == ["compact", "context"]
            await pilot.press("down", "tab")
            assert prompt.text == "/context " and not menu.display
            prompt.clear()
            await send(pilot, "first prompt")
            await finish_turn(pilot)
            await pilot.press("up")
            assert prompt.text == "first prompt"
            await pilot.press("down")
            assert prompt.text == ""
            await send(pilot, "/clear")
            assert len(app.query_one(Transcript).children) == 1  # only the note that says what /clear did

    asyncio.run(scenario())


def test_multi_line_input(calc_repo):
    app = tui_app(calc_repo, [{"content": "got both lines", "expect": ["line one\nline two"]}])

    async def scenario():
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press(*"line one", "ctrl+j", *"line two", "enter")
            await finish_turn(pilot)
            assert app.state.items[-1].text == "got both lines"

    asyncio.run(scenario())


def test_sessions_resumes_a_saved_session(calc_repo):
    first = tui_app(calc_repo, [{"content": "answer one"}])

    async def make_first():
        async with first.run_test(size=(100, 30)) as pilot:
            await send(pilot, "the first task")
            await finish_turn(pilot)

    asyncio.run(make_first())
    first_id = first.session.id
    app = tui_app(calc_repo, [{"content": "resumed answer", "expect": ["the first task", "answer one"]}])

    async def scenario():
        async with app.run_test(size=(100, 30)) as pilot:
            await send(pilot, "/sessions")
            assert isinstance(app.screen, SessionsScreen)
            ids = [o.id for o in app.screen.query_one("#session-list").options]
            assert set(ids) == {first_id, app.session.id}
            await pilot.press(*(["down"] * ids.index(first_id)), "enter")
            await wait_for(pilot, lambda: app.session.id == first_id, "the resumed session")
            assert app.state.items[0].text == "the first task"  # the old conversation is on screen again
            await send(pilot, "go on")
            await finish_turn(pilot)
            assert app.state.items[-1].text == "resumed answer" and not notes(app, "error")

    asyncio.run(scenario())


def test_ctrl_c_twice_quits(calc_repo):
    app = tui_app(calc_repo, [])

    async def scenario():
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("ctrl+c")
            assert app.is_running
            await pilot.press("ctrl+c")
            await wait_for(pilot, lambda: not app.is_running, "the app to quit")

    asyncio.run(scenario())
    assert app.return_value == 0


def test_fits_80x24_themes_and_no_color(calc_repo, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = tui_app(calc_repo, [{"tool_calls": [EDIT]}, {"content": "done"}])

    async def scenario():
        async with app.run_test(size=(80, 24)) as pilot:
            assert app.no_color  # Textual then draws in monochrome
            await send(pilot, "Fix it")
            await wait_for(pilot, lambda: asking(app), "the approval modal")
            for selector in ("#approval-keys", "#approval-title", "#approval-preview"):
                region = app.screen.query_one(selector).region
                assert region.height and region.bottom <= 24 and region.right <= 80, selector
            await pilot.press("y")
            await finish_turn(pilot)
            assert app.query_one("#status").region.bottom == 24
            dark = app.current_theme.dark
            await pilot.press("ctrl+t")
            assert app.current_theme.dark is not dark

    asyncio.run(scenario())


def test_help_lists_commands_and_keys(calc_repo):
    app = tui_app(calc_repo, [])

    async def scenario():
        async with app.run_test(size=(100, 30)) as pilot:
            await send(pilot, "/help")
            assert any("/sessions" in n and "Shift+Tab" in n for n in notes(app))

    asyncio.run(scenario())


def test_context_view_opens_from_command_key_and_meter(calc_repo):
    app = tui_app(calc_repo, [])

    async def scenario():
        async with app.run_test(size=(100, 30)) as pilot:
            for open_it in (lambda: send(pilot, "/context"), lambda: pilot.press("ctrl+o"),
                            lambda: pilot.click("#meter")):
                await open_it()
                assert isinstance(app.screen, ContextScreen)
                await pilot.press("escape")
                assert len(app.screen_stack) == 1

    asyncio.run(scenario())


def test_uncompact_undoes_the_models_pin(calc_repo):
    pin = {"name": "pin", "arguments": {"text": "Answer in French."}}
    app = tui_app(calc_repo, [{"tool_calls": [pin]}, {"content": "pinned"}])

    async def scenario():
        async with app.run_test(size=(100, 30)) as pilot:
            await send(pilot, "Pin it")
            await finish_turn(pilot)
            assert app.state.pins == ["Answer in French."]
            assert any("pinned: Answer in French." in n for n in notes(app))
            await send(pilot, "/uncompact")
            await wait_for(pilot, lambda: not app.state.pins, "the pin to be undone")
            await wait_for(pilot, lambda: "undid the last pin" in notes(app), "the undo to be told")
            assert app.session.context.manager.pins == []

    asyncio.run(scenario())
