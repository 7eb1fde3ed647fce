"""The grammar of a block header's replacement: Python text that ends at its header's colon.

A narrowed edit (agent/narrowing.py) of a line that opens a block (`if x:`, `while lo <= hi:`,
`def f(a: int):`) marks its `new` with HEADER. Qwen2.5-Coder-1.5B put statements after such a colon
in 13 of 17 edits of QuixBugs' find_first_in_sorted (`if x == arr[mid]: break;`), each refused as
unparseable, since the block below was then indented under nothing. Its grammar ends `new` at the
first colon outside brackets and string literals (a slice's `a[k:]`, a walrus `(n := f(x))`, an
annotation `(x: int)` and `":"` go on), so nothing can follow that colon, and the model has no reason
to go on writing in search of one. And it is one line: no newline (`\n`, `\r`) anywhere. Offered mergesort's
`def mergesort(arr):`, Qwen wrote `def mergesort(arr)\n\n    def merge(left, right):`, which ends at a
colon, with its own line left without one (2 of 4 edits refused in one run, ending an attempt).
"""
from __future__ import annotations

import json

from wren.local_models.formats import PLAIN_CHAR, _class_char, _literal, json_units

FREE = "wren-header"  # the free rules' names: FREE-d0n (free_rules)
HEADER = "x-block-header"  # the schema keyword (true) that asks for this grammar; JSON Schema ignores it
MAX_DEPTH = 4  # brackets counted up to here (deeper, a closer still counts down from it)
OPENERS, CLOSERS, QUOTES = "([{", ")]}", "'\""

# State: (bracket depth, quote): quote "" outside a string literal, "'" or '"' inside one, and with a
# "\\" after it right after a backslash inside one. END: the header's colon, after which the text stops.
State = tuple[int, str]
END: State = (-1, "")


def step(state: State, char: str) -> State:
    """The state after one character of Python text (see State)."""
    depth, quote = state
    if quote.endswith("\\"):
        return depth, quote[0]
    if quote:
        return (depth, "") if char == quote else (depth, quote + "\\") if char == "\\" else state
    if char == ":" and depth == 0:
        return END
    if char in QUOTES:
        return depth, char
    if char in OPENERS:
        return min(depth + 1, MAX_DEPTH), ""
    if char in CLOSERS:
        return max(depth - 1, 0), ""
    return state


def is_header(text: str) -> bool:
    """Whether `text` is one line that ends at its first colon outside brackets and string literals: what the
    grammar allows (bar the old line's own text and fixes already tried, which it excludes, and a newline
    written as a \\u escape, which it does not look into)."""
    if "\n" in text or "\r" in text:
        return False
    state: State = (0, "")
    for char in text:
        if state == END:
            return False
        state = step(state, char)
    return state == END


def _char(unit: str) -> str:
    """The character a JSON text unit stands for."""
    return json.loads(f'"{unit}"')


def _unit(char: str) -> str:
    """A character's JSON text unit (`"` is `\\"`)."""
    return json.dumps(char)[1:-1]


# The characters that change the state, each as the GBNF of its JSON unit; any other unit keeps the state.
SPECIAL = {c: _literal(_unit(c)) for c in ":" + QUOTES + "\\" + OPENERS + CLOSERS}
PLAIN = PLAIN_CHAR[:-1]  # a JSON string's plain characters, as a class left open to add to
SHORT = "/bft"  # the short escapes that stand for no special character, bar \n and \r: a header is one line


def _free(state: State) -> str:
    """The name of the free rule of `state`: `FREE-d1s` is depth 1 inside a '-quoted string literal."""
    depth, quote = state
    return f"{FREE}-d{depth}{dict(zip(QUOTES, 'sq')).get(quote[:1], 'n')}{'e' if quote.endswith(chr(92)) else ''}"


def _moves(state: State, taken: set[str]) -> list[str]:
    """A free unit's alternatives from `state`: each unit not in `taken` (those go on along the trie), as
    GBNF followed by the free rule of the state it leads to (nothing after the header's colon)."""
    moves = []
    for char, gbnf in SPECIAL.items():
        if _unit(char) not in taken:
            after = step(state, char)
            moves.append(gbnf if after == END else f"{gbnf} {_free(after)}")
    kept = set(SPECIAL) - set('"\\') | {u for u in taken if len(u) == 1}
    other = [PLAIN + "".join(_class_char(c) for c in sorted(kept, key=lambda c: (c == "-", c))) + "]"]
    if short := "".join(c for c in SHORT if "\\" + c not in taken):
        other.append(f"[\\\\] [{short}]")
    if not any(len(u) > 2 for u in taken):
        other.append('[\\\\] "u" [0-9a-fA-F]{4}')
    return moves + [f"({' | '.join(other)}) {_free(step(state, 'a'))}"]  # a plain character's next state


def header_rules(name: str, values: list[str]) -> str:
    """GBNF rules for a JSON string that is none of `values` and is a header (is_header), over the trie of
    the values' units (as formats._unequal_rules): along a value it may go on as the value does until the
    header's colon, where it may stop unless that value ends there; any other unit leaves the trie for the
    free rules (free_rules, which the grammar must hold too), one per State, which stop at the header's colon."""
    trie: dict[tuple[str, ...], dict[str, tuple[str, ...]]] = {(): {}}
    ends = {json_units(v) for v in values}
    for units in ends:
        for k, unit in enumerate(units):
            trie.setdefault(units[:k], {})[unit] = units[:k + 1]
            trie.setdefault(units[:k + 1], {})
    states: dict[tuple[str, ...], State] = {(): (0, "")}
    for node in sorted(trie, key=len):  # parents first
        for unit, child in trie[node].items():
            states[child] = END if states[node] == END else step(states[node], _char(unit))
    ids = {node: n for n, node in enumerate(trie)}
    live = {node for node in trie if not (states[node] == END and node in ends)}  # a dead end: the old line itself
    rules = [f'{name} ::= "\\"" {name}-0 "\\""']
    for node, children in trie.items():
        if node not in live or (node and states[node[:-1]] == END):
            continue
        if states[node] == END:  # right after the header's colon: the text stops here
            rules.append(f'{name}-{ids[node]} ::= ""')
            continue
        options = [f"{_literal(unit)} {name}-{ids[child]}" for unit, child in children.items() if child in live]
        options += _moves(states[node], set(children))
        rules.append(f"{name}-{ids[node]} ::= " + " | ".join(options))
    return "\n" + "\n".join(rules)


def free_rules() -> str:
    """The free rules header_rules' text leaves to (one per State, named FREE-...), the same for every value:
    a grammar holds them once, however many header lines it offers."""
    return "\n" + "\n".join(f"{_free((depth, quote))} ::= " + " | ".join(_moves((depth, quote), set()))
                            for depth in range(MAX_DEPTH + 1) for quote in ("", "'", '"', "'\\", '"\\'))
