"""A failing pytest report (--tb=short --showlocals) said in words, for a test run's summary line.

"`f([3, 1], 4)` returned A, expected B" for a failed equality, "`f(x)` raised E: message ... with n = 0"
for an exception, with the variables of the frame that raised and, inside a recursion, the calls that
led there (tools/pytest_plugin/wren_test_limit.py's report section). tools/testparse.py reads the
counts and failures of a run and calls plain_assert and plain_raise on each failure's report.
"""
from __future__ import annotations

import ast
import re


PYTEST_LOCAL = re.compile(r"^ {8}(\w+)\s*= (.*)$")  # --showlocals: `        name = repr`
WHERE = re.compile(r"\+\s+where ")  # pytest's explanation of an assert's parts
DIFF_LINE = re.compile(r"[-+?] |Full diff:|Use -v")  # its diff of two unequal values (difflib.ndiff lines)


def plain_assert(body: str) -> str:
    """A failed `assert LEFT == RIGHT` of a pytest report (--tb=short) in words: "`f([3, 1], 4)` returned
    A, expected B", the values from pytest's own explanation (`E   assert A == B`, reprs cut as pytest
    cuts them) and the call's variables from --showlocals (concrete_call; when one was cut short, named:
    "`f(*xs)` returned A, expected B (xs = ...)"). "" for any other failure.
    Qwen2.5-Coder-1.5B, shown `assert [0, 0, 0, 1, 1, 1, ...] == [1, 2, 3, 5, 9, 11]`, wrote that the
    program's "actual sorted array is [1, 2, 3, 5, 9, 11]" (QuixBugs bucketsort): it did not read the
    left side as what the program returned."""
    found = _compared(body)
    if found is None:
        return ""
    got, want, (left, left_node), (right, right_node), variables = found
    call = concrete_call(left_node, variables) if isinstance(left_node, ast.Call) else None
    said = f"`{call or left}` {'returned' if isinstance(left_node, ast.Call) else 'is'} {got}"
    said += f", expected {want}" if isinstance(right_node, ast.Name) or _literal(right) else f"; `{right}` is {want}"
    used = {n.id for n in ast.walk(left_node) if isinstance(n, ast.Name)} - {
        n.id for n in ast.walk(right_node) if isinstance(n, ast.Name)}
    local = [f"{name} = {value}" for name, value in variables.items() if name in used and not call]
    return said + (f" ({'; '.join(local)})" if local else "")


def _compared(body: str) -> tuple[str, str, tuple[str, ast.expr], tuple[str, ast.expr], dict[str, str]] | None:
    """A failed `assert LEFT == RIGHT`: the two values as pytest showed them, the two sides (source text and
    node), and the test's variables (--showlocals); None for any other failure."""
    lines = body.splitlines()
    first_e = next((i for i, line in enumerate(lines) if line.startswith("E ")), None)
    if not first_e:
        return None
    # pytest strips "AssertionError: " only where the error's repr starts `AssertionError('assert `: a string
    # with a quote in the explanation (`valid(*['(('])`) makes the repr double-quoted, and the prefix stays.
    source, shown = lines[first_e - 1].strip(), lines[first_e][1:].strip().removeprefix("AssertionError: ")
    sides, values = _eq_sides(source), _eq_sides(shown)
    if values is not None:
        (got, _), (want, _) = values
    elif shown.startswith("assert ") and shown.count(" == ") == 1:  # reprs that are not Python: `<Node ...>`
        got, want = shown.removeprefix("assert ").split(" == ")
    else:
        return None
    if sides is None:
        return None
    return got, want, sides[0], sides[1], frame_locals(lines[first_e:])


PYTEST_FRAME = re.compile(r"^(\S+?):(\d+): in (\S+)$")  # --tb=short: `path:line: in function`
LOCAL_CHARS = 80  # of each variable in a summary line; the first failure's whole report is shown as well
STOPPED_TEST = "Failed: the test ran past"  # what tools/pytest_plugin/wren_test_limit.py fails a test with
STOPPED = re.compile(rf"^{STOPPED_TEST} (\S+) and was stopped")
# Variables that hold code, not data (`merge = <function mergesort.<locals>.merge at 0x7f54...>`): left out of a summary.
NOT_DATA = re.compile(r"<(function|bound method|built-in function|built-in method) ")
# tools/pytest_plugin's report section on a failure raised inside a recursion: the calls that led there.
CALLS = re.compile(r"^-+ wren: the calls -+\n(.+)$", re.M)


