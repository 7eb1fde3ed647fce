"""Narrowed edit steps (agent/narrowing.py): which lines a local model's edit grammar offers."""
from __future__ import annotations

import json

import pytest

from test_orient import offered, write
from test_session import drive, make_session


def test_a_narrowed_edit_offers_a_line_found_more_than_once_at_each_of_its_places(tmp_path):
    """get_factors' bug is the second of its two `return []` lines; offered only text found once, Qwen2.5-Coder-1.5B
    could never choose it (12 attempts). A text found more than once is offered with `line`, one option a place,
    written before `new`; the leave-out and tried keys name the place (narrowing.line_key)."""
    from wren.agent.narrowing import line_key, narrowed_edit
    from wren.tools.base import default_registry

    ws = write(tmp_path, {"a.py": "\ufeffdef f(x):\n    if x:\n        return None\n    y = 1\n    return None\n",
                          "b.bin": ""})
    (tmp_path / "b.bin").write_bytes(b"\xff\xfe\x00")
    tool = next(t for t in default_registry().schemas() if t["function"]["name"] == "edit_file")
    narrowed = narrowed_edit(tool, ["a.py", "b.bin", "gone.py"], ws, tried={("a.py", "return None (line 5)"): ["return x"]})
    # The BOM is not part of a line; `return None` is there twice, so it comes with the line of each.
    assert offered(narrowed) == {"a.py": ["def f(x):", "if x:", "return None", "return None", "y = 1"]}
    options = narrowed["function"]["parameters"]["oneOf"]
    places = [(o["properties"]["old"]["const"], o["properties"].get("line", {}).get("const")) for o in options]
    assert places == [("def f(x):", None), ("if x:", None), ("return None", 3), ("return None", 5), ("y = 1", None)]
    assert [list(o["properties"]) for o in options][2] == ["path", "old", "line", "new"]
    assert options[2]["required"] == ["path", "old", "line", "new"] and "line" not in options[0]["required"]
    # A fix tried at one place is refused at that place only.
    assert options[3]["properties"]["new"]["not"] == {"enum": ["return None", "return x"]}
    assert options[2]["properties"]["new"]["not"] == {"const": "return None"}
    left = narrowed_edit(tool, ["a.py"], ws, leave_out={("a.py", line_key("return  None", 3)), ("a.py", "if x:")})
    assert [(o["properties"]["old"]["const"], o["properties"].get("line", {}).get("const"))
            for o in left["function"]["parameters"]["oneOf"]] == [("def f(x):", None), ("return None", 5), ("y = 1", None)]
    assert narrowed_edit(tool, ["b.bin", "gone.py"], ws) is None


def test_repeated_lines_are_not_offered_where_a_lone_cr_would_number_lines_otherwise(tmp_path, monkeypatch):
    """A lone CR breaks a line for Python but not for edit_file, which counts "\\n": the numbers would name another
    place. And a big file (past UNEQUAL_CHARS) of repeated lines only gets no empty enum (no grammar)."""
    from wren.agent import narrowing
    from wren.tools.base import default_registry

    ws = write(tmp_path, {"a.py": ""})
    (tmp_path / "a.py").write_bytes(b"def f(n):\n    x = 1\r    return []\n    return []\n")
    tool = next(t for t in default_registry().schemas() if t["function"]["name"] == "edit_file")
    assert offered(narrowing.narrowed_edit(tool, ["a.py"], ws)) == {"a.py": ["def f(n):", "x = 1"]}
    (tmp_path / "b.py").write_text("".join(f"v{i} = {i}\n" for i in range(3)) * 2)
    monkeypatch.setattr(narrowing, "UNEQUAL_CHARS", 10)
    options = narrowing.narrowed_edit(tool, ["b.py"], ws)["function"]["parameters"]["oneOf"]
    assert [(o["properties"]["old"], o["properties"]["line"]["const"]) for o in options] == [
        ({"const": f"v{i} = {i}"}, n) for i in range(3) for n in (i + 1, i + 4)]


