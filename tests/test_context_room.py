"""ContextService.ensure_room with a working set (a careful attempt's orienting calls): it is left in place
while the prompt fits, no compaction happens when only it would be left, and past the window it goes too;
and a careful session's fresh attempts reuse the orienting a compaction left in place."""
from __future__ import annotations

import json

from conftest import CALC
from wren.agent.attempts import MAX_ATTEMPTS
from wren.agent.models.scripted import ScriptedBackend
from wren.context.service import ContextService
from wren.core.config import ContextConfig
from wren.core.messages import Message, ToolCall

WINDOW = 2048  # the scripted backend keeps 256 of them for the reply: a limit of 1,792, a trigger of 1,433


def service(tmp_path) -> ContextService:
    (tmp_path / "wren.toml").write_text('embeddings = "none"\n')
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"window": WINDOW, "turns": [{"content": "unused"}],
                                  "summaries": ["Earlier: the user asked about notes."] * 4}))
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


def test_a_compaction_leaves_the_orienting_in_place_and_fresh_attempts_reuse_it(calc_repo, tmp_path):
    """Chained tasks on a small window: the second task's orienting run and read cross the budget. The
    compaction evicts the first task and leaves them in place, and the fresh attempts after failed fixes
    reuse them with no compaction of their own (each used to evict them, re-run and re-read them, and
    write a summary: one model call per attempt, about a minute of Qwen on a laptop CPU)."""
    from wren.agent.approval import Policy
    from wren.agent.limits import Limits
    from wren.agent.models.scripted import ScriptedBackend
    from wren.agent.session import Session, SessionConfig
    from wren.core.ops import Shutdown, UserInput
    from wren.tools.base import default_registry

    (calc_repo / "notes.txt").write_text("".join(f"note line {i}: nothing about add here\n" for i in range(400)))

    def edit(new: str) -> dict:
        return {"name": "edit_file", "arguments": {"path": "calc.py", "old": "return a - b", "new": new}}

    script = tmp_path / "script.json"
    script.write_text(json.dumps({"window": 4500, "turns": [
        *[{"tool_calls": [{"name": "read_file", "arguments": {"path": "notes.txt", "start_line": line}}]}
          for line in (1, 60, 120)],
        {"content": "The notes say nothing about add."},
        {"tool_calls": [edit("return a * b")]},
        {"expect": [f"Attempt 2 of {MAX_ATTEMPTS}", "assert -1 == 5", "def add(a, b):"], "absent": ["note line 5:"],
         "tool_calls": [edit("return a ** b")]},
        {"expect": [f"Attempt 3 of {MAX_ATTEMPTS}", "assert -1 == 5"], "tool_calls": [edit("return a + b")]},
        {"content": "fixed add"}]}))
    s = Session(SessionConfig(root=calc_repo, backend=ScriptedBackend(script), registry=default_registry(),
                              policy=Policy(mode="auto"), careful=True, limits=Limits(max_steps=12)))
    s.submit(UserInput(text="What do the notes in notes.txt say about add?"))
    s.submit(UserInput(text="The test in test_calc.py fails; fix calc.py."))
    s.submit(Shutdown())
    events = list(s.events())
    second = events[max(i for i, e in enumerate(events) if e.type == "user_message" and e.by == "user"):]
    compacted = [e for e in second if e.type == "context_compacted"]
    assert len(compacted) == 1, [e.type for e in second]
    # What it evicted: the first task (its message, reads and answer) and the second task's message; not the
    # orienting run and read after it.
    assert "test_calc.py" not in json.dumps([i.model_dump() for i in compacted[0].items if i.role != "user"])
    assert any(i.role == "user" and "notes.txt" in i.preview for i in compacted[0].items)
    assert [(e.number, e.dropped) for e in second if e.type == "attempt_restarted"] == [(2, 4), (3, 5)]
    by_wren = [e.tool_calls[0].name for e in second if e.type == "assistant_message" and e.by == "wren"]
    assert by_wren == ["run_tests", "read_file", "run_tests", "run_tests", "run_tests"]  # oriented once
    assert not any("The task, as the user gave it" in e.text for e in second if e.type == "user_message")
    assert events[-1].status == "success" and (calc_repo / "calc.py").read_text() == CALC.replace("a - b", "a + b")
