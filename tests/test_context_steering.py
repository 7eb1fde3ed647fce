"""The model steers its context: compact, forget and pin through scripted transcripts (events, stubs,
recall by id, pins through compaction and resume, undo), and summaries that lose a pin are retried."""
from __future__ import annotations

import json

from wren.agent.approval import Policy
from wren.agent.limits import Limits
from wren.agent.models.scripted import ScriptedBackend
from wren.context.compaction import CUT
from wren.agent.session import Session, SessionConfig
from wren.core.messages import Message
from wren.core.ops import Shutdown, UndoCompaction, UserInput
from wren.tools.base import default_registry

NEEDLE = "The staging database listens on port 6543."
PIN = "Never edit files under notes/."
TASK = "Audit the service logs and report the staging port."


def call(name, **arguments):
    return {"name": name, "arguments": arguments}


def run(repo, script_path, turns, prompts, resume=None, ops=(), **script):
    script_path.write_text(json.dumps({"turns": turns, **script}))
    backend = ScriptedBackend(script_path)
    session = Session(SessionConfig(root=repo, backend=backend, registry=default_registry(),
                                    policy=Policy(mode="auto"), limits=Limits(max_steps=20), resume_id=resume))
    for op in ops:
        session.submit(op)
    for text in prompts:
        session.submit(UserInput(text=text))
    session.submit(Shutdown())
    events = list(session.events())
    return session, backend, events


def of(events, kind):
    return [e for e in events if e.type == kind]


def test_forget_pin_compact_recall_resume_and_undo(calc_repo, tmp_path):
    (calc_repo / "service.log").write_text("boot ok\n" + "request served\n" * 40 + NEEDLE + "\n")
    turns = [
        {"tool_calls": [call("read_file", path="service.log")]},
        {"tool_calls": [call("pin", text=PIN), call("forget", ids=["call_0_0"])], "expect": [NEEDLE, "[id call_0_0]"]},
        # The result left the prompt: a stub names its id; the pin is in the prompt.
        {"tool_calls": [call("recall", query="call_0_0")], "absent": [NEEDLE], "expect": ["[forgotten:", PIN]},
        {"tool_calls": [call("compact", keep="the staging port")], "expect": [NEEDLE]},
        {"content": "Port 6543.", "expect": [PIN, "Summary of compaction 1"]},
    ]
    session, backend, events = run(calc_repo, tmp_path / "s.json", turns, [TASK])
    assert of(events, "result")[-1].status == "success", [e for e in events if e.type == "error"]
    forgotten = of(events, "context_forgotten")
    assert [f.call_ids for f in forgotten] == [["call_0_0"]] and forgotten[0].items[0].name == "read_file"
    assert [p.text for p in of(events, "context_pinned")] == [PIN]
    recall = next(e for e in of(events, "tool_result") if e.name == "recall")
    assert NEEDLE in recall.output  # recall by id: the whole result
    compacted = of(events, "context_compacted")
    assert len(compacted) == 1 and compacted[0].reason == "model"
    assert "the staging port" in backend.summary_focus[0] and PIN in backend.summary_focus[0]

    # Resumed: the pin, the stub and the compaction come back from the log.
    later = [{"content": "Still 6543.", "expect": [PIN]},
             {"content": "after undo", "expect": [NEEDLE], "absent": ["[forgotten:"]}]
    resumed, _, more = run(calc_repo, tmp_path / "r.json", later, ["What port again?"], resume=session.id)
    assert of(more, "result")[-1].status == "success", [e.message for e in of(more, "error")]
    assert resumed.context.manager.pins == [PIN]
    undo = [UndoCompaction(), UndoCompaction(), UndoCompaction()]
    again, _, last = run(calc_repo, tmp_path / "u.json", later[1:], ["Go on."], resume=session.id, ops=undo)
    assert [u.what for u in of(last, "compaction_undone")] == ["compaction", "forget", "pin"]
    assert of(last, "result")[-1].status == "success", [e.message for e in of(last, "error")]
    assert again.context.manager.pins == []


