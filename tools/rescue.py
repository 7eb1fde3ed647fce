"""Edits of one line of Python that would not parse as written, read as the model meant them.

Each answers a shape Qwen2.5-Coder-1.5B wrote as a narrowed edit's `new` (QuixBugs development tasks), which
edit_file refused as unparseable: a step lost, and two refusals end a careful session's attempt. A rescue is
made only when the file then parses, and the reply says what was done (tools/edit.py).
"""
from __future__ import annotations

import ast
import io
import re
import textwrap
import tokenize
import warnings
from typing import Callable

from wren.tools.indent import indent_of, indent_style, space_unit
from wren.tools.matching import Match, line_no

# Statements with a body: their first line is a header, not the start of a statement to replace whole.
BLOCKS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.If, ast.For, ast.AsyncFor, ast.While,
          ast.With, ast.AsyncWith, ast.Try, ast.Match, *((ast.TryStar,) if hasattr(ast, "TryStar") else ()))


def offset(lines: list[str], line: int, col: int) -> int:
    """The index into "\n".join(lines) of a node's position as Python's ast gives it: `line` from 1, `col` in
    UTF-8 bytes."""
    return sum(len(x) + 1 for x in lines[: line - 1]) + len(
        lines[line - 1].encode("utf-8")[:col].decode("utf-8", "replace"))


def whole_statements(text: str, matches: list[Match]) -> list[Match]:
    """`matches` (into Python source `text`) with each exact one that spans the whole first line of a simple
    statement over several lines widened to the whole statement, where its `new` is a complete statement
    itself: Qwen2.5-Coder-1.5B, offered `memo[i, j] = max(` (QuixBugs knapsack), wrote the whole assignment,
    `memo[i, j] = max(memo[i - 1, j], value + memo[i - 1, j - weight])`, and the edit left the old
    arguments dangling. Offered a later line of that statement (`memo[i, j],`, an argument) it wrote the same
    (8 of 17 edits refused in one run): there `new` must be one line and `same_statement` as the whole one.
    `matches` as given when `text` does not parse, or for more than one match (a widened one could hold
    another)."""
    if len(matches) != 1 or "\r" in text:  # a lone CR: a line break to Python's parser, not to line_no
        return matches
    tree = parsed(text)
    if tree is None:
        return matches
    lines = text.split("\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    spans = {(node.lineno, node.col_offset): node for node in ast.walk(tree)
             if isinstance(node, ast.stmt) and not isinstance(node, BLOCKS)
             and node.end_lineno is not None and node.end_lineno > node.lineno}
    m = matches[0]
    n = line_no(text, m.start)
    lead, rest = text[starts[n - 1]: m.start], text[m.end: starts[n] - 1]
    # The statement starts where the line's code does (`old` may or may not hold the indentation).
    col = len(indent_of(lines[n - 1]).encode("utf-8"))
    if m.stage != "exact" or lead.strip() or rest.strip() or not complete(m.new):
        return matches
    start, new, node = m.start, m.new, spans.get((n, col))
    if node is None:  # a later line of the statement: the innermost one around it
        around = [s for s in spans.values() if s.lineno < n <= (s.end_lineno or 0)]
        node = max(around, key=lambda s: s.lineno, default=None)
        if node is None or "\n" in m.new.strip() or not same_statement(node, m.new) or _comma_dropped(text, m):
            return matches
        start, new = offset(lines, node.lineno, node.col_offset), m.new.strip()
    if node.end_lineno is None or node.end_col_offset is None:
        return matches
    end = offset(lines, node.end_lineno, node.end_col_offset)
    after = text[end: starts[node.end_lineno] - 1].strip()
    # Another statement after it on its last line (`...); b = 2`) would be left to follow `new`.
    return [Match(start, end, new, m.stage)] if not after or after.startswith("#") else matches


def _comma_dropped(text: str, m: Match) -> bool:
    """Whether `m` replaces a line ending in a comma and `new` with that comma back parses in place: then `new`
    is an argument written without its comma (`model="gpt-4o",` -> `model="gpt-5"`), not a whole statement
    that happens to assign `model`."""
    if not text[m.start: m.end].rstrip().endswith(",") or m.new.rstrip().endswith(","):
        return False
    return complete(text[: m.start] + m.new.rstrip() + "," + text[m.end:])


