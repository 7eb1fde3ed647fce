"""compact, forget and pin on a real model (SmolLM2): the tools are offered, a forced compaction is
summarised by the model itself, and the pinned directive is still in the next prompt verbatim
(pins are never left to the summary)."""
from __future__ import annotations

import json

import pytest

from conftest import CALC
from wren.agent.approval import Policy
from wren.agent.limits import Limits
from wren.agent.models.scripted import ScriptedBackend
from wren.agent.session import Session, SessionConfig
from wren.core.ops import Compact, Shutdown, UserInput
from wren.tools.base import default_registry

pytestmark = pytest.mark.slow

PIN = "Never edit test_calc.py; answer in English."


def session(repo, backend, resume=None):
    return Session(SessionConfig(root=repo, backend=backend, registry=default_registry(), resume_id=resume,
                                 policy=Policy(mode="read-only"), limits=Limits(max_steps=3)))


def test_smollm2_is_offered_the_tools_and_a_forced_compaction_keeps_the_pin(calc_repo, tmp_path):
    from wren.agent.models import resolve_backend

    script = tmp_path / "pin.json"
    script.write_text(json.dumps({"turns": [
        {"tool_calls": [{"name": "read_file", "arguments": {"path": "calc.py"}}]},
        {"tool_calls": [{"name": "pin", "arguments": {"text": PIN}}]}, {"content": "Pinned."}]}))
    first = session(calc_repo, ScriptedBackend(script))
    first.submit(UserInput(text="Read calc.py and pin the rule about the tests."))
    first.submit(Shutdown())
    assert [e.type for e in first.events()].count("context_pinned") == 1

    local = session(calc_repo, resolve_backend("local:smollm2"), resume=first.id)
    assert {"compact", "forget", "pin"} <= {t["function"]["name"] for t in local.offered_tools()}
    local.submit(UserInput(text="What does add in calc.py do?"))
    local.submit(Compact())
    local.submit(Shutdown())
    events = list(local.events())
    assert not [e for e in events if e.type == "error" and e.fatal], [e.message for e in events if e.type == "error"]
    assert any(e.type == "assistant_message" for e in events)  # SmolLM2 took at least one step
    compacted = [e for e in events if e.type == "context_compacted"]
    assert len(compacted) == 1 and compacted[0].reason == "manual" and compacted[0].evicted > 0
    assert compacted[0].summary.strip() and "no narrative summary" not in compacted[0].summary
    prompt = local.context.manager.prompt()
    assert PIN in prompt[1].content  # verbatim, in the block every prompt starts with
    assert local.context.compactions == 1


def test_smollm2_summarises_the_first_task_and_the_second_keeps_its_orienting(calc_repo, tmp_path):
    """Chained tasks on a small window, the second on SmolLM2 (careful, as local models run): the compaction
    its orienting run and read bring on is written by SmolLM2, evicts the first task only, and every attempt
    works from the one orienting (none is run again, no compaction per attempt)."""
    from wren.agent.models import resolve_backend
    from wren.core.config import ContextConfig

    # The orienting run and read of calc.py must bring the prompt over the compaction trigger, with the first
    # task's long answer before them (what its own compaction kept), and SmolLM2's steps are not to decide it.
    # Where the embedding model is missing (CI's fresh clone) recall is lexical and brings in about 460 tokens
    # fewer than hybrid recall: the answer's length is what carries the prompt over the trigger in either case.
    (calc_repo / "calc.py").write_text('"""Arithmetic helpers.\n\n' + "".join(
        f"Note {i}: add and sub take two numbers and return one.\n" for i in range(30)) + '"""\n\n\n' + CALC)
    (calc_repo / "notes.txt").write_text("".join(f"note line {i}: nothing about add here\n" for i in range(400)))
    script = tmp_path / "notes.json"
    script.write_text(json.dumps({"turns": [
        *[{"tool_calls": [{"name": "read_file", "arguments": {"path": "notes.txt", "start_line": line}}]}
          for line in (1, 40, 80)], {"content": "The notes say nothing about add. " + " ".join(
              f"Line {i} is about other things." for i in range(1, 81))}]}))

    def chained(backend, resume=None, steps=4):
        return Session(SessionConfig(root=calc_repo, backend=backend, registry=default_registry(), resume_id=resume,
                                     policy=Policy(mode="auto"), careful=True, limits=Limits(max_steps=steps),
                                     context=ContextConfig(window=4096)))

    first = chained(ScriptedBackend(script))
    first.submit(UserInput(text="What do the notes in notes.txt say about add?"))
    first.submit(Shutdown())
    assert list(first.events())[-1].status == "success"
    local = chained(resolve_backend("local:smollm2"), resume=first.id, steps=6)
    local.submit(UserInput(text="The test in test_calc.py fails; fix calc.py."))
    local.submit(Shutdown())
    events = list(local.events())
    assert not [e for e in events if e.type == "error" and e.fatal], [e.message for e in events if e.type == "error"]
    compacted = [e for e in events if e.type == "context_compacted"]
    assert len(compacted) == 1 and compacted[0].summary.strip() and "no narrative summary" not in compacted[0].summary
    assert compacted[0].summary_model == local.backend.name
    evicted = json.dumps([i.model_dump() for i in compacted[0].items])
    assert "notes.txt" in evicted and "test_calc.py" not in evicted.replace('"The test in test_calc.py', "")
    by_wren = [e.tool_calls[0].name for e in events if e.type == "assistant_message" and e.by == "wren"]
    assert by_wren[:2] == ["run_tests", "read_file"] and "read_file" not in by_wren[2:]  # oriented once
    assert any(e.type == "assistant_message" and e.by != "wren" for e in events)  # SmolLM2 took its steps


def test_a_local_model_with_prose_replies_opens_its_summary_with_the_task_and_writes_it_once(tmp_path):
    """SmolLM2 under a template of the tagged-calls family (Qwen's, whose replies without tools are prose): the
    compaction that evicts the task gives it the task and the pin to open with, verbatim, and the model writes on
    from them, once. Under its own template (JSON steps, which wrap every reply) it is asked as before."""
    from conftest import smollm2_path
    from test_context_steering import PIN as PINNED, TASK, evicting_the_task
    from test_local_formats import HERMES_TEMPLATE
    from wren.context.compaction import Compactor
    from wren.context.memory import SessionMemory
    from wren.local_models.backend import LocalBackend
    from wren.local_models.prompt import PromptRenderer

    local = LocalBackend(smollm2_path(), n_ctx=4096)
    assert not local.opens_summaries  # JSON steps
    local.renderer = PromptRenderer(HERMES_TEMPLATE, local._token_text("bos"), local._token_text("eos"), local.name)
    assert local.opens_summaries
    calls: list[str] = []

    class Counted:  # the real model; the only seam counts its calls
        count_tokens = staticmethod(local.count_tokens)
        opens_summaries = True

        def summarize(self, messages, on_delta, focus="", opening=""):
            calls.append(opening)
            return local.summarize(messages, on_delta, focus, opening)

    ctx, _ = evicting_the_task()
    warned: list[str] = []
    event = Compactor(local, SessionMemory(tmp_path, "s", None), Counted()).compact(  # type: ignore[arg-type]
        ctx, [], "model", 1, None, warn=warned.append)
    opening = f"Task: {TASK}\nPinned notes (verbatim):\n- {PINNED}\n"
    assert calls == [opening] and not warned, warned
    assert event.summary.startswith(opening.strip()) and len(event.summary) > len(opening), event.summary
