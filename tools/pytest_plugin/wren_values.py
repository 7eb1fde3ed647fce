"""Values as wren_origins.py shows them: cut reprs of a frame's values and calls, and the marks that tell whether a
line changed a value (a repr cut far later, and the container's size)."""
from __future__ import annotations

import itertools
import reprlib

__tracebackhide__ = True  # as in wren_origins.py: a repr that fails deep in a recursion must not show these frames


class _Short(reprlib.Repr):
    """reprlib's cut reprs, dicts in their own order (reprlib sorts their keys; the test's locals do not)."""

    def repr_dict(self, x, level):
        if not x:
            return "{}"
        if level <= 0:
            return "{...}"
        pieces = [f"{self.repr1(k, level - 1)}: {self.repr1(v, level - 1)}" for k, v in itertools.islice(x.items(), self.maxdict)]
        return "{" + ", ".join(pieces + ["..."] * (len(x) > self.maxdict)) + "}"


short = _Short()
short.maxlist = short.maxtuple = short.maxset = 6  # as pytest's --showlocals cuts lists: `[1, 2, 3, 4, 5, 6, ...]`
short.maxdict, short.maxstring, short.maxother, short.maxlevel = 4, 30, 30, 3
# What tells a value's change: its repr cut far later than `short` (an append to a list of seven items changes no
# repr cut at six); a change past these limits goes unseen.
_marks = _Short()
_marks.maxlist = _marks.maxtuple = _marks.maxset = _marks.maxdict = 100
_marks.maxstring, _marks.maxother, _marks.maxlevel = 200, 200, 4


def shown(value) -> str:
    """A value's cut repr ("?" where its repr fails)."""
    try:
        return short.repr(value)
    except Exception:
        return "?"


def parameters(code) -> tuple[list[str], str | None, list[str], str | None]:
    """A code object's parameter names: positional, *args, keyword-only, **kwargs (None where it has none)."""
    names = code.co_varnames
    positional = list(names[: code.co_argcount])
    at = code.co_argcount
    keyword_only = list(names[at + bool(code.co_flags & 4): at + bool(code.co_flags & 4) + code.co_kwonlyargcount])
    varargs = names[at] if code.co_flags & 4 else None
    at += bool(code.co_flags & 4) + code.co_kwonlyargcount
    varkw = names[at] if code.co_flags & 8 else None
    return positional, varargs, keyword_only, varkw


def call_text(frame) -> str:
    """`name(arg, ..., *args spread, key=value, ...)` of a frame, as a call that could be made: its parameters'
    values (`self` left out)."""
    positional, varargs, keyword_only, varkw = parameters(frame.f_code)
    local = frame.f_locals
    args = [shown(local.get(n)) for n in positional if n != "self"]
    args += [shown(v) for v in (local.get(varargs) or ())] if varargs else []
    args += [f"{n}={shown(local.get(n))}" for n in keyword_only]
    extra = local.get(varkw) if varkw else None
    args += [f"{k}={shown(v)}" for k, v in extra.items()] if isinstance(extra, dict) else []
    return f"{frame.f_code.co_name}({', '.join(args)})"


def value_mark(value) -> object:
    """What tells whether a line changed `value`: the value itself for a small scalar, else its id, size and a
    repr cut far later than shown()'s."""
    kind = type(value)
    if kind in (int, bool, type(None)) or (kind is str and len(value) <= 200):
        return kind, value
    # Its size too: an append or a new key past the repr's cut still shows (the last set is then not stale).
    size = len(value) if isinstance(value, (list, dict, set, bytearray)) else None
    try:
        return id(value), size, _marks.repr(value)
    except Exception:
        return id(value), size, None