def same_statement(node: ast.stmt, code: str) -> bool:
    """Whether `code` is one statement of `node`'s kind with its target: an assignment to the same targets
    (`=`, `+=`, annotated), a `return`, or a call of the same function; what says that `new`, given for a
    line inside `node`, rewrites all of `node` (`memo[i, j],` -> `memo[i, j] = max(...)`) and not that line."""
    tree = parsed(textwrap.dedent(code))
    body = tree.body if tree is not None else []
    if len(body) != 1 or type(body[0]) is not type(node):
        return False
    new = body[0]
    if isinstance(node, ast.Assign) and isinstance(new, ast.Assign):
        return [ast.dump(t) for t in node.targets] == [ast.dump(t) for t in new.targets]
    if isinstance(node, (ast.AugAssign, ast.AnnAssign)) and isinstance(new, (ast.AugAssign, ast.AnnAssign)):
        return ast.dump(node.target) == ast.dump(new.target)
    if isinstance(node, ast.Expr) and isinstance(new, ast.Expr):
        return (isinstance(node.value, ast.Call) and isinstance(new.value, ast.Call)
                and ast.dump(node.value.func) == ast.dump(new.value.func))
    return isinstance(node, ast.Return)


def complete(code: str) -> bool:
    """Whether `code` (dedented) parses as Python on its own as one or more whole statements (a comment alone
    is none)."""
    tree = parsed(textwrap.dedent(code))
    return tree is not None and bool(tree.body)


def parsed(code: str) -> ast.Module | None:
    """`code` parsed as Python, None when it does not parse (or is too deep or too big to)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning of the user's code is not ours to show
            return ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _outside_brackets(line: str) -> list[tokenize.TokenInfo] | None:
    """The tokens of one line of Python outside any bracket (the brackets themselves left out), None when it does
    not tokenize."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(line).readline))
    except (tokenize.TokenError, SyntaxError, ValueError):
        return None
    depth, out = 0, []
    for token in tokens:
        if token.type == tokenize.OP and token.string in "([{":
            depth += 1
        elif token.type == tokenize.OP and token.string in ")]}":
            depth -= 1
        elif depth == 0:
            out.append(token)
    return out


def if_else_block(code: str, unit: str = "    ") -> str | None:
    """`if C: A else: B` written on one line (`A; else: B`, `else B` too), which Python does not take, as the
    block it means ("if C:\n" + unit + "A\nelse:\n" + unit + "B"); `elif C2: A2` clauses between them too
    (`if C: A; elif C2: A2; else: B`, or with no `else`). None for any other code, or when no such block
    parses. Qwen2.5-Coder-1.5B wrote `if b == 0: return a; else: return gcd(a % b, b)` for gcd's `return`
    line, and the same shape in kth and longest_common_subsequence; `if b == 0: return a; elif a == 0: return
    b; else: return gcd(a % b, b)` in a chained gcd (two such edits refused ended an attempt). Each `else`
    outside brackets is tried, the last first (a conditional expression `x if c else y` in a body stays whole)."""
    line = code.strip()
    tokens = _outside_brackets(line) if "\n" not in line and line.startswith("if ") else None
    if tokens is None:
        return None
    colons, elifs, elses = [], [], []  # colons: where each clause's body starts
    for token in tokens:
        if token.type == tokenize.OP and token.string == ":":
            colons.append(token.end[1])
        elif token.type == tokenize.NAME and token.string == "elif":
            elifs.append(token.start[1])
        elif colons and token.type == tokenize.NAME and token.string == "else":
            elses.append(token)
    starts = [0, *elifs]
    clauses = []  # (header with its colon, body) of the `if` and each `elif`; the last clause's body comes below
    for begin, finish in zip(starts, [*elifs, len(line)]):
        colon = next((c for c in colons if begin < c <= finish), None)
        if colon is None:
            return None
        clauses.append((line[begin: colon].strip(), line[colon: finish]))
    body_at = len(line) - len(clauses[-1][1])  # where the last clause's body starts
    # It ends at an `else` (the last first), or, after an `elif`, at the end of the line (None: no `else`).
    options: list[tuple[str, str | None]] = [(line[body_at: e.start[1]], line[e.end[1]:].strip().removeprefix(":").strip())
                                             for e in reversed(elses) if e.start[1] > body_at]
    options += [(line[body_at:], None)] if elifs else []
    for then, other in options:
        bodies = [body.strip().removesuffix(";").strip() for body in [*(b for _, b in clauses[:-1]), then]]
        block = "\n".join(f"{head}\n{unit}{body}" for (head, _), body in zip(clauses, bodies))
        block += "" if other is None else f"\nelse:\n{unit}{other}"
        if all(bodies) and other != "" and complete(block):
            return block
    return None