def test_a_narrowed_edit_leaves_out_comments_and_docstrings_of_python_files(tmp_path):
    """Qwen2.5-Coder-1.5B, fixing kth, edited its docstring (`A list of ints` -> `integers`): no test
    can see such a change, so a narrowed edit offers only code lines; other files and Python that does
    not parse keep every line."""
    from wren.agent.narrowing import narrowed_edit
    from wren.tools.base import default_registry

    doc = '    """Sum.\n\n    Input: a list of ints\n    """\n'
    ws = write(tmp_path, {"a.py": f"def f(xs):\n{doc}    # the total\n    return sum(xs)  # of all\n\n\"\"\"\nOutput: an int\n\"\"\"\n",
                          "notes.txt": "# a heading\nsome text\n", "broken.py": "def f(:\n    # still offered\n"})
    tool = next(t for t in default_registry().schemas() if t["function"]["name"] == "edit_file")
    assert offered(narrowed_edit(tool, ["a.py", "notes.txt", "broken.py"], ws)) == {
        "a.py": ["def f(xs):", "return sum(xs)  # of all"], "notes.txt": ["# a heading", "some text"],
        "broken.py": ["def f(:", "# still offered"]}


def test_comment_and_docstring_lines_are_found_by_python_s_own_parser():
    from wren.agent.narrowing import prose_lines

    # Lines counted at "\n" as the parser counts them (a form feed is no line break here).
    assert prose_lines('x = 1\n\x0c\ndef f():\n    """Doc."""\n    return 2\n') == {4}
    # A line of a string value that starts with "#" is code; a comment after code is part of a code line.
    assert prose_lines('T = """\n# heading\n"""\n# a comment\nx = 1  # trailing\n') == {4}
    assert prose_lines("x = " + "+".join(["1"] * 20000) + "\n") == set()  # too deep to parse: all editable


def test_an_edit_that_restates_its_line_leaves_the_line_out_of_the_attempt_s_narrowed_steps(calc_repo, tmp_path):
    """Qwen2.5-Coder-1.5B, its fix tested and failing, restated the line it had written (`old` == `new`)
    three times in a row, the same reason each time; after once, the line is no longer offered."""
    wrong = {"name": "edit_file", "arguments": {"path": "calc.py", "old": "return a - b", "new": "return a * b"}}
    restated = {"name": "edit_file", "arguments": {"path": "calc.py", "old": "def add(a, b):", "new": "def add(a, b):"}}
    s = make_session(calc_repo, tmp_path, [
        {"tool_calls": [wrong]},  # tested by Wren: still failing
        {"expect": ["Tests (pytest): 0 passed, 1 failed"], "tool_calls": [restated]},
        {"expect": ["old and new are the same"], "content": "could not fix it"}], mode="auto", careful=True)
    drive(s, "The test in test_calc.py fails; fix it.", lambda e: None)
    lines = [offered(choice).get("calc.py", []) if isinstance(choice, dict) else [] for choice in s.backend.tool_choices]
    assert "def add(a, b):" in lines[1] and "def add(a, b):" not in lines[2]
    # The line the failed fix wrote is not offered after it either (Qwen put `return mid - 1` back as the
    # next fix, find_first_in_sorted): the attempt's fresh start puts the files back anyway.
    assert "return a - b" in lines[0] and "return a * b" not in lines[1]


def test_a_new_text_refused_in_the_attempt_is_not_offered_on_any_line(calc_repo, tmp_path):
    """Qwen2.5-Coder-1.5B, its `new` refused as unparseable, wrote the very same text on the next line (gcd,
    twice in two runs), and the two refusals ended the attempt: the attempt's later narrowed steps may not write
    it on any line. Past the grammar's size bound the refused texts are left out (the `new` != `old` rule stays)."""
    from wren.agent.narrowing import UNEQUAL_CHARS, narrowed_edit
    from wren.tools.base import default_registry

    broken = {"name": "edit_file", "arguments": {"path": "calc.py", "old": "return a - b", "new": "if a: return a else"}}
    s = make_session(calc_repo, tmp_path, [
        {"tool_calls": [broken]}, {"expect": ["unable to parse"], "content": "could not fix it"}],
        mode="auto", careful=True)
    drive(s, "The test in test_calc.py fails; fix it.", lambda e: None)
    unlike = [{o["properties"]["old"]["const"]: o["properties"]["new"]["not"]
               for o in choice["function"]["parameters"]["oneOf"]} for choice in s.backend.tool_choices[:2]]
    assert unlike[0] == {"def add(a, b):": {"const": "def add(a, b):"}, "return a - b": {"const": "return a - b"}}
    assert unlike[1] == {"def add(a, b):": {"enum": ["def add(a, b):", "if a: return a else"]}}  # its line left out
    tool = next(t for t in default_registry().schemas() if t["function"]["name"] == "edit_file")
    big = narrowed_edit(tool, ["calc.py"], s.workspace, refused=["x" * UNEQUAL_CHARS])
    assert [o["properties"]["new"]["not"] for o in big["function"]["parameters"]["oneOf"]] == [
        {"const": "def add(a, b):"}, {"const": "return a - b"}]