def plain_raise(body: str) -> str:
    """A pytest report (--tb=short --showlocals) of a test whose call raised, or was stopped for running
    past its limit (tools/pytest_plugin), in words: the test's call as it was made (concrete_call, else
    with the variables it used), what happened, the line where, with that frame's variables (the file and
    line are the Failure's location), and what the test expected:
    "`f([3, 4], 2)` ran past 30s and was stopped in `while lo <= hi:` with hi = 0, lo = 0, x = 2; expected 1".
    Raised inside a recursion, the calls that led there too, as the plugin's section (CALLS) gives them:
    "..., at the end of the calls gcd(13, 13) -> gcd(0, 13) (the same call 960 times in a row); expected 13".
    "" when the report has no frames or its first frame makes no call.
    QuixBugs find_first_in_sorted loops on one input: shown only where it looped, Qwen2.5-Coder-1.5B
    reasoned from its docstring's example, on which the program is right."""
    frames = []  # (location, source line, E lines, locals) per frame
    lines = body.splitlines()
    for i, line in enumerate(lines):
        if head := PYTEST_FRAME.match(line):
            errors = [x[1:].strip() for x in lines[i + 1:] if x.startswith("E ")][:1]
            frames.append((f"{head.group(1)}:{head.group(2)}", lines[i + 1].strip() if i + 1 < len(lines) else "",
                           errors, frame_locals(_after_source(lines[i + 1:]))))
    if not frames or not frames[-1][2]:
        return ""
    call, expected = _outer_call(frames[0][1])
    if call is None:
        return ""
    said = concrete_call(call, frames[0][3])
    if said is None:
        used = {n.id for n in ast.walk(call) if isinstance(n, ast.Name)}
        shown = [f"{k} = {_cut(v)}" for k, v in frames[0][3].items() if k in used]
        said = f"`{ast.unparse(call)}`" + (f" ({'; '.join(shown)})" if shown else "")
    else:
        said = f"`{said}`"
    error = frames[-1][2][0]
    stopped = STOPPED.match(error)
    what = f"ran past {stopped.group(1)} and was stopped" if stopped else f"raised {error}"
    want = _value_of(expected, frames[0][3]) if expected is not None else ""
    wanted = f"; expected {_cut(want)}" if want else ""
    _, source, _, variables = frames[-1]
    if len(frames) == 1:  # it raised in the test's own line: its variables are shown with the call
        return f"{said} {what}{wanted}"
    state = ", ".join(f"{k} = {_cut(v)}" for k, v in variables.items() if not NOT_DATA.match(v))
    calls = CALLS.search(body)
    through = f", at the end of the calls {calls.group(1).strip()}" if calls else ""
    return f"{said} {what}{',' * (not stopped)} in `{source}`" + (f" with {state}" if state else "") + through + wanted


# tools/pytest_plugin/wren_origins.py's report section: where the failing call's value came from.
ORIGINS = re.compile(r"^-+ wren: where the value came from -+\n((?:.+\n?)+)", re.M)
ORIGIN_HEAD = re.compile(r"^.* (returned|raised) .* at \S+:(\d+): `(.*)`$")
ORIGIN_LINE = re.compile(r"^ +(.+?) (?:was|were) last set by line (\d+): `(.*)`$")
INNER_LINE = re.compile(r"^ +its own call (.+?) returned (.+) at line (\d+): `(.*)`$")
SKIPPED_LINE = re.compile(r"^ +line (\d+) `(.*)` did not run: line (\d+) `(.*)` was false(.*)$")
SCOPE_LINE = re.compile(r"^ +its variables at the return: (.+)$")
ORIGINS_SAID = 2  # lines of the section said in a failure's one line
SOURCE_CHARS = 80  # of each source line said there