def test_forget_of_an_unknown_id_and_an_oversized_pin_are_errors_the_model_sees(calc_repo, tmp_path):
    turns = [{"tool_calls": [call("forget", ids=["call_9_9"]), call("pin", text="x" * 400)]}, {"content": "ok"}]
    _, _, events = run(calc_repo, tmp_path / "s.json", turns, ["hi"])
    results = of(events, "tool_result")
    assert [r.ok for r in results] == [False, False]
    assert "call_9_9" in results[0].output and "at most 300" in results[1].output
    assert not of(events, "context_forgotten") and not of(events, "context_pinned")


def test_compact_with_an_oversized_keep_is_refused_and_changes_nothing(calc_repo, tmp_path):
    turns = [{"tool_calls": [call("read_file", path="calc.py")]}, {"tool_calls": [call("compact", keep="k" * 5000)]},
             {"content": "ok"}]
    _, _, events = run(calc_repo, tmp_path / "s.json", turns, ["hi"])
    refused = of(events, "tool_result")[-1]
    assert not refused.ok and "keep is 5000 characters" in refused.output
    assert not of(events, "context_compacted")


def test_a_summary_that_loses_a_pin_is_retried_naming_it(calc_repo, tmp_path):
    turns = [{"tool_calls": [call("pin", text=PIN)]}, {"tool_calls": [call("compact")]}, {"content": "done"}]
    summaries = ["Read some logs.", f"Task: {TASK} Pinned: {PIN}"]
    _, backend, events = run(calc_repo, tmp_path / "s.json", turns, [TASK], summaries=summaries)
    compacted = of(events, "context_compacted")[0]
    assert compacted.summary == summaries[1]
    assert len(backend.summary_focus) == 2
    assert "lost the task" in backend.summary_focus[1] and "pinned note 1" in backend.summary_focus[1]
    assert PIN in backend.summary_focus[1]
    assert not [e for e in of(events, "error") if "lost" in e.message]


def test_a_summary_that_loses_the_pin_twice_keeps_it_verbatim_with_a_warning(calc_repo, tmp_path):
    turns = [{"tool_calls": [call("pin", text=PIN)]}, {"tool_calls": [call("compact")]},
             {"content": "done", "expect": [PIN]}]
    summaries = [f"Task: {TASK}", "Nothing."]
    _, _, events = run(calc_repo, tmp_path / "s.json", turns, [TASK], summaries=summaries)
    compacted = of(events, "context_compacted")[0]
    assert compacted.summary.startswith(summaries[0]) and PIN in compacted.summary
    assert [e for e in of(events, "error") if "lost pinned note 1 twice" in e.message]


def test_pins_and_forgets_show_in_the_context_view_and_over_acp(calc_repo, tmp_path):
    from wren.protocol.updates import context_change, replay
    from wren.tui.context_view import forgotten_text, pinned_text
    from wren.tui.state import ViewState

    (calc_repo / "service.log").write_text(NEEDLE + "\n")
    turns = [{"tool_calls": [call("read_file", path="service.log")]},
             {"tool_calls": [call("pin", text=PIN), call("forget", ids=["call_0_0"])]}, {"content": "ok"}]
    _, _, events = run(calc_repo, tmp_path / "s.json", turns, [TASK], ops=())
    state = ViewState()
    for event in events:
        state.apply(event)
    assert PIN in pinned_text(state).plain
    assert "call_0_0 read_file: " in forgotten_text(state).plain and "6543" in forgotten_text(state).plain
    changes = [context_change(e) for e in events if e.type in ("context_pinned", "context_forgotten")]
    assert changes == [f"pinned: {PIN}", "forgot the results of call_0_0 (recall by id brings one back)"]
    thoughts = [u.content.text for u in replay(calc_repo, events) if u.session_update == "agent_thought_chunk"]
    assert thoughts == changes  # an editor loading the session sees them too
    from wren.core.events import CompactionUndone

    state.apply(CompactionUndone(number=0, restored=1, what="forget"))
    state.apply(CompactionUndone(number=0, restored=0, what="pin"))
    assert not state.pins and not state.forgotten


