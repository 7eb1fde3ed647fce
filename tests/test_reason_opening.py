"""A narrowed edit's reason opens with the failing run's first failure (formats.reason_opening), as run_tests
says it: real pytest runs, SmolLM2's reply."""
from __future__ import annotations

import pytest

from test_narrowing import GREET


@pytest.mark.slow
def test_a_narrowed_edit_s_reason_opens_with_the_failure_the_run_showed(backend, tmp_path, monkeypatch):
    """The reason before a narrowed edit opens with the failing run's first failure (formats.reason_opening):
    opened with "the input is", Qwen named inputs the test never used. A real pytest run's failure, SmolLM2's
    reply in Qwen's tool-call format (SmolLM2's own has no tag to end a reason at, so it gives none)."""
    (tmp_path / "test_greet.py").write_text("from greet import greet\n\n\ndef test_greet():\n    name = 'Ann'\n"
                                           "    assert greet(name) == 'Hello, Ann?'\n")
    (tmp_path / "greet.py").write_text(GREET)
    # With where the wrong value came from: the line that returned it and the line that set what it read.
    reason_opened_with_the_failure(backend, tmp_path, monkeypatch, "greet.py", (
        "`greet('Ann')` returned 'Hello, Ann!', expected 'Hello, Ann?'; it returned at line 3 "
        "`return \"Hello, \" + name + sep`, sep was last set by line 2 `sep = \"!\"`"))


@pytest.mark.slow
def test_a_narrowed_edit_of_a_recursion_opens_with_its_smallest_own_calls(backend, tmp_path, monkeypatch):
    """For a function that calls itself, the failure names its smallest own call at each line it returned from
    (wren_origins): told only the top call's line, Qwen rewrote that line of QuixBugs levenshtein 7 times of 7."""
    (tmp_path / "count.py").write_text("def positives(xs):\n    if not xs:\n        return 0\n    if xs[0] < 0:\n"
                                       "        return 1 + positives(xs[1:])\n    return 1 + positives(xs[1:])\n")
    (tmp_path / "test_count.py").write_text("from count import positives\n\n\n"
                                            "def test_positives():\n    assert positives([1, -2, 3]) == 2\n")
    reason_opened_with_the_failure(backend, tmp_path, monkeypatch, "count.py", (
        "`positives([1, -2, 3])` returned 3, expected 2; it returned at line 6 `return 1 + positives(xs[1:])`, "
        "its own calls: `positives([])` returned 0 at line 3, `positives([-2, 3])` returned 2 at line 5, "
        "`positives([3])` returned 1 at line 6"))


def reason_opened_with_the_failure(backend, root, monkeypatch, program: str, expected: str) -> None:
    """A real pytest run of `root` fails with `expected` first; SmolLM2's narrowed edit of `program` opens its
    reason with it, evaluated with the prompt, and ends in a call."""
    from test_tools_tests import run_tests
    from wren.agent.narrowing import narrowed_edit
    from wren.agent.prompt import system_prompt
    from wren.core.messages import Message
    from wren.local_models.formats import HERMES, reason_opening
    from wren.tools.base import default_registry
    from wren.tools.workspace import Workspace

    monkeypatch.setattr(backend.renderer, "format", HERMES)
    failure = run_tests(root).first_failure
    assert failure == expected
    tools = default_registry().schemas()
    narrowed = narrowed_edit(next(t for t in tools if t["function"]["name"] == "edit_file"), [program],
                             Workspace(root), failure=failure)
    prompt = [Message(role="system", content=system_prompt(root)),
              Message(role="user", content=f"The test fails; fix {program}.")]
    size = len(backend.prompt_tokens(prompt, tools)[0])
    reply = backend.complete(prompt, tools, lambda text: None, tool_choice=narrowed)
    opening = f"In the failing test, {failure}. This happens because"
    assert reason_opening(failure) == opening
    assert reply.content.startswith(opening) and len(reply.content) > len(opening), reply.content
    # The opening is evaluated with the prompt (one batch), not generated a token at a time.
    assert reply.usage.prompt_tokens == size + backend._length(opening)
    assert [c.name for c in reply.tool_calls] in (["edit_file"], ["answer"]), reply
