"""The session's side of the compact, forget and pin tools (tools/steer.py): each changes the working
context, emits its event (logged, shown, replayed on resume, undone by UndoCompaction) and says what
it did."""
from __future__ import annotations

from typing import TYPE_CHECKING

from wren.core.errors import ModelError, StreamStopped, ToolError

if TYPE_CHECKING:
    from wren.agent.session import Session

KEEP_CHARS = 1_000  # what a compact call may ask the summary to keep


class SessionSteering:
    def __init__(self, session: "Session") -> None:
        self.session = session

    def compact(self, keep: str) -> str:
        s = self.session
        if len(keep) > KEEP_CHARS:  # it goes into the summary request, and so into every later prompt
            raise ToolError(f"keep is {len(keep)} characters; say in at most {KEEP_CHARS} what the summary must "
                            "keep (pin a short fact that must stay word for word)")
        try:
            event = s.context.compact(s.offered_tools(), "model", s.check_stop, keep.strip())
        except ModelError as exc:
            raise ToolError(exc.message) from None
        except StreamStopped:
            raise ToolError("compaction stopped before its summary was done; the context is as it was") from None
        s.emit(event)
        freed = "" if event.tokens_after < event.tokens_before else (
            " It freed nothing: there was too little to compact, so compacting again will not help.")
        return (f"Compacted: {event.evicted} messages moved to memory ({event.tokens_before} -> "
                f"{event.tokens_after} tokens); recall brings details back.{freed}")

    def forget(self, call_ids: list[str]) -> str:
        s = self.session
        event = s.context.forget(call_ids)
        if event is None:
            raise ToolError(f"no result of {', '.join(call_ids) or 'no id'} is in your context to forget; "
                            "pass the ids shown after each tool result")
        s.emit(event)
        left = [i for i in call_ids if i not in event.call_ids]
        skipped = f" (not in your context: {', '.join(left)})" if left else ""
        return f"Forgot {len(event.call_ids)} result(s){skipped}; recall with an id brings one back."

    def pin(self, text: str) -> str:
        s = self.session
        try:
            event = s.context.pin(text)
        except ValueError as exc:
            raise ToolError(str(exc)) from None
        s.emit(event)
        return "Pinned: it stays in every prompt."