def test_compact_with_nothing_to_compact_is_an_error_and_counts_no_compaction(calc_repo, tmp_path):
    # The first compact leaves only the step that asked; the second has nothing left to compact.
    turns = [{"tool_calls": [call("compact"), call("compact")]}, {"content": "ok", "absent": ["compaction 2"]}]
    session, _, events = run(calc_repo, tmp_path / "s.json", turns, ["hi"])
    first, second = of(events, "tool_result")
    assert first.ok and not second.ok and "cannot be compacted further" in second.output
    assert session.context.compactions == 1 and len(of(events, "context_compacted")) == 1


def test_a_compaction_that_frees_nothing_says_so(calc_repo, tmp_path):
    # First thing in a session there is only the task to compact, and its summary is no shorter.
    turns = [{"tool_calls": [call("compact")]}, {"content": "ok"}]
    _, _, events = run(calc_repo, tmp_path / "s.json", turns, ["hi"])
    (compacted,) = of(events, "context_compacted")
    assert compacted.tokens_after >= compacted.tokens_before
    assert "It freed nothing" in of(events, "tool_result")[-1].output


def test_after_a_second_task_the_block_lists_the_requests_and_only_the_newest_is_held(calc_repo, tmp_path):
    """bench/chained.py on Qwen2.5-Coder-1.5B: working on flatten, every compaction's summary was held to the
    session's first request (gcd, long evicted), sent back for it and then given it as "the task", and the summary
    block showed gcd under "## Task". A summary is held to the request being worked on (the newest) when it evicts
    it; with several requests the block lists them all verbatim, oldest first, none called the task."""
    from wren.context.compaction import must_keep
    from wren.context.manager import ContextManager

    ctx = ContextManager("system")
    for text in (TASK, "Now fix flatten."):
        ctx.add_directive(text)
    later = [Message(role="user", content="Now fix flatten.\n\n[Recalled ...]"), Message(role="assistant", content="ok")]
    assert must_keep(ctx, later) == {"the task": "Now fix flatten."}
    assert must_keep(ctx, [Message(role="user", content=TASK)]) == {}  # finished, and in the block verbatim
    second = "Now fix the flatten program."
    turns = [{"content": "Audited."},
             {"tool_calls": [call("compact")]},
             {"content": "ok", "expect": [f"the last is the newest)\n- {TASK}\n- {second}"], "absent": ["## Task\n"]}]
    _, backend, events = run(calc_repo, tmp_path / "s.json", turns, [TASK, second], summaries=[f"Now: {second}"])
    # No second summarizer call: the summary holds the newest request and need not hold the finished first.
    assert len(of(events, "context_compacted")) == 1 and len(backend.summary_focus) == 1


def test_a_summary_longer_than_half_of_what_it_replaces_is_cut(calc_repo, tmp_path):
    """Qwen2.5-Coder-1.5B's summaries were as long as what they replaced (a compaction took 2,666 tokens to 2,690),
    so the next step compacted again. A summary is cut to half of the evicted tokens; memory keeps the rest."""
    (calc_repo / "service.log").write_text("".join(f"request {i} served in {i % 7} ms\n" for i in range(300)))
    turns = [{"tool_calls": [call("read_file", path="service.log")]}, {"tool_calls": [call("compact")]},
             {"tool_calls": [call("recall", query="request 299 served")], "expect": ["session memory: recall"]},
             {"content": "ok", "expect": ["request 299 served in 5 ms"]}]
    long = "Read service.log. " + "The log lists requests and how long each took. " * 400
    session, backend, events = run(calc_repo, tmp_path / "s.json", turns, ["Read service.log."], summaries=[long])
    (compacted,) = of(events, "context_compacted")
    assert compacted.summary.endswith(CUT)
    assert long.startswith(compacted.summary.split(" [summary cut")[0])
    cut = backend.count_tokens([Message(role="assistant", content=compacted.summary)], [])
    assert cut < backend.count_tokens([Message(role="assistant", content=long)], []) / 2
    assert compacted.tokens_after < compacted.tokens_before
    # The summariser was stopped once past the bound, not left to write what is cut away after.
    (streamed,) = backend.summary_streamed
    assert len(compacted.summary) <= streamed < len(long) / 2


