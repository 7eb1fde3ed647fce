"""The transcript: user turns, streamed assistant Markdown, tool cards and notes, newest at the bottom."""
from __future__ import annotations

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Collapsible, Markdown, Static
from textual.widgets.markdown import MarkdownStream

from wren.core.events import ApprovalResolved, ToolCallEvent, ToolResultEvent
from wren.tui.cards import ToolCard, short


class Note(Static):
    """A line from Wren itself (errors, interrupts, command output), never Markdown from the model."""

    def __init__(self, text: str, kind: str = "info") -> None:
        super().__init__(Text(text), classes=f"note {kind}")


class Transcript(VerticalScroll):
    def __init__(self) -> None:
        super().__init__(id="transcript")
        self._stream: MarkdownStream | None = None
        self._reply: Markdown | None = None
        self._cards: dict[str, ToolCard] = {}
        self._thought: Static | None = None  # the open fold of the model's thinking
        self._thought_text = ""

    def on_mount(self) -> None:
        # Follows new output until the user scrolls up to read.
        self.anchor()

    async def user(self, text: str) -> None:
        await self._end_reply()
        await self.mount(Static(Text.assemble(("› ", "bold"), text), classes="user"))

    async def thought(self, text: str) -> None:
        """Thinking text, folded: one collapsed "thinking" section per stretch of it."""
        if self._thought is None:
            self._thought, self._thought_text = Static(classes="thought"), ""
            await self.mount(Collapsible(self._thought, title="thinking", collapsed=True))
        self._thought_text += text
        self._thought.update(Text(self._thought_text))

    async def delta(self, text: str) -> None:
        """Deltas go through a MarkdownStream: it batches what arrives faster than it can render,
        and only the last block of this reply is parsed again, never the whole transcript."""
        self._thought = None  # the reply ends the thinking before it
        if self._stream is None:
            self._reply = Markdown(classes="reply")
            await self.mount(self._reply)
            self._stream = Markdown.get_stream(self._reply)
        await self._stream.write(text)

    async def reply(self, content: str) -> None:
        """The whole reply: fills in what streaming missed (or all of it when the backend did not stream)."""
        reply = self._reply
        await self._end_reply()
        if reply is None and content:
            await self.mount(Markdown(content, classes="reply"))
        elif reply is not None and reply.source != content and content:
            await reply.update(content)

    async def _end_reply(self) -> None:
        self._thought = None
        if self._stream is not None:
            await self._stream.stop()
        self._stream, self._reply = None, None

    async def tool_call(self, event: ToolCallEvent) -> None:
        await self._end_reply()
        card = ToolCard(event)
        self._cards[event.call_id] = card
        await self.mount(card)

    def approval(self, call_id: str, waiting: bool, resolved: ApprovalResolved | None = None) -> None:
        card = self._cards.get(call_id)
        if card is None:
            return
        if waiting:
            card.set_status("waiting for approval")
        elif resolved is not None and resolved.decision == "deny":
            card.set_status(f"denied: {short(resolved.message, 50)}" if resolved.message else "denied")
        else:
            card.set_status("running")

    def tool_result(self, event: ToolResultEvent) -> None:
        if card := self._cards.pop(event.call_id, None):
            card.finish(event)

    async def note(self, text: str, kind: str = "info") -> None:
        await self._end_reply()
        await self.mount(Note(text, kind))

    async def clear(self) -> None:
        await self._end_reply()
        self._cards.clear()
        await self.remove_children()
