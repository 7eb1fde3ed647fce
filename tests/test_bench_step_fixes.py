"""bench/step_fixes.py: the first narrowed step of a real session, kept and sampled, each edit judged on a copy."""
from __future__ import annotations

import json

import pytest

from bench.step_fixes import first_step, fixes, wider
from conftest import smollm2_path
from test_bench_tasks import workspace
from wren.local_models.catalog import Sampling
from wren.local_models.formats import OPENING_KEY

BUGGY = "return gcd(a % b, b)"


def edit(new: str) -> str:
    return json.dumps({"path": "python_programs/gcd.py", "old": BUGGY, "new": new})


def test_an_edit_is_judged_on_a_copy_by_the_task_s_tests(tmp_path):
    repo = workspace(tmp_path)
    program = repo / "python_programs" / "gcd.py"
    before = program.read_text()
    assert fixes(repo, "gcd", edit("return gcd(b, a % b)")) == ("return gcd(b, a % b)", True)
    assert fixes(repo, "gcd", edit("return gcd(a, b)")) == ("return gcd(a, b)", False)
    assert program.read_text() == before  # the task itself is never changed


def test_an_edit_the_tool_refuses_fixes_nothing(tmp_path):
    repo = workspace(tmp_path)
    new, ok = fixes(repo, "gcd", edit("return gcd(b, a % b) return 0"))
    assert not ok and new.startswith("(refused)")
    new, ok = fixes(repo, "gcd", '{"path": "python_programs/gcd.py"}')  # not an edit_file call at all
    assert not ok and new.startswith("(refused")


def test_wider_sampling_never_narrows_a_setting():
    recommended = Sampling(temperature=0.7, top_p=0.8, top_k=20, min_p=0.0, repeat_penalty=1.15)
    wide = wider(recommended)
    assert (wide.temperature, wide.top_p, wide.top_k, wide.min_p, wide.repeat_penalty) == (1.0, 0.95, 40, 0.05, 1.15)
    assert wider(Sampling(temperature=1.2, top_p=1.0, top_k=100)).temperature == 1.2


@pytest.mark.slow
def test_the_kept_step_is_the_session_s_narrowed_edit_and_samples_on_smollm2(tmp_path):
    """Orienting runs the real tests; the step kept is the narrowed edit_file call on the program under test,
    opening with the failing run; SmolLM2 sampled from it writes an edit of that program, which is judged."""
    repo = workspace(tmp_path)
    backend, (messages, tools, choice) = first_step(repo, "gcd", smollm2_path())
    assert choice["function"]["name"] == "edit_file"
    paths = {option["properties"]["path"]["const"] for option in choice["function"]["parameters"]["oneOf"]}
    assert paths == {"python_programs/gcd.py"}
    assert any(m.role == "tool" and "RecursionError" in (m.content or "") for m in messages)
    assert "RecursionError" in choice["function"][OPENING_KEY]  # the reason opens with the failing run
    reply = backend.complete(messages, tools, lambda text: None, tool_choice=choice)
    assert reply.tool_calls and reply.tool_calls[0].name == "edit_file"
    args = json.loads(reply.tool_calls[0].arguments)
    assert args["path"] == "python_programs/gcd.py"
    new, ok = fixes(repo, "gcd", reply.tool_calls[0].arguments)
    assert new in (args["new"], f"(refused) {args['new']}") and isinstance(ok, bool)
