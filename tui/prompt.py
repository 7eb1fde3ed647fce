"""The multi-line input: Enter sends, Ctrl+J (or Shift+Enter where the terminal tells it apart) breaks the line,
Up and Down walk the history from the first and last line, Tab completes slash commands."""
from __future__ import annotations

from dataclasses import dataclass

from textual import events
from textual.message import Message
from textual.widgets import OptionList, TextArea
from textual.widgets.option_list import Option

from wren.tui.commands import completions

NEWLINE_KEYS = ("ctrl+j", "shift+enter", "alt+enter")


@dataclass
class PromptHistory:
    entries: list[str]
    position: int = 0  # len(entries) means "the draft being typed"
    draft: str = ""

    def add(self, text: str) -> None:
        if not self.entries or self.entries[-1] != text:
            self.entries.append(text)
        self.position, self.draft = len(self.entries), ""

    def older(self, current: str) -> str | None:
        if self.position == 0:
            return None
        if self.position == len(self.entries):
            self.draft = current
        self.position -= 1
        return self.entries[self.position]

    def newer(self) -> str | None:
        if self.position >= len(self.entries):
            return None
        self.position += 1
        return self.draft if self.position == len(self.entries) else self.entries[self.position]


class PromptInput(TextArea):
    class Submitted(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class CompleteRequested(Message):
        """Tab on a slash command."""

    class MenuMoved(Message):
        """Up or Down while the completion menu offers a choice."""

        def __init__(self, step: int) -> None:
            super().__init__()
            self.step = step

    def __init__(self) -> None:
        super().__init__(id="prompt", soft_wrap=True, show_line_numbers=False, tab_behavior="focus",
                         placeholder="Message Wren · / for commands · Enter sends · Ctrl+J new line")
        self.prompts = PromptHistory([])
        self.choosing = False  # the completion menu offers more than one command: Up and Down move in it

    async def _on_key(self, event: events.Key) -> None:
        # Runs before TextArea's own handler (Textual walks the MRO); prevent_default skips it.
        if self._handle(event.key):
            event.stop()
            event.prevent_default()

    def _handle(self, key: str) -> bool:
        row, _ = self.cursor_location
        if key == "enter":
            self._submit()
        elif key in NEWLINE_KEYS:
            self.insert("\n")
        elif key == "tab" and self.text.startswith("/") and "\n" not in self.text:
            self.post_message(self.CompleteRequested())
        elif key in ("up", "down") and self.choosing:
            self.post_message(self.MenuMoved(-1 if key == "up" else 1))
        elif key == "up" and row == 0 and (text := self.prompts.older(self.text)) is not None:
            self._show(text)
        elif key == "down" and row == self.document.line_count - 1 and (text := self.prompts.newer()) is not None:
            self._show(text)
        else:
            return False
        return True

    def _show(self, text: str) -> None:
        self.text = text
        self.move_cursor(self.document.end)

    def _submit(self) -> None:
        text = self.text.strip()
        if not text:
            return
        self.prompts.add(text)
        self.clear()
        self.post_message(self.Submitted(text))


class CompletionMenu(OptionList):
    """The slash commands that the input could become, shown above it while typing one."""

    def show_for(self, text: str) -> int:
        matches = completions(text)
        self.clear_options()
        self.add_options([Option(f"{c.usage:<14} {c.help}", id=c.name) for c in matches])
        self.display = bool(matches)
        if matches:
            self.highlighted = 0
        return len(matches)

    def move(self, step: int) -> None:
        if self.option_count:
            self.highlighted = ((self.highlighted or 0) + step) % self.option_count

    def chosen(self) -> str | None:
        if not self.display or self.highlighted is None:
            return None
        return self.get_option_at_index(self.highlighted).id
