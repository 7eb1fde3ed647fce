"""Split a file into chunks: one per function, class and method (tree-sitter), line windows otherwise.

A chunk's text is what gets embedded and hashed. It holds neither the path nor line
numbers, so editing one function leaves every other chunk's hash alone and a renamed
file reuses its embeddings.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from wren.context.languages import LanguageSpec, language_for, parser
from wren.context.lexical import IDENT, WORD

if TYPE_CHECKING:
    from tree_sitter import Node, Tree

WINDOW = 60  # lines per window of plain text, and of code outside any definition
STEP = 50  # windows overlap a little so a passage cut at a boundary is whole in one of them
MAX_SIGNATURE = 240
NESTING = frozenset({"class", "interface", "impl", "module"})  # definitions whose members are chunks too
OWNERS = frozenset({"class", "interface", "impl"})  # a function inside one of these is a method
WRAPPERS = frozenset({"decorated_definition", "export_statement", "template_declaration", "type_declaration"})
COMMENTS = frozenset({"comment", "line_comment", "block_comment"})
NAME_NODES = frozenset({"identifier", "field_identifier", "qualified_identifier", "destructor_name",
                        "operator_name", "type_identifier"})
FUNCTION_VALUES = frozenset({"arrow_function", "function_expression", "function", "generator_function",
                             "class"})
# Keywords of the supported languages: in the embedder's word view of a chunk they are noise.
KEYWORDS = frozenset("""self cls this def return if else elif for in while not and or is none null nil true
false class import from as try except catch finally raise throw with pass lambda yield break continue del global
nonlocal assert async await function const let var new typeof instanceof export default func go defer chan map
package type struct interface fn pub impl mut use mod crate match loop public private protected static final void
int long char bool boolean float double unsigned signed sizeof typedef enum switch case goto extern auto register
volatile template typename namespace virtual override string str""".split())


@dataclass(frozen=True)
class Chunk:
    symbol: str  # qualified name ("Parser.parse"); empty for windows
    kind: str  # function, method, class, type, interface, impl, module, macro, code, text
    start_line: int  # 1-based, inclusive
    end_line: int
    signature: str
    text: str

    @cached_property
    def words(self) -> str:
        """What the embedder reads: kind, name and signature, then the chunk's words in order of first use.

        A sentence model reads words; raw code spends most of its tokens on punctuation, and
        this view fits about twice as much of a chunk in the same tokens at the same accuracy."""
        head, _, body = self.text.partition("\n")
        seen = dict.fromkeys(w for w in (p.lower() for ident in IDENT.findall(body) for p in WORD.findall(ident))
                             if len(w) > 1 and w not in KEYWORDS)
        return "\n".join(part for part in (head, self.signature, " ".join(seen)) if part)

    @cached_property
    def hash(self) -> str:
        return hashlib.sha1(self.text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class _Def:
    node: "Node"
    outer: "Node"  # the node with decorators, `export` or `template<>` around it
    qualname: list[str]
    kind: str


def parse(path: str, source: bytes) -> tuple[LanguageSpec, "Tree"] | None:
    spec = language_for(path)
    return (spec, parser(spec.name).parse(source)) if spec else None


def chunk_file(path: str, text: str, tree: tuple[LanguageSpec, "Tree"] | None = None) -> list[Chunk]:
    """Definitions for files tree-sitter can parse, plus windows over what lies outside them."""
    lines = text.split("\n")
    parsed = tree or parse(path, text.encode("utf-8", "surrogatepass"))
    if parsed is None:
        return _windows(lines, range(len(lines)), "text")
    spec, ts_tree = parsed
    defs = _definitions(spec, ts_tree.root_node, [], None)
    chunks = [_chunk(d, defs, lines) for d in defs]
    covered: set[int] = set()
    for d in defs:
        covered.update(range(_start_row(d.outer), d.node.end_point.row + 1))
    rest = [row for row in range(len(lines)) if row not in covered]
    return chunks + _windows(lines, rest, "code")


def _definitions(spec: LanguageSpec, node: "Node", qual: list[str], inside: str | None) -> list[_Def]:
    found: list[_Def] = []
    for child in node.named_children:
        kind = spec.definitions.get(child.type)
        if kind and _is_definition(child):
            name = _name(child)
            if kind == "function" and inside in OWNERS:
                kind = "method"
            full = qual + [name] if name else qual
            if name:
                found.append(_Def(child, _outer(child), full, kind))
            if kind in NESTING:
                found += _definitions(spec, child.child_by_field_name("body") or child, full, kind)
        elif child.type in spec.containers:
            found += _definitions(spec, child, qual, inside)
    return found


def _is_definition(node: "Node") -> bool:
    if node.type == "variable_declarator":  # `const f = () => ...` is a function; `const n = 1` is not
        value = node.child_by_field_name("value")
        return value is not None and value.type in FUNCTION_VALUES
    if node.type in ("struct_specifier", "enum_specifier", "union_specifier"):
        return node.child_by_field_name("body") is not None  # `struct foo *p;` only names the type
    return True


def _name(node: "Node") -> str:
    if node.type == "impl_item":
        target = node.child_by_field_name("type")
        return re.sub(r"<.*", "", _text(target)) if target else ""
    if node.type == "method_declaration" and (receiver := node.child_by_field_name("receiver")):
        owner = re.findall(r"[A-Za-z_]\w*", _text(receiver))  # Go: (s *Server) -> Server
        method = node.child_by_field_name("name")
        return f"{owner[-1]}.{_text(method)}" if owner and method else _text(method)
    named = node.child_by_field_name("name")
    if named is not None:
        return _text(named)
    declarator = node.child_by_field_name("declarator")
    while declarator is not None and declarator.type not in NAME_NODES:
        declarator = declarator.child_by_field_name("declarator") or next(
            (c for c in declarator.named_children if "declarator" in c.type or c.type in NAME_NODES), None)
    return _text(declarator).replace("::", ".") if declarator is not None else ""


def _outer(node: "Node") -> "Node":
    while node.parent is not None and node.parent.type in WRAPPERS:
        node = node.parent
    return node


def _start_row(outer: "Node") -> int:
    """Doc comments right above a definition belong to it."""
    row, prev = outer.start_point.row, outer.prev_named_sibling
    while prev is not None and prev.type in COMMENTS and prev.end_point.row >= row - 1:
        row, prev = prev.start_point.row, prev.prev_named_sibling
    return row


def _text(node: "Node | None") -> str:
    return node.text.decode("utf-8", "replace") if node is not None and node.text is not None else ""


def _signature(node: "Node") -> str:
    body = node.child_by_field_name("body")
    end = body.start_byte if body is not None else node.end_byte
    head = node.text[: end - node.start_byte].decode("utf-8", "replace") if node.text else ""
    head = " ".join(head.split()) or _text(node).split("\n", 1)[0]
    return head[:MAX_SIGNATURE]


def _chunk(d: _Def, defs: list[_Def], lines: list[str]) -> Chunk:
    first, last = _start_row(d.outer), d.node.end_point.row
    signature = _signature(d.node)
    members = [m for m in defs if _inside(m, d)]
    if members:  # a class: its own lines, with each member's body reduced to its signature
        body = _outline(lines, first, last, members)
    else:
        body = "\n".join(lines[first:last + 1])
    symbol = ".".join(d.qualname)
    return Chunk(symbol, d.kind, first + 1, last + 1, signature, f"{d.kind} {symbol}\n{body}")


def _inside(member: _Def, owner: _Def) -> bool:
    return member is not owner and owner.node.start_byte <= member.node.start_byte < owner.node.end_byte


def _outline(lines: list[str], first: int, last: int, members: list[_Def]) -> str:
    skip: dict[int, tuple[int, str]] = {}
    for m in members:
        start = _start_row(m.outer)
        indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
        skip.setdefault(start, (m.node.end_point.row, indent + _signature(m.node)))
    out, row = [], first
    while row <= last:
        if row in skip:
            end, sig = skip[row]
            out.append(sig)
            row = end + 1
        else:
            out.append(lines[row])
            row += 1
    return "\n".join(out)


def _windows(lines: list[str], rows: range | list[int], kind: str) -> list[Chunk]:
    """Windows over runs of consecutive rows; blank-only windows are dropped."""
    runs: list[list[int]] = []
    for row in rows:
        if runs and runs[-1][-1] == row - 1:
            runs[-1].append(row)
        else:
            runs.append([row])
    chunks = []
    for run in runs:
        for at in range(0, len(run), STEP):
            part = run[at:at + WINDOW]
            body = "\n".join(lines[r] for r in part)
            if body.strip():
                chunks.append(Chunk("", kind, part[0] + 1, part[-1] + 1, "", body))
            if at + WINDOW >= len(run):
                break
    return chunks
