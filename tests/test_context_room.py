"""ContextService.ensure_room with a working set (a careful attempt's orienting calls): it is left in place
while the prompt fits, no compaction happens when only it would be left, and past the window it goes too."""
from __future__ import annotations

import json

from wren.agent.models.scripted import ScriptedBackend
from wren.context.service import ContextService
from wren.core.config import ContextConfig
from wren.core.messages import Message, ToolCall

WINDOW = 2048  # the scripted backend keeps 256 of them for the reply: a limit of 1,792, a trigger of 1,433


def service(tmp_path, summaries: int = 4) -> ContextService:
    (tmp_path / "wren.toml").write_text('embeddings = "none"\n')
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"window": WINDOW, "turns": [{"content": "unused"}],
                                  "summaries": ["Earlier: the user asked about notes."] * summaries}))
    return ContextService(tmp_path, "s", "You are Wren.", ScriptedBackend(script), ContextConfig(), lambda _: None)


def call(ctx: ContextService, n: int, chars: int) -> None:
    """One tool call and its result of about `chars` characters."""
    ctx.manager.add(Message(role="assistant", tool_calls=[ToolCall(id=f"c{n}", name="read_file",
                                                                   arguments=json.dumps({"path": f"f{n}.txt"}))]))
    ctx.manager.add(Message(role="tool", tool_call_id=f"c{n}", name="read_file", content=f"{n} " * (chars // 2)))


def working(tmp_path, calls: int, chars: int) -> tuple[ContextService, int]:
    """A context whose working set (returned with it) is the task and `calls` results of `chars` each."""
    ctx = service(tmp_path)
    ctx.manager.add(Message(role="user", content="Fix calc.py."))
    for n in range(calls):
        call(ctx, n, chars)
    return ctx, 1


def tokens(ctx: ContextService) -> int:
    return ctx.backend.count_tokens(ctx.manager.prompt(), [])


def test_the_working_set_stays_while_what_came_before_it_is_compacted(tmp_path):
    ctx = service(tmp_path)
    ctx.manager.add(Message(role="user", content="What do the notes say?"))
    for n in range(4):
        call(ctx, n, 1200)
    working_set = len(ctx.manager.messages)
    ctx.manager.add(Message(role="user", content="Now fix calc.py."))
    call(ctx, 9, 1600)
    kept = ctx.manager.messages[working_set:]
    assert ctx.budget and ctx.budget.needs_compaction(tokens(ctx))
    events = ctx.ensure_room([], working_set=working_set)
    assert len(events) == 1 and 0 < events[0].evicted <= working_set
    assert ctx.manager.messages[-len(kept):] == kept and not ctx.budget.needs_compaction(tokens(ctx))


def test_no_compaction_when_only_the_working_set_would_be_left_and_it_fits(tmp_path):
    ctx, working_set = working(tmp_path, 4, 1600)
    before = list(ctx.manager.messages)
    assert ctx.budget and ctx.budget.needs_compaction(tokens(ctx)) and ctx.budget.fits(tokens(ctx))
    assert ctx.ensure_room([], working_set=working_set) == []
    assert ctx.manager.messages == before


def test_past_the_window_the_working_set_is_compacted_like_the_rest(tmp_path):
    ctx, working_set = working(tmp_path, 5, 1700)
    assert ctx.budget and not ctx.budget.fits(tokens(ctx))
    events = ctx.ensure_room([], working_set=working_set)
    assert events and events[-1].evicted > working_set  # some of the working set went
    assert ctx.budget.fits(tokens(ctx))