def test_past_a_size_a_narrowed_edit_offers_a_file_s_lines_with_new_left_free(tmp_path, monkeypatch):
    from wren.agent.narrowing import narrowed_edit
    from wren.tools.base import default_registry

    monkeypatch.setattr("wren.agent.narrowing.UNEQUAL_CHARS", 20)  # one rule a character: big files keep the enum
    ws = write(tmp_path, {"a.py": "def f(x):\n    return x + 1\n", "b.py": "y = 2\n"})
    tool = next(t for t in default_registry().schemas() if t["function"]["name"] == "edit_file")
    big, small = narrowed_edit(tool, ["a.py", "b.py"], ws)["function"]["parameters"]["oneOf"]
    assert big["properties"]["old"] == {"enum": ["def f(x):", "return x + 1"]} and big["properties"]["new"] == {"type": "string"}
    assert small["properties"]["new"] == {"type": "string", "not": {"const": "y = 2"}}


def test_the_fix_of_a_line_that_opens_a_block_must_end_with_its_colon(tmp_path):
    """Qwen2.5-Coder-1.5B put statements after the colon of `if ...:` and `while ...:` lines in 13 of 17 edits
    of find_first_in_sorted (`if x == arr[mid]: break;`), each refused as unparseable: the `new` of a line
    that opens a block (by Python's tokenizer, not by its last character) ends in ":"."""
    from wren.agent.narrowing import narrowed_edit, opener_lines
    from wren.local_models.headers import HEADER
    from wren.tools.base import default_registry

    code = ("def f(a,\n      b):  # two\n    if a: return b\n    while a:\n        a -= 1\n    else:\n"
            "        pass\n    d = {1:\n         2}\n    return 'ends:'\n")
    assert opener_lines(code) == {2, 4, 6}
    assert opener_lines("def f(x:\n") == set()  # does not tokenize: no line is held to a colon
    ws = write(tmp_path, {"a.py": code, "notes.txt": "Heading:\n"})
    tool = next(t for t in default_registry().schemas() if t["function"]["name"] == "edit_file")
    ends = {(o["properties"]["path"]["const"], o["properties"]["old"]["const"]): o["properties"]["new"].get(HEADER)
            for o in narrowed_edit(tool, ["a.py", "notes.txt"], ws)["function"]["parameters"]["oneOf"]}
    assert {line for (path, line), pattern in ends.items() if pattern} == {"b):  # two", "while a:", "else:"}
    assert set(ends.values()) == {True, None} and ends[("notes.txt", "Heading:")] is None


# The grammar on the real model (SmolLM2, llama.cpp): `backend` is conftest's.

