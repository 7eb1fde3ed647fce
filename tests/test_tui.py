"""The terminal UI driven by Textual's pilot over a real session, a real temp repo and the scripted model."""
from __future__ import annotations

import asyncio
import os


from conftest import CALC, processes_with
from tui_pilot import (EDIT, EDIT_BACK, answer_approval, asking, finish_turn, logged_types, notes, send, tui_app,
                       wait_for)
from wren.agent.models.scripted import ScriptedBackend
from wren.tui.approval import ApprovalScreen
from wren.tui.context_view import ContextScreen

FIXED = CALC.replace("a - b", "a + b")


def preview_code(app) -> str:
    return app.screen.query_one("#approval-preview Static").content.code


def test_edit_in_ask_mode_shows_the_diff_and_y_applies_it(calc_repo):
    app = tui_app(calc_repo, [{"tool_calls": [EDIT]}, {"content": "Done: add() now adds."}])

    async def scenario():
        async with app.run_test(size=(100, 30)) as pilot:
            await send(pilot, "Fix the failing test")
            await wait_for(pilot, lambda: asking(app), "the approval modal")
            diff = preview_code(app)
            assert "-    return a - b" in diff and "+    return a + b" in diff and "a/calc.py" in diff
            assert (calc_repo / "calc.py").read_text() == CALC  # nothing runs before the answer
            await pilot.press("y")
            await finish_turn(pilot)
            assert not asking(app)
            assert not notes(app, "error") and not notes(app, "warning")

    asyncio.run(scenario())
    assert (calc_repo / "calc.py").read_text() == FIXED


def test_n_denies_and_the_model_receives_the_message(calc_repo):
    why = "keep subtraction, it is intended"
    app = tui_app(calc_repo, [{"tool_calls": [EDIT]}, {"content": "Understood, I left it.", "expect": [why]}])

    async def scenario():
        async with app.run_test(size=(100, 30)) as pilot:
            await answer_approval(pilot, "Fix the failing test", "n", *why, "enter")
            # The scripted model fails the turn (an error note) if its prompt lacks the denial message.
            assert not notes(app, "error")
            assert app.state.items[-1].text == "Understood, I left it."
            assert any(why[:20] in str(card.title) for card in app.query("ToolCard"))

    asyncio.run(scenario())
    assert (calc_repo / "calc.py").read_text() == CALC


def test_a_lets_the_next_matching_edit_through(calc_repo):
    app = tui_app(calc_repo, [{"tool_calls": [EDIT]}, {"tool_calls": [EDIT_BACK]}, {"content": "done"}])

    async def scenario():
        async with app.run_test(size=(100, 30)) as pilot:
            await answer_approval(pilot, "Fix it, then multiply", "a")
            assert not notes(app, "error")

    asyncio.run(scenario())
    assert logged_types(calc_repo).count("approval_requested") == 1
    assert (calc_repo / "calc.py").read_text() == CALC.replace("a - b", "a * b")


def test_esc_denies_from_the_modal(calc_repo):
    app = tui_app(calc_repo, [{"tool_calls": [EDIT]}, {"content": "ok", "expect": ["the user denied this call"]}])

    async def scenario():
        async with app.run_test(size=(100, 30)) as pilot:
            await answer_approval(pilot, "Fix it", "escape")
            assert not notes(app, "error")

    asyncio.run(scenario())
    assert (calc_repo / "calc.py").read_text() == CALC


def test_esc_interrupts_a_long_shell_command_and_the_session_goes_on(calc_repo):
    # A day-long sleep: only a kill ends it, so the turn cannot end by the command finishing.
    shell = {"name": "shell", "arguments": {"command": "sleep 86415"}}
    app = tui_app(calc_repo, [{"tool_calls": [shell]}, {"content": "second turn answer"}], mode="auto")

    async def scenario():
        async with app.run_test(size=(100, 30)) as pilot:
            await send(pilot, "wait a minute")
            # Esc before the process starts would skip the call rather than kill it.
            await wait_for(pilot, lambda: processes_with("sleep 86415", below=os.getpid()), "the command to run")
            await pilot.press("escape")
            await finish_turn(pilot)
            await wait_for(pilot, lambda: not processes_with("sleep 86415", below=os.getpid()), "the command to end")
            assert any(n.startswith("interrupted") for n in notes(app, "warning"))
            assert "killed" in str(app.query_one("ToolCard").title)
            await send(pilot, "go on")
            await finish_turn(pilot)
            assert app.state.items[-1].text == "second turn answer"

    asyncio.run(scenario())


