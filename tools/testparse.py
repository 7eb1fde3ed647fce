"""Read a test run's output: how many passed, failed and errored, and the first failures.

One parser per runner (pytest, unittest, go test -v, cargo test, jest and node's runner);
each returns None when the output is not its runner's, so a configured command is
read by whichever recognises it.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

MAX_FAILURES = 5


@dataclass
class Failure:
    test_id: str
    message: str = ""
    location: str = ""  # file:line where it failed (the test's line, then where it raised, if elsewhere)


@dataclass
class TestOutcome:
    runner: str
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    failures: list[Failure] = field(default_factory=list)
    # The runner's own report of each failure (its traceback), in order, where the parser can cut it out.
    reports: list[str] = field(default_factory=list)

    def summary(self, room: int | None = None) -> str:
        """The counts, then a line per failure, at most MAX_FAILURES of them and, given `room` (characters),
        only as many as fit in it (always the first)."""
        counts = f"{self.passed} passed, {self.failed} failed, {self.errors} errors"
        lines = [f"Tests ({self.runner}): {counts}" + (f", {self.skipped} skipped" if self.skipped else "") + "."]
        used = len(lines[0])
        for n, f in enumerate(self.failures[:MAX_FAILURES]):
            where = f" at {f.location}" if f.location else ""
            line = f"- {f.test_id}{where}: {f.message or '(see output)'}"
            if n and room is not None and used + len(line) + 1 > room:
                break
            lines.append(line)
            used += len(line) + 1
        if len(self.failures) > len(lines) - 1:
            lines.append(f"- ... and {len(self.failures) - (len(lines) - 1)} more (see output)")
        return "\n".join(lines)


def _count(pattern: str, text: str) -> int:
    return sum(int(n) for n in re.findall(pattern, text, re.M))


def _where(locations: list[str]) -> str:
    if not locations:
        return ""
    return locations[0] if locations[0] == locations[-1] else f"{locations[0]} (raised at {locations[-1]})"


PYTEST_FINAL = re.compile(r"^=*\s*((?:\d+ \w+(?:, )?)+) in [\d.]+s", re.M)
PYTEST_ID = re.compile(r"^(FAILED|ERROR) (\S+)(?: - (.*))?$", re.M)
PYTEST_HEADER = re.compile(r"^_{3,} (.+?) _{3,}$", re.M)


def _pytest_sections(text: str) -> dict[str, str]:
    """Traceback section per test name as pytest heads it ('test_x', 'TestK.test_p[2]')."""
    heads = list(PYTEST_HEADER.finditer(text))
    sections = {}
    for i, head in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        body = text[head.end(): end].split("\n=====", 1)[0]
        sections[re.sub(r"^ERROR at \w+ of ", "", head.group(1))] = body
    return sections


def parse_pytest(text: str) -> TestOutcome | None:
    final = PYTEST_FINAL.findall(text)
    if not final:
        return None
    counts: dict[str, int] = dict((kind, int(n)) for n, kind in re.findall(r"(\d+) (\w+)", final[-1]))
    out = TestOutcome("pytest", counts.get("passed", 0), counts.get("failed", 0),
                      counts.get("errors", counts.get("error", 0)), counts.get("skipped", 0))
    sections = _pytest_sections(text)
    for kind, test_id, reason in PYTEST_ID.findall(text):
        name = test_id.split("::", 1)[-1].replace("::", ".")
        body = sections.get(name, "")
        errors = [line[1:].strip() for line in body.splitlines() if line.startswith("E ") and line[1:].strip()]
        said = plain_assert(body)
        plain = said or plain_raise(body)
        # pytest's `+  where A = f(x)` lines say what `plain` says already; after a failed equality said in
        # words, so do the lines of its diff of the two values (`- Hello, Ann?`, `?  ^`), not `At index 7 diff`.
        extra = [e for e in errors[1:] if not WHERE.match(e) and not (said and DIFF_LINE.match(e))][:2]
        message = " / ".join([plain] + extra if plain else errors[:3]) or reason
        places = [f"{f}:{n}" for f, n in re.findall(r"^(\S+?):(\d+): in ", body, re.M)]
        out.failures.append(Failure(test_id, message, _where(places)))
        if body.strip():
            out.reports.append(f"{test_id}\n{body.strip(chr(10))}")
    return out


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
    lines = body.splitlines()
    first_e = next((i for i, line in enumerate(lines) if line.startswith("E ")), None)
    if not first_e:
        return ""
    # pytest strips "AssertionError: " only where the error's repr starts `AssertionError('assert `: a string
    # with a quote in the explanation (`valid(*['(('])`) makes the repr double-quoted, and the prefix stays.
    source, shown = lines[first_e - 1].strip(), lines[first_e][1:].strip().removeprefix("AssertionError: ")
    sides, values = _eq_sides(source), _eq_sides(shown)
    if values is not None:
        (got, _), (want, _) = values
    elif shown.startswith("assert ") and shown.count(" == ") == 1:  # reprs that are not Python: `<Node ...>`
        got, want = shown.removeprefix("assert ").split(" == ")
    else:
        return ""
    if sides is None:
        return ""
    (left, left_node), (right, right_node) = sides
    variables = frame_locals(lines[first_e:])
    call = concrete_call(left_node, variables) if isinstance(left_node, ast.Call) else None
    said = f"`{call or left}` {'returned' if isinstance(left_node, ast.Call) else 'is'} {got}"
    said += f", expected {want}" if isinstance(right_node, ast.Name) or _literal(right) else f"; `{right}` is {want}"
    used = {n.id for n in ast.walk(left_node) if isinstance(n, ast.Name)} - {
        n.id for n in ast.walk(right_node) if isinstance(n, ast.Name)}
    local = [f"{name} = {value}" for name, value in variables.items() if name in used and not call]
    return said + (f" ({'; '.join(local)})" if local else "")


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


UNITTEST_SECTION = re.compile(r"^(FAIL|ERROR): (\S+) \((.+?)\)\n-+\n(.*?)(?=^=====|^-----)", re.M | re.S)


def parse_unittest(text: str) -> TestOutcome | None:
    ran = re.search(r"^Ran (\d+) tests? in", text, re.M)
    if not ran:
        return None
    status = re.search(r"^(?:FAILED|OK) ?\((.*)\)$", text, re.M)
    counts = dict(kv.split("=") for kv in status.group(1).split(", ")) if status else {}
    failed, errors, skipped = (int(counts.get(k, 0)) for k in ("failures", "errors", "skipped"))
    failed += int(counts.get("unexpected successes", 0))
    out = TestOutcome("unittest", int(ran.group(1)) - failed - errors - skipped, failed, errors, skipped)
    for kind, name, test_id, body in UNITTEST_SECTION.findall(text):
        places = [f"{f}:{n}" for f, n in re.findall(r'File "(.+?)", line (\d+)', body)]
        lines = [line for line in body.strip().splitlines() if line.strip()]
        out.failures.append(Failure(test_id, lines[-1].strip() if lines else "", _where(places)))
    return out


def parse_go(text: str) -> TestOutcome | None:
    if not re.search(r"^(?:ok|FAIL|---)\s", text, re.M):
        return None
    out = TestOutcome("go", _count_lines(r"^\s*--- PASS", text), _count_lines(r"^\s*--- FAIL", text),
                      len(re.findall(r"^FAIL\s+\S+\s+\[(?:build|setup) failed\]", text, re.M)),
                      _count_lines(r"^\s*--- SKIP", text))
    notes: dict[str, list[tuple[str, str]]] = {}
    current = ""
    for line in text.splitlines():
        if run := re.match(r"^=== (?:RUN|CONT)\s+(\S+)", line):
            current = run.group(1)
        elif note := re.match(r"^\s+(\S+\.go:\d+): (.*)", line):
            notes.setdefault(current, []).append((note.group(1), note.group(2)))
        elif fail := re.match(r"^\s*--- FAIL: (\S+)", line):
            said = notes.get(fail.group(1), [])
            out.failures.append(Failure(fail.group(1), said[0][1] if said else "", said[0][0] if said else ""))
    for place, message in re.findall(r"^(\S+\.go:\d+:\d+): (.*)", text, re.M):
        out.failures.append(Failure("(build)", message, place))
    return out


def _count_lines(pattern: str, text: str) -> int:
    return len(re.findall(pattern, text, re.M))


CARGO_PANIC = re.compile(r"^thread '(.+?)'(?: \(\d+\))? panicked at (?:'(.*?)', )?(\S+?:\d+):\d+:?\n?(.*)$", re.M)


def parse_cargo(text: str) -> TestOutcome | None:
    results = re.findall(r"^test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored", text, re.M)
    build = re.findall(r"^error(?:\[\w+\])?: (.*)\n\s*--> (\S+?:\d+):\d+", text, re.M)
    if not results and not build:
        return None
    out = TestOutcome("cargo", sum(int(r[0]) for r in results), sum(int(r[1]) for r in results), len(build),
                      sum(int(r[2]) for r in results))
    for test_id, old_style, place, new_style in CARGO_PANIC.findall(text):
        out.failures.append(Failure(test_id, (old_style or new_style).strip(), place))
    out.failures += [Failure("(build)", message, place) for message, place in build]
    return out


def parse_node(text: str) -> TestOutcome | None:
    jest = re.search(r"^Tests:\s+(.*?)\d+ total", text, re.M)
    tap = re.search(r"^# pass (\d+)", text, re.M)
    if not jest and not tap:
        return None
    if jest:
        counts = dict((kind, int(n)) for n, kind in re.findall(r"(\d+) (\w+)", jest.group(1)))
        out = TestOutcome("jest", counts.get("passed", 0), counts.get("failed", 0), 0, counts.get("skipped", 0))
        for name, body in re.findall(r"^\s*● (.+?)\n\n(.*?)(?=^\s*●|\Z)", text, re.M | re.S):
            where = re.search(r"\(([^()\s]+?:\d+):\d+\)", body)
            first = next((line.strip() for line in body.splitlines() if line.strip()), "")
            out.failures.append(Failure(name.strip(), first, where.group(1) if where else ""))
        return out
    assert tap is not None  # neither jest's summary nor TAP's returned None above
    out = TestOutcome("node", int(tap.group(1)), _count(r"^# fail (\d+)", text), 0, _count(r"^# skipped (\d+)", text))
    for name, body in re.findall(r"^\s*not ok \d+ - ([^\n]*)\n(.*?)^\s*\.\.\.$", text, re.M | re.S):
        where = re.search(r"location: '(.+?:\d+):\d+'", body)
        said = re.search(r"error: \|-?\n\s*(.+)", body) or re.search(r"error: '?(.+?)'?$", body, re.M)
        message = said.group(1).strip() if said else ""
        out.failures.append(Failure(name.strip(), message, where.group(1) if where else ""))
    return out


PARSERS = {"pytest": parse_pytest, "unittest": parse_unittest, "go": parse_go, "cargo": parse_cargo,
           "npm": parse_node}


def parse(text: str, runner: str) -> TestOutcome | None:
    """The outcome by the runner's own parser first, then by any that recognises the output."""
    order = [PARSERS[runner]] if runner in PARSERS else []
    for parser in order + [p for p in PARSERS.values() if p not in order]:
        if (outcome := parser(text)) is not None:
            return outcome
    return None
