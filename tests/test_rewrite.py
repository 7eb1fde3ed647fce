"""Rewrite attempts (agent/rewrite.py): every second attempt of a careful session writes the function under
test anew, from its documentation with its body left out, or again with it in view; Wren puts the reply's
definition in place and tests it like a line fix."""
from __future__ import annotations

import json

import pytest

from test_orient import write
from test_session import drive, make_session
from wren.agent.attempts import MAX_ATTEMPTS
from wren.agent.limits import Limits
from wren.agent.rewrite import definition, find_target, is_hidden, is_rewrite

DOCUMENTED = 'def add(a, b):\n    """The sum of a and b."""\n    return a - b\n'
TEST = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
TASK = "The test in test_calc.py fails; fix calc.py."


def edit(old: str, new: str) -> dict:
    return {"name": "edit_file", "arguments": {"path": "calc.py", "old": old, "new": new}}


def test_the_function_the_failure_calls_is_the_target_when_documented(tmp_path):
    ws = write(tmp_path, {
        "prog.py": "import math\n\n\ndef helper(x):\n    return x\n\n\n@staticmethod\ndef gcd(a, b):\n"
                   "    return gcd(a % b, b)\n\n\n\"\"\"\nGreatest common divisor\n\"\"\"\n",
        "bare.py": "def f(x):\n    return x\n", "long.py": "def g():\n    '''Doc.'''\n" + "    x = 1\n" * 80})
    target = find_target(["prog.py"], ws, "`gcd(35, 21)` returned 0, expected 7")
    assert target is not None and (target.name, target.header, target.doc) == (
        "gcd", "def gcd(a, b):", "Greatest common divisor")
    assert target.source == "@staticmethod\ndef gcd(a, b):\n    return gcd(a % b, b)"  # as in the file, decorators too
    # Two functions and the failure names neither: no guess. Undocumented, or too long to write in a step: none.
    assert find_target(["prog.py"], ws, "AssertionError") is None
    assert find_target(["bare.py"], ws, "`f(1)` returned 1") is None
    assert find_target(["long.py"], ws, "`g()` returned 1") is None
    assert find_target(["test_missing.py", "bare.py", "prog.py"], ws, "`gcd(1, 1)` returned 0").name == "gcd"


def test_a_request_from_the_documentation_names_what_the_function_uses_from_outside_itself(tmp_path):
    """Asked without them, Qwen2.5-Coder-1.5B guessed `node.neighbors` for nodes that have `successors`."""
    ws = write(tmp_path, {"search.py": (
        "from collections import deque as Queue\n\n\ndef reachable(start, goal):\n"
        '    """Whether goal is reachable from start."""\n    import heapq\n    seen, queue = set(), Queue([start])\n'
        "    while queue:\n        node = queue.popleft()\n        heapq.heapify([])\n"
        "        if node is goal or any(n.successor is goal for n in node.successors):\n            return True\n"
        "        seen.add(node)\n        queue.extend(n for n in node.successors if n not in seen)\n"
        "    try:\n        pass\n    except ValueError as e:\n        raise TypeError() from e\n"
        "    match start:\n        case [x, *rest] | {'k': x, **rest}:\n            return x, rest\n"
        "    class Local:\n        pass\n"
        "    return Local\n")})
    target = find_target(["search.py"], ws, "`reachable(a, b)` returned False")
    assert target.known == {"Queue"}  # what the file's other top-level statements bind
    # Module names and other values' attributes, in order; not its own names, builtins, deque's or set's methods,
    # nor a module it imports itself.
    assert target.uses == ("Queue", "n.successor", "node.successors")
    assert target.request(hidden=True).endswith(
        "As the code it replaces does, it may use: `Queue`, `n.successor`, `node.successors`.")
    assert "may use" not in target.request(hidden=False)  # the code is in view


