"""A rewrite attempt's step in the loop (agent/rewrite.py says why and what): its request, the opening of a
local model's reply, and the reply's function put in place and tested."""
from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from wren.agent.careful import fresh_attempt, takes, test_change, wren_call
from wren.agent.rewrite import SYSTEM, UNCHANGED, definition
from wren.core.events import UserMessage
from wren.core.messages import Message, ToolCall
from wren.tools.syntax import same_python

if TYPE_CHECKING:
    from wren.agent.session import Session


def request(s: "Session", prompt: list[Message],
            tools: list[dict[str, Any]]) -> tuple[list[Message], list[dict[str, Any]]]:
    """The request (messages, tools) of the next step: for a rewrite attempt's step, its request on its own
    (SYSTEM, then Target.request; no tools, none of the conversation); for the step after a rewrite that made the
    tests pass, the answer asked on its own too (Target.explain: the function before and after); else `prompt`
    and `tools` as they are. The answer's own request is short: after the rewrite's, which shares no prefix with
    the conversation, the conversation's prompt was evaluated again for the answer, about 80 s of a 170 to 190 s
    task on two cores (QuixBugs gcd, lis, bucketsort at 1b134fe), 194 s of 358 s for is_valid_parenthesization."""
    target, done = s.attempt.rewrite, s.attempt.rewritten
    if target is not None:
        asked = target.request(s.attempt.hidden)
    elif done is not None and done[0] == s.limits.steps:  # the very next step: a retry of it too, no later one
        asked = done[1].explain(done[2])
    else:
        return prompt, tools
    return [Message(role="system", content=SYSTEM), Message(role="user", content=asked)], []


def reply_opening(s: "Session") -> str:
    """The text a rewrite attempt's reply opens with, a Python code block, where the backend's `complete` takes
    an `opening` (Wren's local backend); else "". Only the fence: opened with the function's `def` line too,
    Qwen2.5-Coder-1.5B wrote its body's first line unindented (QuixBugs gcd and lis, 4 replies of 4; its tokens
    join a line break to the indentation after it), and opened with that indentation as well, it wrote every
    later line one space deeper (2 of 2)."""
    if s.attempt.rewrite is None or not takes(s.backend, "opening"):
        return ""
    return "```python\n"


def rewritten(s: "Session", reply_text: str) -> bool:
    """A rewrite attempt's reply: Wren puts the definition it holds in place of the function with edit_file, as
    a change of its own, and tests it like the model's (careful.test_change); a reply without one, or a change
    refused, ends the attempt. A reply to the code in view that is that code again (whitespace and comments aside)
    is asked once more in the same attempt, from the documentation (rewrite.UNCHANGED): a step, not an attempt.
    False when this is no rewrite attempt's reply, or no attempt is left."""
    target, s.attempt.rewrite = s.attempt.rewrite, None
    if target is None:
        return False
    new = definition(reply_text, target.name, target.known)
    if new is None:
        return fresh_attempt(s, f"its reply held no definition of {target.name}")
    left = s.limits.steps_left()  # the step asked again and one to answer after it
    if (not s.attempt.hidden and (left is None or left >= 2)
            and (new.strip() == target.source.strip() or same_python(target.source, new))):
        s.attempt.rewrite, s.attempt.hidden = target, True  # the next step asks from the documentation (rewrite.UNCHANGED)
        note = UNCHANGED.format(name=target.name) + target.request(True)
        s.record(Message(role="user", content=note), UserMessage(text=note, by="wren"))
        return True
    call = ToolCall(id=f"wren-{uuid.uuid4().hex[:8]}-rewrite", name="edit_file",
                    arguments=json.dumps({"path": target.path, "old": target.source, "new": new}))
    if not wren_call(s, call):
        return fresh_attempt(s, f"its definition of {target.name} was refused")
    test_change(s)
    if not s._tests_failed and not s._changed_since_tests:
        s.attempt.rewritten = (s.limits.steps, target, new)
    return True