def guard_block(code: str, unit: str = "    ") -> str | None:
    """A one-line `if C: ...; return X; S; ...` whose body goes on after a `return`, `raise`, `break` or
    `continue` (code that can never run there) as what it means: the guard as its block, the statements after
    it at the `if`'s own level ("if C:\n" + unit + "return X\nS"). None for any other code. Qwen2.5-Coder-1.5B
    wrote `if not arr: return None; pivot = arr[0]` for kth's `pivot = arr[0]`: Python runs the old line only
    inside the guard, so every other call failed on `pivot`, and the guard was judged by what it did not mean."""
    line = code.strip()
    tree = parsed(line) if "\n" not in line and line.startswith("if ") else None
    if tree is None or len(tree.body) != 1 or not isinstance(tree.body[0], ast.If) or tree.body[0].orelse:
        return None
    guard = tree.body[0]
    jump = next((i for i, stmt in enumerate(guard.body)
                 if isinstance(stmt, (ast.Return, ast.Raise, ast.Break, ast.Continue))), len(guard.body))
    if jump >= len(guard.body) - 1:
        return None
    source = lambda stmt: ast.get_source_segment(line, stmt) or ast.unparse(stmt)  # noqa: E731
    kept = "; ".join(source(stmt) for stmt in guard.body[: jump + 1])
    block = f"if {source(guard.test)}:\n{unit}{kept}\n" + "\n".join(source(stmt) for stmt in guard.body[jump + 1:])
    return block if complete(block) else None


RUN_ON_CHARS = 400  # a narrowed edit's `new` is cut there (degenerate.NEW_CHARS); each split parses the line again


def _idle(stmt: ast.stmt) -> bool:
    """Whether `stmt` is an expression that does nothing as a statement (a name, a constant, `not b`): what a
    split of `raise ValueError "x"` or `import os sys` leaves, which is no statement anyone meant."""
    return isinstance(stmt, ast.Expr) and not isinstance(stmt.value, (ast.Call, ast.Await, ast.Yield, ast.YieldFrom))


def run_on_block(code: str, unit: str = "    ") -> str | None:
    """A one-line `if C: S` with one more statement run on after it, no `;` or newline between (`if not arr:
    raise ValueError('empty') pivot = arr[0]`), which Python does not take, as what it means: the `if` as its
    block, the statement after it at the `if`'s own level ("if C:\n" + unit + "S\nT"). None for any other
    code, or when no split parses. Qwen2.5-Coder-1.5B wrote that shape for kth's `pivot = arr[0]` twice in one
    run, its old line after a new guard; each was refused as unparseable (two refusals end an attempt). The
    split is tried at each name outside brackets, the last first (the longest body that parses); neither side
    may hold a statement that does nothing (_idle: `if n < 0: raise ValueError "x"` is no guard and a string).
    Lines past RUN_ON_CHARS are left as they are."""
    line = code.strip()
    if "\n" in line or not line.startswith("if ") or len(line) > RUN_ON_CHARS or parsed(line) is not None:
        return None
    tokens = _outside_brackets(line) or []
    splits = [t.start[1] for t in tokens if t.type == tokenize.NAME and t.start[1]]  # a statement starts with a name
    for at in reversed(splits):
        head, rest = line[:at].strip(), line[at:].strip()
        tree, after = parsed(head), parsed(rest)
        if (tree is None or after is None or len(tree.body) != 1 or not isinstance(tree.body[0], ast.If)
                or tree.body[0].orelse or head.endswith(";") or len(after.body) != 1
                or any(_idle(stmt) for stmt in [*tree.body[0].body, *after.body])):
            continue
        guard = tree.body[0]
        body = "; ".join(ast.get_source_segment(head, stmt) or ast.unparse(stmt) for stmt in guard.body)
        block = f"if {ast.get_source_segment(head, guard.test) or ast.unparse(guard.test)}:\n{unit}{body}\n{rest}"
        if complete(block):
            return block
    return None