def test_what_a_summary_lost_is_added_after_the_cut_not_cut_away(calc_repo, tmp_path):
    """The cut comes before the check of what a summary kept: a pin the summarizer lost twice is added verbatim
    after it, whole."""
    turns = [{"tool_calls": [call("pin", text=PIN)]}, {"tool_calls": [call("compact")]}, {"content": "done"}]
    long = f"Task: {TASK} " + "Nothing else happened here. " * 300
    _, _, events = run(calc_repo, tmp_path / "s.json", turns, [TASK], summaries=[long, long])
    (compacted,) = of(events, "context_compacted")
    assert CUT in compacted.summary and compacted.summary.endswith(f"Pinned note 1 (verbatim): {PIN}")


def evicting_the_task() -> "tuple[object, list[Message]]":
    """A context whose task, a pin and a read are evicted by the model's own compaction (every unit but the newest)."""
    from wren.context.manager import ContextManager
    from wren.core.messages import ToolCall

    ctx = ContextManager("You are a coding agent.")
    ctx.add_directive(TASK)
    ctx.pin(PIN)
    read = ToolCall(id="c1", name="read_file", arguments='{"path": "service.log"}')
    for m in [Message(role="user", content=TASK), Message(role="assistant", tool_calls=[read]),
              Message(role="tool", tool_call_id="c1", name="read_file", content=NEEDLE * 40),
              Message(role="assistant", content="The staging port is in the log."), Message(role="user", content="Go on.")]:
        ctx.add(m)
    return ctx, ctx.messages[:4]


def test_a_summariser_that_takes_an_opening_opens_with_the_task_and_pins_and_writes_once(tmp_path):
    """Qwen2.5-Coder-1.5B's summaries lost the task every time, and again when asked once more (bench/chained.py:
    one compaction, two summaries, 193 s). A summariser that takes an opening (a local model whose replies are prose)
    is given the held parts to open with and goes on from them: one call, nothing added after. One that does not
    take an opening is asked as before (the retry tests above)."""
    from wren.context.compaction import Compactor
    from wren.context.memory import SessionMemory

    script = tmp_path / "s.json"
    script.write_text(json.dumps({"turns": [], "summaries": ["Read service.log; the port is in it."]}))

    class Opening(ScriptedBackend):
        opens_summaries = True
        openings: list[str] = []

        def summarize(self, messages, on_delta=lambda d: None, focus="", opening=""):
            self.openings.append(opening)
            on_delta(opening)
            return opening + super().summarize(messages, on_delta, focus)

    ctx, _ = evicting_the_task()
    summarizer, warned = Opening(script), []
    event = Compactor(summarizer, SessionMemory(tmp_path, "s", None), summarizer).compact(
        ctx, [], "model", 1, None, warn=warned.append)
    assert summarizer.openings == [f"Task: {TASK}\nPinned notes (verbatim):\n- {PIN}\n"] and not warned
    assert event.summary == summarizer.openings[0] + "Read service.log; the port is in it."
    assert len(summarizer.summary_focus) == 1  # no retry

    plain = ScriptedBackend(script)  # no opening: the summary lost both, so it is asked again
    ctx, _ = evicting_the_task()
    Compactor(plain, SessionMemory(tmp_path, "t", None), plain).compact(ctx, [], "model", 1, None, warn=warned.append)
    assert len(plain.summary_focus) == 2 and "lost the task" in plain.summary_focus[1]


def test_a_pinned_secret_is_redacted_in_what_the_summariser_is_told_to_keep(calc_repo, tmp_path):
    """The pins the summariser is told to keep are redacted one by one, as the rest of its prompt is: after the
    list's "- " a `NAME=value` secret was not seen as one, and reached a (possibly hosted) summariser."""
    secret = "DB_PASSWORD=hunter2hunter2"
    turns = [{"tool_calls": [call("pin", text=f"{secret}")]}, {"tool_calls": [call("compact")]}, {"content": "done"}]
    _, backend, events = run(calc_repo, tmp_path / "s.json", turns, [TASK])
    assert len(of(events, "context_compacted")) == 1
    focus = "\n".join(backend.summary_focus)
    assert "Pinned notes" in focus and "hunter2hunter2" not in focus, focus