def test_undo_restores_the_file(calc_repo):
    app = tui_app(calc_repo, [{"tool_calls": [EDIT]}, {"content": "done"}])

    async def scenario():
        async with app.run_test(size=(100, 30)) as pilot:
            await answer_approval(pilot, "Fix it", "y")
            assert (calc_repo / "calc.py").read_text() == FIXED
            await send(pilot, "/undo")
            await wait_for(pilot, lambda: (calc_repo / "calc.py").read_text() == CALC, "the file to be restored")
            assert not notes(app, "error")
            await wait_for(pilot, lambda: any("restored  calc.py" in n for n in notes(app)), "the undo report")

    asyncio.run(scenario())


def test_compact_shows_the_compaction_in_the_context_view(calc_repo):
    turns = [{"content": "hello there"}, {"content": "Summary: the user greeted Wren; nothing else happened."}]
    app = tui_app(calc_repo, turns)

    async def scenario():
        async with app.run_test(size=(100, 30)) as pilot:
            await send(pilot, "hi")
            await finish_turn(pilot)
            await send(pilot, "/compact")
            await wait_for(pilot, lambda: bool(app.state.compactions), "a context_compacted event", timeout=20)
            await send(pilot, "/context")
            assert isinstance(app.screen, ContextScreen)
            shown = str(app.screen.query_one("#compactions").content)
            assert app.state.compactions[0].event.summary in shown and "#1" in shown

    asyncio.run(scenario())


def test_modal_leaves_the_ui_responsive(calc_repo):
    """While the session waits for a decision the app keeps drawing and taking keys."""
    app = tui_app(calc_repo, [{"tool_calls": [EDIT]}, {"content": "done"}])

    async def scenario():
        async with app.run_test(size=(100, 30)) as pilot:
            await send(pilot, "Fix it")
            await wait_for(pilot, lambda: asking(app), "the approval modal")
            await pilot.press("n")
            box = app.screen.query_one("#deny-message")
            assert box.display and box.has_focus
            await pilot.press(*"ya")  # typed into the message, not taken as allow once / always
            assert box.value == "ya" and isinstance(app.screen, ApprovalScreen)
            await pilot.press("escape")
            await finish_turn(pilot)

    asyncio.run(scenario())
    assert (calc_repo / "calc.py").read_text() == CALC


class DripBackend(ScriptedBackend):
    """Streams each reply three characters at a time, like a fast provider."""

    def complete(self, messages, tools, on_delta):
        texts: list[str] = []
        reply = super().complete(messages, tools, texts.append)
        for text in texts:
            for i in range(0, len(text), 3):
                on_delta(text[i:i + 3])
        return reply


def test_a_fast_stream_is_coalesced_into_one_reply(calc_repo, monkeypatch):
    from textual.widgets import Markdown

    content = "\n\n".join(f"Paragraph {n}: " + "word " * 40 for n in range(12)) + "\n\n```python\nprint(1)\n```\n"
    appends = []
    real_append = Markdown.append
    monkeypatch.setattr(Markdown, "append", lambda self, text: appends.append(text) or real_append(self, text))
    app = tui_app(calc_repo, [{"content": content}], backend=DripBackend)

    async def scenario():
        async with app.run_test(size=(100, 30)) as pilot:
            await send(pilot, "write a lot")
            await finish_turn(pilot)
            replies = app.query("Markdown.reply")
            assert len(replies) == 1 and replies.first().source == content

    asyncio.run(scenario())
    deltas = -(-len(content) // 3)
    assert "".join(appends) == content
    assert len(appends) < deltas / 2, f"{len(appends)} renders for {deltas} deltas"