@pytest.mark.slow
def test_a_narrowed_edit_picks_a_line_of_the_file_even_with_quotes_and_backslashes(backend, tmp_path):
    """narrowing.narrowed_edit through the real grammar: `old` is one of the file's lines, written as JSON
    (quotes and backslashes escaped), `path` the file; the prompt keeps edit_file as offered."""
    from wren.agent.narrowing import narrowed_edit
    from wren.local_models.backend import NARROWED_REPLY_TOKENS
    from wren.agent.prompt import system_prompt
    from wren.core.messages import Message
    from wren.tools.base import default_registry
    from wren.tools.workspace import Workspace

    code = 'def greet(name):\n    sep = "\\\\"\n    return "Hello, " + name + sep\n'
    (tmp_path / "greet.py").write_text(code)
    lines = {line.strip() for line in code.splitlines()}
    assert 'sep = "\\\\"' in lines  # a quote and two backslashes
    tools = default_registry().schemas()
    narrowed = narrowed_edit(next(t for t in tools if t["function"]["name"] == "edit_file"), ["greet.py"],
                             Workspace(tmp_path))
    prompt = [Message(role="system", content=system_prompt(tmp_path)),
              Message(role="user", content=f"greet.py:\n{code}\nThe greeting must end with '!'. Fix greet.py.")]
    size = len(backend.prompt_tokens(prompt, tools)[0])
    backend.complete(prompt, tools, lambda text: None)
    edits = 0
    for _ in range(3):
        reply = backend.complete(prompt, tools, lambda text: None, tool_choice=narrowed)
        assert reply.usage.cached_tokens == size - 1
        assert reply.usage.completion_tokens <= NARROWED_REPLY_TOKENS  # one line's edit, not a runaway `new`
        assert [c.name for c in reply.tool_calls] in ([], ["edit_file"]), reply
        if reply.tool_calls:
            args = json.loads(reply.tool_calls[0].arguments)
            assert args["path"] == "greet.py" and args["old"] in lines and isinstance(args["new"], str)
            edits += 1
    assert edits >= 1  # SmolLM2, told to fix the file, edits it in at least one of three samples


def narrowed_edits(backend, tmp_path, code: str, ask: str, samples: int = 3, **narrowing) -> list[dict]:
    """`samples` narrowed edits of greet.py (holding `code`), SmolLM2 told `ask`: their arguments."""
    from wren.agent.narrowing import narrowed_edit
    from wren.agent.prompt import system_prompt
    from wren.core.messages import Message
    from wren.tools.base import default_registry
    from wren.tools.workspace import Workspace

    (tmp_path / "greet.py").write_text(code)
    tools = default_registry().schemas()
    narrowed = narrowed_edit(next(t for t in tools if t["function"]["name"] == "edit_file"), ["greet.py"],
                             Workspace(tmp_path), **narrowing)
    prompt = [Message(role="system", content=system_prompt(tmp_path)), Message(role="user", content=ask)]
    edits = []
    for _ in range(samples):
        reply = backend.complete(prompt, tools, lambda text: None, tool_choice=narrowed)
        edits += [json.loads(c.arguments) for c in reply.tool_calls if c.arguments]  # "": cut, for the registry to refuse
    return edits


@pytest.mark.slow
def test_a_narrowed_edit_cannot_restate_its_line_even_when_told_to(backend, tmp_path):
    """The grammar of a narrowed edit holds `new` to any text but `old` (formats._unequal_rules): Qwen
    restated lines as fixes. Told to write the same text back, SmolLM2 must change something."""
    code = 'def greet(name):\n    sep = "\\\\"\n    return "Hello, " + name + sep\n'
    ask = ('Call edit_file on greet.py with old `sep = "\\\\"` and new `sep = "\\\\"`, exactly the same text: '
           "the line is right as it is.")
    edits = narrowed_edits(backend, tmp_path, code, ask)
    assert edits and all(e["new"] != e["old"] for e in edits), edits


GREET = 'def greet(name):\n    sep = "!"\n    return "Hello, " + name + sep\n'


@pytest.mark.slow
def test_a_narrowed_edit_never_picks_a_line_left_out_even_when_told_to(backend, tmp_path):
    """A line that failed fixes changed (attempts.LINE_TRIES) or whose edit was refused is left out of the
    grammar: Qwen changed one line of find_first_in_sorted in all its fixes. Told to edit that very line,
    SmolLM2 must pick another."""
    edits = narrowed_edits(backend, tmp_path, GREET, 'Call edit_file on greet.py with old `sep = "!"` and new '
                           '`sep = "?"`.', leave_out={("greet.py", 'sep = "!"')})
    assert edits and all(e["old"] in ("def greet(name):", 'return "Hello, " + name + sep') for e in edits), edits