def plain_origins(body: str, said: str = "") -> str:
    """The plugin's section on where a failing call's value came from (ORIGINS), in a few words to go after the
    failure's own: "steps was last set by line 6 `steps.append((start, helper))`, helper by line 4 `...`", the
    return line first where it returns more than a name ("it returned at line 12 `return True`"). "" when the
    report has no such section. Shown only the call and its result, Qwen2.5-Coder-1.5B changed every line of
    QuixBugs hanoi but the one that made the wrong value; a narrowed step's reason opens with this line
    (formats.reason_opening). For a call that raised, only the line of the test's call the error came through, where
    `said` (the failure's words) does not quote it already: the values the raising line read are in `said`, and
    where they were set was not where QuixBugs kth and find_first_in_sorted went wrong (the error's own line
    was, or the loop's condition). For a function that calls itself and returned from more than one line in its
    inner calls, the smallest of those calls at each line go last ("its own calls: `levenshtein('n', 'n')` returned
    1 at line 6, ..."): the values a small model can judge right or wrong at a glance. Where an `if` whose body
    would have set the value again was false, that goes second, with the values it read, in place of the second
    line that set one ("line 12 `memo[i, j] = max(` did not run: `if weight < j:` at line 11 was false with
    weight = 40, j = 40"): in QuixBugs knapsack the condition is the bug. Where the line that made the value
    read one variable in place of another, that goes after the lines that set it (_misused: "line 6 used
    helper = 2 where the test expected 3, the value of end")."""
    found = ORIGINS.search(body)
    if not found:
        return ""
    lines = found.group(1).splitlines()
    parts = []
    skipped = next((m for m in map(SKIPPED_LINE.match, lines[1:]) if m), None)
    origins = [m for m in map(ORIGIN_LINE.match, lines[1:]) if m][:ORIGINS_SAID - bool(skipped)]
    names = [[part.split(" = ", 1)[0] for part in re.split(r", (?=\w+ = )", m.group(1))] for m in origins]
    head = ORIGIN_HEAD.match(lines[0])
    bare = re.fullmatch(r"return (\w+)", head.group(3)) if head else None
    if head and head.group(1) == "raised":
        quoted = f"`{head.group(3)}`"
        return "" if quoted in said else f"it was raised through line {head.group(2)} `{_cut_source(head.group(3))}`"
    # The line that made the returned value: the return itself, unless it returns a name another line set.
    made = origins[0] if origins and bare and bare.group(1) in names[0] else head
    if head and made is head:
        parts.append(f"it returned at line {head.group(2)} `{_cut_source(head.group(3))}`")
    for n, (line, named) in enumerate(zip(origins, names)):
        last = "was last set " if n == 0 else ""
        parts.append(f"{' and '.join(named)} {last}by line {line.group(2)} `{_cut_source(line.group(3))}`")
    if made and (misused := _misused(body, made, lines, names[0] if made is not head else [])):
        parts.append(misused)
    if skipped:
        parts.append(f"line {skipped.group(1)} `{_cut_source(skipped.group(2))}` did not run: "
                     f"`{_cut_source(skipped.group(4))}` at line {skipped.group(3)} was false{skipped.group(5)}")
    inner = [m for m in map(INNER_LINE.match, lines[1:]) if m]
    if len(inner) > 1:
        parts.append("its own calls: " + ", ".join(f"`{m.group(1)}` returned {m.group(2)} at line {m.group(3)}" for m in inner))
    return ", ".join(parts)


def _misused(body: str, made: re.Match, lines: list[str], set_there: list[str]) -> str:
    """Variable misuse (wren_origins.py's docstring): where the first part of the returned value that differs
    from the expected one is the value of exactly one variable that the line which last set the returned value
    read (other than those it set, `set_there`: `total = total + size` adds to total, it does not misuse it),
    and the expected part the value of exactly one variable in the frame that the line did not read, both said: "line 6 used helper = 2 where the test expected 3, the value of end". A bool, None or a
    value two variables share says nothing of which was meant: "" then, and where the values or the frame's
    variables are not known."""
    found, scope = _compared(body), next((m for m in map(SCOPE_LINE.match, lines[1:]) if m), None)
    if found is None or scope is None:
        return ""
    try:
        got, want = ast.literal_eval(found[0]), ast.literal_eval(found[1])
        values = {name: ast.literal_eval(text) for name, text in
                  (part.split(" = ", 1) for part in re.split(r", (?=\w+ = )", scope.group(1)))}
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return ""
    pair = _first_difference(got, want)
    if pair is None:
        return ""
    wrong, right = pair
    read = set(re.findall(r"[A-Za-z_]\w*", made.group(3)))
    same = lambda a, b: type(a) is type(b) and a == b  # noqa: E731 - 1 is not 1.0 nor True here
    used = [n for n, v in values.items() if n in read and n not in set_there and same(v, wrong)]
    meant = [n for n, v in values.items() if n not in read and same(v, right)]
    if len(used) != 1 or len(meant) != 1 or sum(same(v, wrong) for v in values.values()) != 1:
        return ""
    return f"line {made.group(2)} used {used[0]} = {wrong!r} where the test expected {right!r}, the value of {meant[0]}"


def _first_difference(got: object, want: object) -> tuple[object, object] | None:
    """The first pair of unequal numbers or strings met walking two lists or tuples side by side (got's, want's);
    None where the first difference is anything else (a length, a type, a bool)."""
    if isinstance(got, (list, tuple)) and isinstance(want, (list, tuple)):
        for a, b in zip(got, want):
            if a != b:
                return _first_difference(a, b)
        return None
    if type(got) is type(want) and type(got) in (int, float, str) and got != want:
        return got, want
    return None


def _cut_source(text: str) -> str:
    return text if len(text) <= SOURCE_CHARS else text[:SOURCE_CHARS - 3] + "..."