def test_the_definition_is_taken_from_the_replys_code_block():
    reply = ("Here it is:\n```python\nimport math\n\ndef lcm(a, b):\n    return a\n\n\ndef gcd(a, b):\n"
             "    while b:\n        a, b = b, a % b\n    return a\n```\nIt loops.")
    assert definition(reply, "gcd") == "def gcd(a, b):\n    while b:\n        a, b = b, a % b\n    return a"
    assert definition("def gcd(a, b):\n    return a\n", "gcd") == "def gcd(a, b):\n    return a"  # no fence
    assert definition("```python\ndef gcd(a, b):\n    return (\n```", "gcd") is None  # does not parse
    assert definition("```python\ndef lcm(a, b):\n    return a\n```", "gcd") is None
    # With the block's imports and functions it uses, at any depth, in the block's order; not the others.
    reply = ("```python\nimport math\nimport os\nfrom heapq import heappush as push\n\n\ndef lcm(a, b):\n"
             "    return a\n\n\ndef mst(w):\n    push([], 1)\n    return find(w) + math.pi\n\n\n"
             "def find(p):\n    return root(p)\n\n\nclass Unused:\n    pass\n\n\ndef root(p):\n    return p\n```")
    # Constants it uses come too, and star imports; what the file defines already (`known`) stays the file's.
    stub = ("```python\nfrom math import *\nINF = float('inf')\n\n\nclass Node:\n    pass\n\n\n"
            "def far(nodes):\n    return {Node(): INF for _ in nodes}, sqrt(2)\n```")
    assert definition(stub, "far") == ("from math import *\nINF = float('inf')\n\n\nclass Node:\n    pass\n\n\n"
                                       "def far(nodes):\n    return {Node(): INF for _ in nodes}, sqrt(2)")
    assert definition(stub, "far", known=frozenset({"Node"})).startswith("from math import *\nINF = float('inf')\n"
                                                                           "\n\ndef far(nodes):")
    assert definition(reply, "mst") == (
        "import math\nfrom heapq import heappush as push\n\n\ndef mst(w):\n    push([], 1)\n"
        "    return find(w) + math.pi\n\n\ndef find(p):\n    return root(p)\n\n\ndef root(p):\n    return p")
    # Attempts 2, 4, ... but not the last (it has every tool); the first rewrite leaves the body out.
    assert [n for n in range(1, MAX_ATTEMPTS + 1) if is_rewrite(n, MAX_ATTEMPTS)] == [2, 4, 6, 8, 10]
    assert [is_hidden(n) for n in (2, 4, 6)] == [True, False, True]


