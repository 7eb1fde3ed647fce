"""Which tree-sitter grammar parses which file, and which nodes are definitions.

Only the official grammar wheels (tree_sitter_python and friends): they ship compiled
parsers, so nothing is fetched from the network.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tree_sitter import Language, Parser, Query


@dataclass(frozen=True)
class LanguageSpec:
    name: str
    module: str
    entry: str  # the function of the wheel that returns the language pointer
    # node type -> kind of definition ("function" inside a class becomes "method")
    definitions: dict[str, str]
    # node types whose children may hold definitions although they are not definitions themselves
    containers: frozenset[str] = field(default_factory=frozenset)
    extra_tags: tuple[str, ...] = ()  # wheels whose tags queries this grammar also accepts


_C_DEFS = {"function_definition": "function", "struct_specifier": "class", "enum_specifier": "type",
           "union_specifier": "class", "type_definition": "type"}
_JS_DEFS = {"function_declaration": "function", "generator_function_declaration": "function",
            "class_declaration": "class", "method_definition": "function", "variable_declarator": "function"}
_TS_DEFS = {**_JS_DEFS, "abstract_class_declaration": "class", "interface_declaration": "interface",
            "enum_declaration": "type", "type_alias_declaration": "type", "method_signature": "function",
            "abstract_method_signature": "function", "internal_module": "module"}
_JS_CONTAINERS = frozenset({"export_statement", "lexical_declaration", "variable_declaration", "program",
                            "class_body", "statement_block", "interface_body", "object_type"})

LANGUAGES: dict[str, LanguageSpec] = {spec.name: spec for spec in (
    LanguageSpec("python", "tree_sitter_python", "language",
                 {"function_definition": "function", "class_definition": "class"},
                 frozenset({"decorated_definition", "block", "module"})),
    LanguageSpec("javascript", "tree_sitter_javascript", "language", _JS_DEFS, _JS_CONTAINERS),
    LanguageSpec("typescript", "tree_sitter_typescript", "language_typescript", _TS_DEFS, _JS_CONTAINERS,
                 ("tree_sitter_javascript",)),
    LanguageSpec("tsx", "tree_sitter_typescript", "language_tsx", _TS_DEFS, _JS_CONTAINERS,
                 ("tree_sitter_javascript",)),
    LanguageSpec("go", "tree_sitter_go", "language",
                 {"function_declaration": "function", "method_declaration": "method", "type_spec": "type"},
                 frozenset({"source_file", "type_declaration"})),
    LanguageSpec("rust", "tree_sitter_rust", "language",
                 {"function_item": "function", "struct_item": "class", "enum_item": "type",
                  "trait_item": "interface", "impl_item": "impl", "mod_item": "module",
                  "function_signature_item": "function", "macro_definition": "macro"},
                 frozenset({"source_file", "declaration_list"})),
    LanguageSpec("java", "tree_sitter_java", "language",
                 {"class_declaration": "class", "interface_declaration": "interface", "enum_declaration": "type",
                  "record_declaration": "class", "method_declaration": "function",
                  "constructor_declaration": "function", "annotation_type_declaration": "interface"},
                 frozenset({"program", "class_body", "interface_body", "enum_body", "enum_body_declarations"})),
    LanguageSpec("c", "tree_sitter_c", "language", _C_DEFS,
                 frozenset({"translation_unit", "declaration", "preproc_if", "preproc_ifdef", "preproc_else",
                            "linkage_specification", "declaration_list"})),
    LanguageSpec("cpp", "tree_sitter_cpp", "language",
                 {**_C_DEFS, "class_specifier": "class", "namespace_definition": "module"},
                 frozenset({"translation_unit", "declaration", "preproc_if", "preproc_ifdef", "preproc_else",
                            "linkage_specification", "declaration_list", "template_declaration",
                            "field_declaration_list", "field_declaration"})),
)}

EXTENSIONS = {".py": "python", ".pyi": "python", ".js": "javascript", ".jsx": "javascript",
              ".mjs": "javascript", ".cjs": "javascript", ".ts": "typescript", ".mts": "typescript",
              ".cts": "typescript", ".tsx": "tsx", ".go": "go", ".rs": "rust", ".java": "java",
              ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp",
              ".hh": "cpp", ".hxx": "cpp"}


def language_for(path: str) -> LanguageSpec | None:
    dot = path.rfind(".")
    return LANGUAGES.get(EXTENSIONS.get(path[dot:].lower(), "")) if dot >= 0 else None


@lru_cache(maxsize=None)
def grammar(name: str) -> "Language":
    from tree_sitter import Language

    spec = LANGUAGES[name]
    return Language(getattr(importlib.import_module(spec.module), spec.entry)())


@lru_cache(maxsize=None)
def parser(name: str) -> "Parser":
    from tree_sitter import Parser

    return Parser(grammar(name))


@lru_cache(maxsize=None)
def tags_query(name: str) -> "Query":
    """The grammar's own tags.scm (what GitHub's code navigation uses), plus the ones it extends."""
    from tree_sitter import Query

    spec = LANGUAGES[name]
    sources = [importlib.import_module(m).TAGS_QUERY for m in (*spec.extra_tags, spec.module)]
    return Query(grammar(name), "\n".join(sources))