@pytest.mark.slow
def test_a_narrowed_edit_cannot_write_a_fix_already_tried(backend, tmp_path):
    """`new` may not be a fix of the line already tried and failed (narrowing.narrowed_edit's `tried`, a rule
    over the trie of the excluded strings): Qwen proposed one failed fix in four attempts. SmolLM2's own
    fix, once tried, is not written again."""
    ask = "The greeting must end with a question mark. Fix greet.py."
    seeds = backend._steps  # the sampling seed is the backend's seed plus its step count: the same samples again
    first = narrowed_edits(backend, tmp_path, GREET, ask)
    assert first
    tried: dict[tuple[str, str], list[str]] = {}
    for e in first:
        tried.setdefault(("greet.py", e["old"]), []).append(e["new"])
    backend._steps = seeds
    again = narrowed_edits(backend, tmp_path, GREET, ask, tried=tried)
    assert again and all(e["new"] not in tried.get(("greet.py", e["old"]), []) for e in again), (first, again)



@pytest.mark.slow
def test_a_narrowed_edit_cannot_write_a_refused_new_on_any_line(backend, tmp_path):
    """`new` texts refused in the attempt (Attempt.refused_new) through the real grammar: SmolLM2's own edits,
    once refused, are not written again, on their line or another."""
    ask = "The greeting must end with a question mark. Fix greet.py."
    seeds = backend._steps  # the same samples again, as in the test above
    first = narrowed_edits(backend, tmp_path, GREET, ask)
    assert first
    backend._steps = seeds
    again = narrowed_edits(backend, tmp_path, GREET, ask, refused={e["new"] for e in first})
    assert again and not {e["new"] for e in again} & {e["new"] for e in first}, (first, again)


@pytest.mark.slow
def test_a_narrowed_edit_whose_new_runs_on_stops_there_and_is_the_edit_it_began(backend, tmp_path, monkeypatch):
    """The local backend's step, llama.cpp's stream replaced by a reply that lists primes in `new` (Qwen2.5-Coder-1.5B
    on get_factors, until its 768-token reply ran out, twice): generation stops NEW_CHARS into `new`, and the step
    is that edit, closed, not broken JSON."""
    from test_degenerate import RUNAWAY
    from wren.agent.narrowing import narrowed_edit
    from wren.core.messages import Message
    from wren.local_models.degenerate import NEW_CHARS
    from wren.local_models.formats import HERMES
    from wren.tools.base import default_registry
    from wren.tools.workspace import Workspace

    monkeypatch.setattr(backend.renderer, "format", HERMES)
    (tmp_path / "p.py").write_text("def f(n):\n    if n == 1:\n        return []\n")
    tools = default_registry().schemas()
    narrowed = narrowed_edit(next(t for t in tools if t["function"]["name"] == "edit_file"), ["p.py"], Workspace(tmp_path))
    reply_text = RUNAWAY.split("This happens because", 1)[1] + " or n == 1" * 300
    sent: list[str] = []

    def stream(*args, **kwargs):
        for n in range(0, len(reply_text), 4):
            sent.append(reply_text[n: n + 4])
            yield {"choices": [{"text": reply_text[n: n + 4]}]}

    monkeypatch.setattr(backend.llm, "create_completion", stream)
    reply = backend.complete([Message(role="system", content="Fix p.py."), Message(role="user", content="Fix it.")],
                             tools, lambda text: None, tool_choice=narrowed)
    (call,) = reply.tool_calls
    args = json.loads(call.arguments)
    assert call.name == "edit_file" and args["old"] == "if n == 1:" and len(args["new"]) == NEW_CHARS
    assert args["new"].startswith("if n == 1 or n == 2 or n == 3") and len("".join(sent)) < len(reply_text) / 2
    # That `new` refused in the attempt: cut back to it, the step is a call the registry refuses, not that edit.
    narrowed = narrowed_edit(next(t for t in tools if t["function"]["name"] == "edit_file"), ["p.py"], Workspace(tmp_path),
                             refused={args["new"]})
    reply = backend.complete([Message(role="system", content="Fix p.py."), Message(role="user", content="Fix it.")],
                             tools, lambda text: None, tool_choice=narrowed)
    assert [(c.name, c.arguments) for c in reply.tool_calls] == [("edit_file", "")], reply


