"""/sessions: the saved sessions of this workspace, newest first; Enter resumes one."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from wren.core.errors import ConfigError
from wren.core.events import SessionTitled, UserMessage
from wren.core.log import read_events, sessions_dir
from wren.tui.cards import short


@dataclass
class SavedSession:
    id: str
    first_prompt: str
    prompts: int


def saved_sessions(root: Path) -> list[SavedSession]:
    folder = sessions_dir(root)
    logs = sorted(folder.glob("*.jsonl"), key=lambda p: p.stat().st_mtime, reverse=True) if folder.is_dir() else []
    found = []
    for log in logs:
        try:
            events = read_events(log)
        except ConfigError as exc:
            found.append(SavedSession(log.stem, f"(unreadable: {exc.message})", 0))
            continue
        prompts = [e.text for e in events if isinstance(e, UserMessage)]
        # The fast model's title where it wrote one, else the first prompt.
        titles = [e.title for e in events if isinstance(e, SessionTitled)] or prompts[:1] or ["(no prompt yet)"]
        found.append(SavedSession(log.stem, titles[0], len(prompts)))
    return found


class SessionsScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "dismiss(None)", "close")]

    def __init__(self, root: Path, current_id: str) -> None:
        super().__init__(classes="sessions-screen")
        self.root, self.current_id = root, current_id

    def compose(self) -> ComposeResult:
        sessions = saved_sessions(self.root)
        with Vertical(id="sessions"):
            yield Static(Text.assemble(("Sessions", "bold"), "  Enter resumes · esc closes"))
            yield OptionList(*[self._option(s) for s in sessions], id="session-list")

    def _option(self, s: SavedSession) -> Option:
        mark = " (this one)" if s.id == self.current_id else ""
        label = Text.assemble((s.id, "bold"), mark, f"  {s.prompts} prompt(s)  ", short(s.first_prompt, 60))
        return Option(label, id=s.id)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)
