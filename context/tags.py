"""tree-sitter tags for the repo map: where each name is defined, and which names a file uses.

Definitions come from each grammar's own tags.scm. References are the identifier nodes
of the file: tags.scm only marks calls (and has no references at all for C and C++),
while a base class, a type annotation or an imported name ties files together as well.
Member names (`x.append`, `obj.model`) are left out: they match any method of that name
in any class, which ties files together at random.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from wren.context.languages import LanguageSpec, grammar, tags_query

if TYPE_CHECKING:
    from tree_sitter import Node, Query, Tree

IDENTIFIER_NODES = ("identifier", "type_identifier", "namespace_identifier")
MEMBER_PATTERNS = {"python": "(attribute attribute: (identifier) @member)"}  # others use property/field nodes
MAX_LINE = 160
OWNERS = frozenset({"class", "interface", "impl", "function", "method"})
# A function expression (JS's module pattern) or an object literal owns what is defined in it.
OWNER_NODES = frozenset({"function_expression", "arrow_function", "function", "generator_function", "object",
                         "lambda"})
MEMBER_NAMES = frozenset({"property_identifier", "field_identifier"})  # `obj.name = function ...`


@dataclass(frozen=True)
class Definition:
    name: str
    kind: str  # class, function, method, ... from the capture `@definition.KIND`
    line: int  # 1-based
    text: str  # the definition's first line with its indentation, as the map shows it
    member: bool = False  # defined inside a class or function: reached through `obj.name`, not `name`


@dataclass
class FileTags:
    definitions: list[Definition] = field(default_factory=list)
    references: Counter = field(default_factory=Counter)  # name -> occurrences


def _nested(spec: LanguageSpec, node: "Node", name: "Node") -> bool:
    """Inside a class, impl or function (so reached as `obj.name`), not at the top of a file or module."""
    own: Node | None = node
    if name.type in MEMBER_NAMES:
        return True
    while own is not None and own.type not in spec.definitions:  # C: the capture is the declarator
        own = own.parent
    above = (own or node).parent
    while above is not None:
        if spec.definitions.get(above.type) in OWNERS or above.type in OWNER_NODES:
            return True
        above = above.parent
    return False


@lru_cache(maxsize=None)
def _identifier_query(name: str) -> "Query":
    from tree_sitter import Query

    lang = grammar(name)
    kinds = [k for k in IDENTIFIER_NODES if lang.id_for_node_kind(k, True) is not None]
    return Query(lang, "[" + " ".join(f"({k})" for k in kinds) + "] @ref\n" + MEMBER_PATTERNS.get(name, ""))


def extract_tags(spec: LanguageSpec, tree: "Tree", lines: list[str]) -> FileTags:
    from tree_sitter import QueryCursor

    out = FileTags()
    seen: set[tuple[str, int]] = set()
    def_name_bytes: set[int] = set()
    for _, captures in QueryCursor(tags_query(spec.name)).matches(tree.root_node):
        kinds = [(c.split(".", 1)[1], nodes[0]) for c, nodes in captures.items() if c.startswith("definition.")]
        names = captures.get("name")
        if not kinds or not names:
            continue
        (kind, whole), node = kinds[0], names[0]
        name, row = node.text.decode("utf-8", "replace") if node.text else "", node.start_point.row
        if name and (name, row) not in seen:
            seen.add((name, row))
            def_name_bytes.add(node.start_byte)
            text = lines[row].rstrip() if row < len(lines) else name
            out.definitions.append(Definition(name, kind, row + 1, text[:MAX_LINE], _nested(spec, whole, node)))
    found = QueryCursor(_identifier_query(spec.name)).captures(tree.root_node)
    skip = def_name_bytes | {node.start_byte for node in found.get("member", [])}
    for node in found.get("ref", []):
        if node.start_byte not in skip and node.text:
            out.references[node.text.decode("utf-8", "replace")] += 1
    return out
