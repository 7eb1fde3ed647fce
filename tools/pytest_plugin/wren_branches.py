"""run_tests' plugin: the `if` lines of a file that can say a comparison was off by one (wren_origins.py's
why-not line): each `if` or `elif` whose test compares two plain numbers, where its body starts, ends and what
it sets, and whether the test's two sides are equal in a frame. Static (ast) but for _equal_sides."""
from __future__ import annotations

import ast
import linecache
import types
import warnings
from typing import NamedTuple


class Branch(NamedTuple):
    """An `if` (or `elif`) whose test compares two plain numbers (see branches)."""
    test_end: int  # the test's last line
    first: int  # its body's first and last lines
    last: int
    sets: dict[str, int]  # each variable its body sets -> the first line that sets it
    sides: tuple[types.CodeType, types.CodeType]  # the comparison's two sides, compiled to evaluate


_branches: dict[str, dict[int, Branch]] = {}
ORDERING = (ast.Lt, ast.LtE, ast.Gt, ast.GtE)
ARITHMETIC = (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Mod)


def branches(filename: str) -> dict[int, Branch]:
    """A file's `if` and `elif` lines whose test is one ordering comparison (`<`, `<=`, `>`, `>=`) of sides made
    of names, numbers and arithmetic, and whose body starts on a line of its own (a line event then tells
    whether it ran): line -> Branch. Setting counts an assignment to the name, to an item or attribute of it,
    and a method call on it made as a statement (`seen.add(x)`); not in functions or classes the body defines.
    {} where the file does not parse."""
    if filename not in _branches:
        found: dict[int, Branch] = {}
        with warnings.catch_warnings():  # a warning (an odd escape in a string) would be the test's
            warnings.simplefilter("ignore")
            try:
                tree = ast.parse("".join(linecache.getlines(filename)))
            except (SyntaxError, ValueError):
                tree = ast.Module(body=[], type_ignores=[])
        for node in ast.walk(tree):
            if not isinstance(node, ast.If):
                continue
            test = node.test
            if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ORDERING)
                    and _plain(test.left) and _plain(test.comparators[0])):
                continue
            body_first = node.body[0].lineno
            test_end = test.end_lineno or test.lineno
            if body_first <= test_end:
                continue
            sets: dict[str, int] = {}
            for inner in (n for statement in node.body for n in _statements(statement)):
                for target in _set_by(inner):
                    sets.setdefault(target, inner.lineno)
            sides = tuple(compile(ast.Expression(side), filename, "eval")
                          for side in (test.left, test.comparators[0]))
            found[node.lineno] = Branch(test_end, body_first, node.body[-1].end_lineno or node.body[-1].lineno,
                                        sets, (sides[0], sides[1]))
        _branches[filename] = found
    return _branches[filename]


def _plain(node: ast.expr) -> bool:
    """A side of a comparison made of names, numbers and arithmetic (no calls, items, attributes or `:=`)."""
    if isinstance(node, ast.BinOp):
        return isinstance(node.op, ARITHMETIC) and _plain(node.left) and _plain(node.right)
    if isinstance(node, ast.UnaryOp):
        return isinstance(node.op, ast.USub) and _plain(node.operand)
    return isinstance(node, ast.Name) or (isinstance(node, ast.Constant) and type(node.value) in (int, float))


def equal_sides(sides: tuple[types.CodeType, types.CodeType], frame) -> bool:
    """Whether both sides of a Branch's comparison are equal numbers in this frame; False where a name is
    not a number (then no operator of its type runs) or is not set."""
    names = {n for code in sides for n in code.co_names}
    scope = {**frame.f_globals, **frame.f_locals}
    if not all(n in scope and type(scope[n]) in (int, float, bool) for n in names):
        return False
    try:
        left, right = (eval(code, {"__builtins__": {}}, {n: scope[n] for n in names}) for code in sides)
    except Exception:  # a division by zero, an overflow
        return False
    return bool(left == right)


def _statements(node: ast.AST):
    """The statements in a statement (or an `except` or `case` clause), a statement itself first; not those of
    the functions and classes it defines."""
    if isinstance(node, ast.stmt):
        yield node
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.stmt, ast.excepthandler, ast.match_case)) and not isinstance(
                child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield from _statements(child)


def _set_by(node: ast.stmt) -> list[str]:
    """The variables a statement sets (see branches)."""
    if isinstance(node, ast.Assign):
        targets = [t for target in node.targets for t in (target.elts if isinstance(target, ast.Tuple) else [target])]
    elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
        targets = [node.target]
    elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Attribute):
        targets = [node.value.func.value]
    else:
        return []
    names = []
    for target in targets:
        while isinstance(target, (ast.Subscript, ast.Attribute)):
            target = target.value
        if isinstance(target, ast.Name):
            names.append(target.id)
    return names
