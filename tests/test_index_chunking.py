"""Chunking and tags with the real grammar wheels, one sample per language."""
from __future__ import annotations

import pytest

from wren.context.chunking import WINDOW, chunk_file, parse
from wren.context.tags import extract_tags

SAMPLES = {
    "pkg/mod.py": ('import os\n\nLIMIT = 3\n\n\n@cache\ndef top(a, b=2) -> int:\n    """Add things."""\n'
                   '    return a + b\n\n\nclass Parser(Base):\n    """Parses."""\n    name = "p"\n\n'
                   '    def parse(self, text):\n        def inner():\n            pass\n        return text\n',
                   [("top", "function", 6, 9), ("Parser", "class", 12, 19), ("Parser.parse", "method", 16, 19)]),
    "web/app.js": ("// Adds numbers.\nfunction add(a, b) { return a + b; }\nexport class Widget extends Base {\n"
                   "  render() { return 1; }\n}\nconst double = (x) => x * 2;\nconst n = 3;\n",
                   [("add", "function", 1, 2), ("Widget", "class", 3, 5), ("Widget.render", "method", 4, 4),
                    ("double", "function", 6, 6)]),
    "src/shape.ts": ("/** A point. */\nexport interface Point { x: number; distance(o: Point): number; }\n"
                     "export type Id = string;\nexport abstract class Shape {\n  abstract area(): number;\n"
                     "  describe(): string { return 's'; }\n}\nexport function make(kind: string): Shape { "
                     "return null as any; }\n",
                     [("Point", "interface", 1, 2), ("Point.distance", "method", 2, 2), ("Id", "type", 3, 3),
                      ("Shape", "class", 4, 7), ("Shape.area", "method", 5, 5), ("Shape.describe", "method", 6, 6),
                      ("make", "function", 8, 8)]),
    "ui/view.tsx": ("export function View(props: Props) {\n  return <div>{props.title}</div>;\n}\n",
                    [("View", "function", 1, 3)]),
    "cmd/main.go": ("package main\n\n// Server serves.\ntype Server struct { addr string }\n\n"
                    "// Start starts it.\nfunc (s *Server) Start() error { return nil }\n\nfunc main() {}\n",
                    [("Server", "type", 3, 4), ("Server.Start", "method", 6, 7), ("main", "function", 9, 9)]),
    "src/lib.rs": ("/// A thing.\npub struct Thing { x: i32 }\npub trait Shape { fn area(&self) -> f64; }\n"
                   "impl Shape for Thing {\n    fn area(&self) -> f64 { 1.0 }\n}\nfn free() {}\n",
                   [("Thing", "class", 1, 2), ("Shape", "interface", 3, 3), ("Shape.area", "method", 3, 3),
                    ("Thing", "impl", 4, 6), ("Thing.area", "method", 5, 5), ("free", "function", 7, 7)]),
    "src/Account.java": ("package x;\n/** Doc. */\npublic class Account {\n    private int balance;\n"
                         "    public Account(int b) { balance = b; }\n"
                         "    public void deposit(int amount) { balance += amount; }\n}\n",
                         [("Account", "class", 2, 7), ("Account.Account", "method", 5, 5),
                          ("Account.deposit", "method", 6, 6)]),
    "src/point.c": ("#include <stdio.h>\nstruct point { int x; int y; };\ntypedef struct { int a; } pair_t;\n"
                    "static int *make_ptr(int n) { return 0; }\nint proto(int);\n",
                    [("point", "class", 2, 2), ("pair_t", "type", 3, 3), ("make_ptr", "function", 4, 4)]),
    "src/geo.cpp": ("namespace geo {\nclass Circle : public Shape {\n public:\n  double area() const { return r; }\n"
                    "  double r;\n};\ndouble Circle::perimeter() const { return 0; }\n}\n",
                    [("geo", "module", 1, 8), ("geo.Circle", "class", 2, 6), ("geo.Circle.area", "method", 4, 4),
                     ("geo.Circle.perimeter", "function", 7, 7)]),
}


@pytest.mark.parametrize("path", sorted(SAMPLES))
def test_each_language_yields_its_definitions(path: str):
    text, expected = SAMPLES[path]
    chunks = chunk_file(path, text)
    found = [(c.symbol, c.kind, c.start_line, c.end_line) for c in chunks if c.symbol]
    assert found == expected
    assert all(c.signature for c in chunks if c.symbol)


def test_signature_docstring_and_class_outline():
    text, _ = SAMPLES["pkg/mod.py"]
    chunks = {c.symbol: c for c in chunk_file("pkg/mod.py", text)}
    assert chunks["top"].signature == "def top(a, b=2) -> int:"
    assert '"""Add things."""' in chunks["top"].text and "@cache" in chunks["top"].text
    outline = chunks["Parser"].text
    assert '"""Parses."""' in outline and "def parse(self, text):" in outline
    assert "return text" not in outline  # a member's body is its own chunk
    rest = [c for c in chunk_file("pkg/mod.py", text) if not c.symbol]
    assert [(c.kind, c.start_line, c.end_line) for c in rest] == [("code", 1, 5)]


def test_hash_ignores_path_and_position():
    text, _ = SAMPLES["pkg/mod.py"]
    moved = "\n\n\n" + text
    a = {c.symbol: c.hash for c in chunk_file("pkg/mod.py", text) if c.symbol}
    b = {c.symbol: c.hash for c in chunk_file("other/place.py", moved) if c.symbol}
    assert a == b


def test_plain_text_is_windowed():
    text = "\n".join(f"line {n}" for n in range(1, 131))
    chunks = chunk_file("notes/log.txt", text)
    assert [(c.kind, c.start_line, c.end_line) for c in chunks] == [
        ("text", 1, WINDOW), ("text", 51, 110), ("text", 101, 130)]
    assert chunk_file("empty.md", "\n\n  \n") == []


def test_tags_definitions_members_and_references():
    text, _ = SAMPLES["pkg/mod.py"]
    tags = extract_tags(*parse("pkg/mod.py", text.encode()), text.split("\n"))
    defs = {(d.name, d.kind, d.member) for d in tags.definitions}
    assert {("LIMIT", "constant", False), ("top", "function", False), ("Parser", "class", False),
            ("parse", "function", True)} <= defs
    assert tags.references["Base"] == 1 and tags.references["cache"] == 1
    assert "top" not in tags.references  # a definition's own name is not a reference to it


def test_word_view_keeps_names_and_words_not_syntax():
    text, _ = SAMPLES["pkg/mod.py"]
    top = next(c for c in chunk_file("pkg/mod.py", text) if c.symbol == "top")
    assert top.words == "function top\ndef top(a, b=2) -> int:\ncache top add things"