def test_a_rewrite_attempt_writes_the_function_from_its_documentation_without_its_body(tmp_path):
    repo = tmp_path / "repo"
    write(repo, {"calc.py": DOCUMENTED, "test_calc.py": TEST})
    wrong = "```python\ndef add(a, b):\n    return a * b\n```"
    right = '```python\ndef add(a, b):\n    """The sum of a and b."""\n    return a + b\n```'
    s = make_session(repo, tmp_path, [
        {"tool_calls": [edit("return a - b", "return a * b")]},  # attempt 1: a line fix, failing
        # Attempt 2 asks for `add` on its own, from its documentation: not the body, nor the conversation.
        {"expect": ["Write this Python function", "The sum of a and b.", "Start with `def add(a, b):`"],
         "absent": ["return a - b", "return a * b", "Attempt 2", TASK], "content": wrong},
        # Put in place by Wren, tested, failing: attempt 3 (line fixes) works from Wren's orienting calls.
        {"expect": ["Attempt 3 of", "return a - b"], "absent": ["a * b"],
         "tool_calls": [edit("return a - b", "return a - b + 0")]},
        # Attempt 4 writes it again with the code in view, and this one passes.
        {"expect": ["This Python code has a bug", "return a - b", "The sum of a and b."], "absent": [TASK],
         "content": right},
        # The answer is asked on its own too: the function before and after, not the conversation.
        {"expect": ["`add` in calc.py had a bug", "return a - b", "return a + b", "tell the user what was wrong"],
         "absent": [TASK, "Attempt 4"], "content": "add returns the sum now"}],
        mode="auto", careful=True, limits=Limits(max_steps=20))
    events = drive(s, TASK, lambda e: None)
    assert events[-1].status == "success", events[-1]
    assert (repo / "calc.py").read_text() == DOCUMENTED.replace("a - b", "a + b")
    by_wren = [(c.name, c.arguments) for e in events if e.type == "assistant_message" and e.by == "wren"
               for c in e.tool_calls]
    rewrites = [args for name, args in by_wren if name == "edit_file"]
    assert len(rewrites) == 2 and json.loads(rewrites[0])["old"] == DOCUMENTED.rstrip("\n")
    # Oriented once: the attempt that left the body out was prompted without those calls, the context kept them.
    assert [name for name, _ in by_wren].count("read_file") == 1
    from wren.core.backend import choice_name

    # The rewrite steps and the answer after a passing one offer no tools, so they name no tool_choice.
    assert [choice_name(c) for c in s.backend.tool_choices] == ["edit_file", "auto", "edit_file", "auto", "auto"]
    assert events[-1].summary == "add returns the sum now"
    notes = [e.text for e in events if e.type == "user_message" and e.by == "wren"]
    assert notes[0].startswith(f"[Wren] Attempt 2 of {MAX_ATTEMPTS} writes `add` in calc.py anew, asked on its own:]\n"
                               "Write this Python function")


def test_a_rewrite_that_returns_the_code_in_view_unchanged_is_asked_again_from_the_documentation(tmp_path):
    """Qwen2.5-Coder-1.5B, shown hanoi's and minimum_spanning_tree's code, wrote it back as it was (QuixBugs at
    4742262): the same attempt asks again with the body out of view, a step, not an attempt."""
    repo = tmp_path / "repo"
    write(repo, {"calc.py": DOCUMENTED, "test_calc.py": TEST})
    same = "```python\n" + DOCUMENTED.replace("return a - b", "return a - b  # the sum") + "```"
    right = '```python\ndef add(a, b):\n    """The sum of a and b."""\n    return a + b\n```'
    s = make_session(repo, tmp_path, [
        {"tool_calls": [edit("return a - b", "return a * b")]},  # attempt 1: failing
        {"expect": ["Write this Python function"], "content": "```python\ndef add(a, b):\n    return a * b\n```"},
        {"expect": ["Attempt 3 of"], "tool_calls": [edit("return a - b", "return a - b + 0")]},
        # Attempt 4 shows the code; the reply is that code again (a comment added).
        {"expect": ["This Python code has a bug", "return a - b"], "content": same},
        # Asked again in the same attempt, from the documentation only.
        {"expect": ["Write this Python function", "The sum of a and b."], "absent": ["return a - b", TASK],
         "content": right},
        {"expect": ["`add` in calc.py had a bug"], "content": "add returns the sum now"}],
        mode="auto", careful=True, limits=Limits(max_steps=20))
    events = drive(s, TASK, lambda e: None)
    assert events[-1].status == "success", events[-1]
    assert [e.number for e in events if e.type == "attempt_restarted"] == [2, 3, 4]
    assert (repo / "calc.py").read_text() == DOCUMENTED.replace("a - b", "a + b")
    notes = [e.text for e in events if e.type == "user_message" and e.by == "wren"]
    assert any(n.startswith("[Wren] The reply wrote `add` as it was, so it is asked again with its body out of view:]\n"
                            "Write this Python function") for n in notes)