@pytest.mark.slow
def test_a_narrowed_grammar_llama_cpp_does_not_take_falls_back_to_the_tool_as_offered(backend, tmp_path, monkeypatch,
                                                                                      capfd):
    """The `new` differs from `old` rules are Wren's own GBNF: were they ever wrong, the step still runs,
    with edit_file as offered, and says so (a grammar llama.cpp rejects would fail the step)."""
    from wren.agent.narrowing import narrowed_edit
    from wren.agent.prompt import system_prompt
    from wren.core.messages import Message
    from wren.tools.base import default_registry
    from wren.tools.workspace import Workspace

    monkeypatch.setattr("wren.local_models.formats._unequal_rules", lambda name, values: f"\n{name} ::= no-such-rule")
    (tmp_path / "greet.py").write_text("def greet(name):\n    return 'Hello, ' + name\n")
    tools = default_registry().schemas()
    narrowed = narrowed_edit(next(t for t in tools if t["function"]["name"] == "edit_file"), ["greet.py"],
                             Workspace(tmp_path))
    prompt = [Message(role="system", content=system_prompt(tmp_path)),
              Message(role="user", content="The greeting must end with '!'. Fix greet.py.")]
    reply = backend.complete(prompt, tools, lambda text: None, tool_choice=narrowed)
    assert [c.name for c in reply.tool_calls] in ([], ["edit_file"]) and (reply.tool_calls or reply.content)
    assert "does not take the narrowed grammar of edit_file" in capfd.readouterr().err


@pytest.mark.slow
def test_a_narrowed_fix_of_a_block_opener_keeps_its_colon_even_when_told_otherwise(backend, tmp_path):
    """The header rule through llama.cpp (local_models/headers.py): told to put a statement after an `if`
    line's colon, SmolLM2 still writes a fix of that line, or of `def`, that ends at its colon; only a call
    cut in a loop or past NEW_CHARS (degenerate.close_cut_call) ends elsewhere, and edit_file's syntax check has it."""
    from wren.local_models.degenerate import loop_start, runaway_new
    from wren.local_models.headers import is_header

    code = "def greet(name):\n    if name:\n        return 'Hello, ' + name\n    return 'Hello'\n"
    ask = "Call edit_file on greet.py with old `if name:` and new `if name: return name`, all on one line."
    edits = []
    for _ in range(3):  # cut: in a loop, or past NEW_CHARS (SmolLM2 once ran on with prose in `new`)
        edits += [(e, loop_start(backend.last.raw) is not None or runaway_new(backend.last.raw) is not None)
                  for e in narrowed_edits(backend, tmp_path, code, ask, samples=1)]
    openers = [(e, cut) for e, cut in edits if e["old"] in ("def greet(name):", "if name:")]
    assert openers and all(cut or is_header(e["new"]) and e["new"] != e["old"] for e, cut in openers), edits


@pytest.mark.slow
def test_smollm2_s_narrowed_edit_of_a_line_found_twice_names_its_place_and_edit_file_takes_it(backend, tmp_path):
    """Through the real grammar: with only the two `return []` lines of a get_factors-like program offered,
    SmolLM2's call carries `line` 3 or 6 (one of the places), and edit_file changes that line and no other."""
    from wren.core.errors import ToolError
    from wren.tools.base import ToolContext, default_registry
    from wren.tools.workspace import Workspace

    code = "def f(n):\n    if n == 1:\n        return []\n    for i in range(2, n):\n        pass\n    return []\n"
    unique = {("greet.py", line) for line in ("def f(n):", "if n == 1:", "for i in range(2, n):", "pass")}
    edits = narrowed_edits(backend, tmp_path, code, "Fix greet.py: for a prime n, f(n) must return [n].",
                           samples=2, leave_out=unique)
    assert edits and all(e["old"] == "return []" and e["line"] in (3, 6) for e in edits), edits
    tool = default_registry().get("edit_file")
    for e in edits:
        (tmp_path / "greet.py").write_text(code)
        try:
            out = tool.run(tool.args(**e), ToolContext(Workspace(tmp_path))).output
        except ToolError as exc:  # SmolLM2's `new` may not parse or use a name f lacks: refused so, not for the places
            assert ("unable to parse" in str(exc) or "would use `" in str(exc)) and "places" not in str(exc), exc
            continue
        lines = (tmp_path / "greet.py").read_text().split("\n")
        assert f"at line {e['line']}" in out and lines[:e["line"] - 1] == code.split("\n")[:e["line"] - 1], out