def run_together(code: str, unit: str = "    ") -> str | None:
    """Two simple statements run together on one line, no `;` or newline between (`steps.extend(a) steps.extend(b)`),
    which Python does not take, as the two lines they mean. None for any other code: a line that parses, one
    whose only split leaves a compound statement, one that does nothing (_idle) or one that could never run
    (after a `return`, `raise`, `break` or `continue`: `return a - b return 0`), or one that splits into two
    statements in more than one place (which was meant is not known). Qwen2.5-Coder-1.5B wrote that shape twice
    in one attempt of QuixBugs hanoi; both were refused as unparseable, which ended the attempt. `unit` is unused
    (the shape of if_else_blocks' other rescues)."""
    line = code.strip()
    if "\n" in line or len(line) > RUN_ON_CHARS or parsed(line) is not None:
        return None
    tokens = _outside_brackets(line) or []
    found = []
    for at in (t.start[1] for t in tokens if t.type == tokenize.NAME and t.start[1]):
        head, rest = line[:at].strip(), line[at:].strip()
        first, second = parsed(head), parsed(rest)
        if (first is not None and second is not None and len(first.body) == len(second.body) == 1
                and not head.endswith(";") and not isinstance(first.body[0], JUMPS)
                and all(isinstance(tree.body[0], SIMPLE) and not _idle(tree.body[0]) for tree in (first, second))):
            found.append(f"{head}\n{rest}")
    return found[0] if len(found) == 1 else None


def json_closers(code: str, unit: str = "    ") -> str | None:
    """A line with the `}` that close a tool call's JSON written after its code, inside the string (`heap =
    arr[:k]}}`), as the line without them: the `}` at its end that no `{` in it opens. None for any other code:
    a line that parses, or whose `}` are matched, or that does not parse without them either. Under a narrowed
    edit, whose `new` may not be its `old` (agent/narrowing.py), Qwen2.5-Coder-1.5B ended `new` so 4 times in 5
    QuixBugs tasks (kheapsort, depth_first_search, minimum_spanning_tree): each refused as unparseable, a step
    each. `unit` is unused (the shape of if_else_blocks' other rescues)."""
    line = code.strip()
    if "\n" in line or not line.endswith("}") or parsed(line) is not None:
        return None
    meant = line
    while meant.endswith("}") and meant.count("}") > meant.count("{"):
        meant = meant[:-1].rstrip()
    return meant if meant != line and meant and parsed(meant) is not None else None


JUMPS = (ast.Return, ast.Raise, ast.Break, ast.Continue)  # what no statement after in its block runs past
# Statements that take no block: what run_together may split a line into.
SIMPLE = (ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Return, ast.Raise, ast.Pass, ast.Break, ast.Continue,
          ast.Delete, ast.Assert, ast.Import, ast.ImportFrom, ast.Global, ast.Nonlocal)


# A comparison and the one that holds exactly when it does not (`b == 0`, `b != 0`).
OPPOSITE = {ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.GtE, ast.GtE: ast.Lt, ast.Gt: ast.LtE, ast.LtE: ast.Gt,
            ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In}


def _same_or_negated(a: ast.expr, b: ast.expr) -> bool:
    """Whether conditions `a` and `b` are the same, or one is the other negated (`not C`, or a single
    comparison with its opposite operator): either way, under `if a:` one arm of `x if b else y` never runs."""
    if ast.dump(a) == ast.dump(b):
        return True
    if any(isinstance(x, ast.UnaryOp) and isinstance(x.op, ast.Not) and ast.dump(x.operand) == ast.dump(y)
           for x, y in ((a, b), (b, a))):
        return True
    return (isinstance(a, ast.Compare) and isinstance(b, ast.Compare) and len(a.ops) == len(b.ops) == 1
            and OPPOSITE.get(type(a.ops[0])) is type(b.ops[0])
            and ast.dump(a.left) == ast.dump(b.left) and ast.dump(a.comparators[0]) == ast.dump(b.comparators[0]))