def test_a_reply_without_the_definition_ends_the_rewrite_attempt(tmp_path):
    repo = tmp_path / "repo"
    write(repo, {"calc.py": DOCUMENTED, "test_calc.py": TEST})
    s = make_session(repo, tmp_path, [
        {"tool_calls": [edit("return a - b", "return a * b")]},
        {"expect": ["Write this Python function"], "content": "The function should add the numbers."},
        {"expect": ["Attempt 3 of", "its reply held no definition of add"], "tool_calls": [edit("a - b", "a + b")]},
        {"content": "fixed"}], mode="auto", careful=True, limits=Limits(max_steps=20))
    events = drive(s, TASK, lambda e: None)
    assert events[-1].status == "success" and (repo / "calc.py").read_text() == DOCUMENTED.replace("a - b", "a + b")
    assert [e.reason for e in events if e.type == "attempt_restarted"] == [
        "its change left the tests failing", "its reply held no definition of add"]


class FirstStepScripted:
    """The real model's backend, but its first steps are given (`first`: a tool call, or a reply's text, each): a
    wrong fix makes a careful session's attempt 1 fail for sure, and attempt 2, the rewrite, is the real model's
    (or given too). Records each step's messages."""

    def __init__(self, real, *first):
        self.real, self.first, self.prompts = real, first, []

    def __getattr__(self, name):
        return getattr(self.real, name)

    def complete(self, messages, tools, on_delta, effort=None, on_thought=None, tool_choice="auto", opening=""):
        from wren.core.backend import ModelReply

        self.prompts.append([m.content or "" for m in messages])
        if len(self.prompts) <= len(self.first):
            given = self.first[len(self.prompts) - 1]
            return ModelReply(content=given) if isinstance(given, str) else ModelReply(content="", tool_calls=[given])
        extra = {"on_thought": on_thought} if on_thought else {}
        return self.real.complete(messages, tools, on_delta, effort=effort, tool_choice=tool_choice, opening=opening,
                                  **extra)


@pytest.fixture(scope="module")
def tagged_smollm2():
    """SmolLM2 under a template of the tagged-calls family (Qwen's), whose replies without tools are prose, so a
    reply can be opened with given text (LocalBackend.opens_summaries)."""
    from conftest import smollm2_path
    from test_local_formats import HERMES_TEMPLATE
    from wren.local_models.backend import LocalBackend
    from wren.local_models.prompt import PromptRenderer

    local = LocalBackend(smollm2_path(), n_ctx=4096)
    local.renderer = PromptRenderer(HERMES_TEMPLATE, local._token_text("bos"), local._token_text("eos"), local.name)
    assert local.opens_summaries
    return local


@pytest.mark.slow
@pytest.mark.parametrize("template", ["json-steps", "tagged"])
def test_on_the_real_model_a_rewrite_step_replies_with_code_wren_puts_in_place_or_ends_the_attempt(
        tmp_path, template, request):
    from wren.agent.approval import Policy
    from wren.agent.session import Session, SessionConfig
    from wren.core.messages import ToolCall
    from wren.core.ops import Shutdown, UserInput
    from wren.tools.base import default_registry

    repo = tmp_path / "repo"
    write(repo, {"calc.py": DOCUMENTED, "test_calc.py": TEST})
    wrong = ToolCall(id="first", name="edit_file",
                     arguments=json.dumps(edit("return a - b", "return a * b")["arguments"]))
    model = FirstStepScripted(request.getfixturevalue("backend" if template == "json-steps" else "tagged_smollm2"),
                              wrong)
    session = Session(SessionConfig(root=repo, backend=model, registry=default_registry(), careful=True,
                                    policy=Policy(mode="auto"), limits=Limits(max_steps=4)))
    session.submit(UserInput(text=TASK))
    session.submit(Shutdown())
    events = [e.model_dump() for e in session.events()]
    restarts = [e for e in events if e["type"] == "attempt_restarted"]
    assert restarts[0]["number"] == 2
    # The rewrite step's prompt: the documentation and the failing call, not the body with the bug.
    rewrite_prompt = "\n".join(model.prompts[1])
    assert model.prompts[1][1].startswith("Write this Python function") and "The sum of a and b." in rewrite_prompt
    assert "return a - b" not in rewrite_prompt and len(model.prompts[1]) == 2  # on its own, after a system message
    # The model's step is a reply (the grammar allows no call), then Wren's: the reply's definition put in
    # place and tested, or the attempt ended for want of one.
    steps = [e for e in events if e["type"] == "assistant_message"]
    after = steps[[i for i, e in enumerate(steps) if e["by"] == "model"][1]:]
    assert after[0]["by"] == "model" and not after[0]["tool_calls"], after[0]
    if template == "tagged":  # prose replies: it opens with a Python code block
        assert after[0]["content"].startswith("```python\n"), after[0]["content"]
    edits = [c for e in after[1:2] if e["by"] == "wren" for c in e["tool_calls"] if c["name"] == "edit_file"]
    if edits:
        assert json.loads(edits[0]["arguments"])["old"] == DOCUMENTED.rstrip("\n")
        results = {e["call_id"]: e for e in events if e["type"] == "tool_result"}
        if results[edits[0]["id"]]["ok"]:
            assert after[2]["by"] == "wren" and after[2]["tool_calls"][0]["name"] == "run_tests"
    else:
        assert [r["reason"] for r in restarts][1:2] in (
            ["its reply held no definition of add"], ["its definition of add was refused"])
    assert (repo / "test_calc.py").read_text() == TEST