def _after_source(lines: list[str]) -> list[str]:
    """A frame's lines from its E lines or, when it has none, from after its source and caret lines."""
    for i, line in enumerate(lines):
        if line.startswith("E ") or PYTEST_LOCAL.match(line):
            return lines[i:]
        if PYTEST_FRAME.match(line):
            break
    return []


def _outer_call(source: str) -> tuple[ast.Call | None, ast.expr | None]:
    """The call a test line makes and what it is compared with: `assert CALL == X` gives (CALL, X);
    `CALL` and `x = CALL` give (CALL, None); anything else (None, None)."""
    try:
        node = ast.parse(source).body[0]
    except (SyntaxError, ValueError, IndexError, RecursionError):
        return None, None
    expected = None
    if isinstance(node, ast.Assert) and isinstance(node.test, ast.Compare):
        value: ast.expr = node.test.left
        if len(node.test.ops) == 1 and isinstance(node.test.ops[0], ast.Eq):
            expected = node.test.comparators[0]
    elif isinstance(node, (ast.Expr, ast.Assign, ast.Return)) and node.value is not None:
        value = node.value
    else:
        return None, None
    if isinstance(value, ast.Call) and isinstance(value.func, (ast.Name, ast.Attribute)):
        return value, expected
    return None, None


def _value_of(node: ast.expr, variables: dict[str, str]) -> str:
    """A literal's source or a variable's repr from --showlocals; "" otherwise."""
    if isinstance(node, ast.Name):
        return variables.get(node.id, "")
    text = ast.unparse(node)
    return text if _literal(text) else ""


def _cut(value: str) -> str:
    return value if len(value) <= LOCAL_CHARS else value[:LOCAL_CHARS - 3] + "..."


def frame_locals(lines: list[str]) -> dict[str, str]:
    """The --showlocals block that follows a frame's E lines: name -> repr; it ends at the first other line
    (what comes after, captured output or another frame, may hold lines of the same shape)."""
    found: dict[str, str] = {}
    for line in lines:
        if line.startswith("E ") and not found:
            continue
        if not (local := PYTEST_LOCAL.match(line)):
            break
        found[local.group(1)] = local.group(2)
    return found


def _literal(text: str) -> bool:
    try:
        ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False
    return True


def concrete_call(node: ast.Call, variables: dict[str, str]) -> str | None:
    """The call with its variable arguments written as their values (reprs from --showlocals), a starred
    list spread out: `bucketsort(*input_data)` with input_data = [[3, 1], 4] is `bucketsort([3, 1], 4)`.
    Qwen2.5-Coder-1.5B, given `input_data = [[3, 11, 2, 9, 1, 5], 12]`, took the 12 for an element of the
    list (it is bucketsort's `k`). None when an argument's value is unknown or cut short (`...`). The
    values are those the test's variables held when pytest reported: a program that changed its input in
    place shows the changed input."""
    def value(arg: ast.expr) -> list[str] | None:
        if isinstance(arg, ast.Constant):
            return [repr(arg.value)]
        starred = isinstance(arg, ast.Starred)
        name = arg.value if isinstance(arg, ast.Starred) else arg
        text = variables.get(name.id, "") if isinstance(name, ast.Name) else ""
        parsed = _whole_value(text)
        if parsed is None or (starred and not isinstance(parsed, (ast.List, ast.Tuple))):
            return None
        return [ast.get_source_segment(text, e) or "" for e in parsed.elts] if starred else [text]  # type: ignore[attr-defined]

    if node.keywords or not isinstance(node.func, (ast.Name, ast.Attribute)):
        return None
    args = [value(arg) for arg in node.args]
    if any(a is None for a in args):
        return None
    return f"{ast.unparse(node.func)}({', '.join(part for a in args if a for part in a)})"


def _whole_value(text: str) -> ast.expr | None:
    """A repr parsed as a Python expression; None when it is not one or pytest cut it short (`...`, which
    pytest's saferepr also puts inside a long string)."""
    if not text or "..." in text:
        return None
    try:
        return ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _eq_sides(line: str) -> tuple[tuple[str, ast.expr], tuple[str, ast.expr]] | None:
    """The two sides of `assert X == Y` (source text and node), or None when `line` is not that."""
    try:
        node = ast.parse(line.strip()).body[0]
    except (SyntaxError, ValueError, IndexError, RecursionError):
        return None
    if not (isinstance(node, ast.Assert) and isinstance(node.test, ast.Compare) and len(node.test.ops) == 1
            and isinstance(node.test.ops[0], ast.Eq)):
        return None
    text = line.strip()
    left, right = node.test.left, node.test.comparators[0]
    return ((ast.get_source_segment(text, left) or "", left), (ast.get_source_segment(text, right) or "", right))