def restated_if(text: str, matches: list[Match]) -> list[Match]:
    """`matches` (into Python source `text`) with an exact one widened to a whole `if C: ... else: ...` when it
    replaces the one statement of one of its branches with a conditional expression over that same `C` (or its
    negation) of the same statement kind as both branches: `return a if b == 0 else gcd(b, a % b)` for gcd's
    `return a`, under `if b == 0:`. As written, one arm of the expression can never run there; Qwen2.5-Coder-1.5B
    wrote that line (QuixBugs gcd, 2 of 11 attempts in one run, twice in another), which is the fix when it
    replaces the whole `if`. `matches` as given otherwise (an `elif` chain, a branch of several statements,
    another condition, more than one match)."""
    # A lone "\r" is a line break to Python's parser and not to line_no: the two would count lines apart.
    if len(matches) != 1 or matches[0].stage != "exact" or "\n" in matches[0].new.strip() or "\r" in text:
        return matches
    try:
        return _restated_if(text, matches[0]) or matches
    except RecursionError:  # ast.dump of a deeply nested condition
        return matches


def _restated_if(text: str, m: Match) -> list[Match] | None:
    tree = parsed(text)
    new = parsed(textwrap.dedent(m.new.strip("\n"))) if tree is not None else None
    stmt = new.body[0] if new is not None and len(new.body) == 1 else None
    if tree is None or not isinstance(stmt, (ast.Return, ast.Assign)) or not isinstance(stmt.value, ast.IfExp):
        return None
    lines = text.split("\n")
    n = line_no(text, m.start)
    start = text.rfind("\n", 0, m.start) + 1
    if text[start: m.start].strip() or text[m.end: start + len(lines[n - 1])].strip():
        return None  # `old` is not the whole code of its line
    kind = lambda s: (type(s), [ast.dump(t) for t in getattr(s, "targets", [])])  # noqa: E731
    for node in (node for node in ast.walk(tree) if isinstance(node, ast.If)):
        branches = [node.body, node.orelse]
        if (not node.orelse or node.end_lineno is None or node.end_col_offset is None
                or not any(b[0].lineno == n == b[0].end_lineno for b in branches)
                or not re.match(r"if\b", lines[node.lineno - 1][len(indent_of(lines[node.lineno - 1])):])
                or not all(len(b) == 1 and kind(b[0]) == kind(stmt) for b in branches)
                or not _same_or_negated(node.test, stmt.value.test)):
            continue
        end = offset(lines, node.end_lineno, node.end_col_offset)
        if text[end:].split("\n", 1)[0].strip():
            return None  # code after the `if` on its last line
        return [Match(offset(lines, node.lineno, node.col_offset), end, m.new.strip(), m.stage)]
    return None


def if_else_blocks(text: str, matches: list[Match], shape: Callable[[str, str], str | None] = if_else_block) -> list[Match]:
    """`matches` (into `text`) with each exact one that covers the code of its line (its indentation or not)
    and whose `new` is a one-line if/else (`shape`: if_else_block, or guard_block) made the block, indented as
    that line, its bodies one level deeper in the file's indentation (tabs or its number of spaces). Not where
    the line opens a block (the next code line is indented deeper): the old body would end up under the new
    `else:`."""
    lines = text.split("\n")
    unit = "\t" if indent_style(text) == "\t" else " " * space_unit(text)
    out = []
    for m in matches:
        n = line_no(text, m.start)
        start = text.rfind("\n", 0, m.start) + 1
        indent = indent_of(lines[n - 1])
        end = start + len(lines[n - 1])
        later = next((line for line in lines[n:] if line.strip()), "")
        block = shape(m.new, unit) if m.stage == "exact" else None
        if (block is None or text[start: m.start].strip() or text[m.end: end].strip() or m.end > end
                or len(indent_of(later)) > len(indent)):
            out.append(m)
            continue
        out.append(Match(start + len(indent), m.end, block.replace("\n", "\n" + indent), m.stage))
    return out