@pytest.mark.slow
def test_on_the_real_model_the_answer_after_a_passing_rewrite_is_asked_on_its_own(tmp_path, backend):
    from wren.agent.approval import Policy
    from wren.agent.session import Session, SessionConfig
    from wren.core.messages import ToolCall
    from wren.core.ops import Shutdown, UserInput
    from wren.tools.base import default_registry

    repo = tmp_path / "repo"
    write(repo, {"calc.py": DOCUMENTED, "test_calc.py": TEST})
    wrong = ToolCall(id="first", name="edit_file",
                     arguments=json.dumps(edit("return a - b", "return a * b")["arguments"]))
    right = '```python\ndef add(a, b):\n    """The sum of a and b."""\n    return a + b\n```'
    # Attempt 1 fails, attempt 2's rewrite passes: the answer is SmolLM2's.
    model = FirstStepScripted(backend, wrong, right)
    session = Session(SessionConfig(root=repo, backend=model, registry=default_registry(), careful=True,
                                    policy=Policy(mode="auto"), limits=Limits(max_steps=4)))
    session.submit(UserInput(text=TASK))
    session.submit(Shutdown())
    events = [e.model_dump() for e in session.events()]
    assert (repo / "calc.py").read_text() == DOCUMENTED.replace("a - b", "a + b")
    # The answer's request: a system line and the function before and after, none of the conversation.
    assert len(model.prompts) == 3 and len(model.prompts[2]) == 2, model.prompts
    assert model.prompts[2][1].startswith("The function `add` in calc.py had a bug")
    assert "return a + b" in model.prompts[2][1] and TASK not in "\n".join(model.prompts[2])
    answer = [e for e in events if e["type"] == "assistant_message"][-1]
    result = events[-1]
    assert answer["by"] == "model" and not answer["tool_calls"] and answer["content"].strip()
    assert (result["type"], result["status"], result["summary"]) == ("result", "success", answer["content"])


def test_the_bench_asks_for_the_programs_last_function_with_its_description():
    """bench/rewrite_step.py: the code shown (`code`) ends with the last function; the description is the
    module's string after it (QuixBugs' layout); the `def` line is what SPEC starts the reply with."""
    from bench.rewrite_step import parts

    code, header, doc, uses = parts('import x\n\n\ndef f(a):\n    return x.g(a.size)\n\n\n"""\nWhat f does\n"""\n')
    assert (code, header, doc) == ("import x\n\n\ndef f(a):\n    return x.g(a.size)\n", "def f(a):", "What f does")
    assert uses == ("x", "a.size")
