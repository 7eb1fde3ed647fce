"""tree-sitter tags for the repo map: where each name is defined, and which names a file uses.

Definitions come from each grammar's own tags.scm. References are the identifier nodes
of the file: tags.scm only marks calls (and has no references at all for C and C++),
while a base class, a type annotation or an imported name ties files together as well.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from wren.context.languages import LanguageSpec, grammar, tags_query

if TYPE_CHECKING:
    from tree_sitter import Query, Tree

IDENTIFIER_NODES = ("identifier", "type_identifier", "field_identifier", "property_identifier",
                    "shorthand_property_identifier", "namespace_identifier")
MAX_LINE = 160


@dataclass(frozen=True)
class Definition:
    name: str
    kind: str  # class, function, method, ... from the capture `@definition.KIND`
    line: int  # 1-based
    text: str  # the definition's first line, as the map shows it


@dataclass
class FileTags:
    definitions: list[Definition] = field(default_factory=list)
    references: Counter = field(default_factory=Counter)  # name -> occurrences


@lru_cache(maxsize=None)
def _identifier_query(name: str) -> "Query":
    from tree_sitter import Query

    lang = grammar(name)
    kinds = [k for k in IDENTIFIER_NODES if lang.id_for_node_kind(k, True) is not None]
    return Query(lang, "[" + " ".join(f"({k})" for k in kinds) + "] @ref")


def extract_tags(spec: LanguageSpec, tree: "Tree", lines: list[str]) -> FileTags:
    from tree_sitter import QueryCursor

    out = FileTags()
    seen: set[tuple[str, int]] = set()
    def_name_bytes: set[int] = set()
    for _, captures in QueryCursor(tags_query(spec.name)).matches(tree.root_node):
        kinds = [c.split(".", 1)[1] for c in captures if c.startswith("definition.")]
        names = captures.get("name")
        if not kinds or not names:
            continue
        node = names[0]
        name, row = node.text.decode("utf-8", "replace") if node.text else "", node.start_point.row
        if name and (name, row) not in seen:
            seen.add((name, row))
            def_name_bytes.add(node.start_byte)
            text = lines[row].strip() if row < len(lines) else name
            out.definitions.append(Definition(name, kinds[0], row + 1, text[:MAX_LINE]))
    for node in QueryCursor(_identifier_query(spec.name)).captures(tree.root_node).get("ref", []):
        if node.start_byte not in def_name_bytes and node.text:
            out.references[node.text.decode("utf-8", "replace")] += 1
    return out
