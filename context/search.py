"""Hybrid code search: lexical (BM25), dense (embeddings), exact symbol names, and the files,
frames and dotted names a query spells out, fused by weighted reciprocal rank.

`search` returns chunks; `rank_files` aggregates the same fused scores per file.
"""
from __future__ import annotations

import math
import textwrap
from collections import defaultdict
from dataclasses import dataclass

from wren.context.catalog import chunk_path
from wren.context.index import CodeIndex
from wren.context.languages import language_for
from wren.context.lexical import tokens
from wren.context.query import QueryParts, analyse, folded_name, resolve_dotted, resolve_path

SNIPPET_LINES = 12
PASSAGE_CHARS = 600
MAX_PASSAGES = 4


@dataclass(frozen=True)
class Weights:
    """Set on the SWE-bench Lite dev split (bench/localization.py): round values, not a fitted optimum."""
    lexical: float = 1.0
    dense: float = 1.5
    symbol: float = 1.0
    mention: float = 1.5
    rrf_k: int = 60
    depth: int = 200  # how far down each ranking is read
    file_decay: float = 0.5  # the n-th best chunk of a file adds decay**n of its score
    tests: float = 0.5  # factor for chunks of test files: the code under test comes first
    prose: float = 0.5  # factor for windows of files no grammar parses (docs, issue templates, changelogs)


@dataclass(frozen=True)
class Hit:
    path: str
    symbol: str
    kind: str
    start_line: int
    end_line: int
    score: float
    snippet: str


@dataclass(frozen=True)
class FileHit:
    path: str
    score: float


@dataclass
class Signals:
    """One ranking of chunk ids per kind of evidence, best first."""
    lexical: list[str]
    dense: list[str]
    symbol: list[str]
    mention: list[str]


def signals(index: CodeIndex, query: str, depth: int = Weights.depth) -> Signals:
    bm25 = index.load()
    parts = analyse(query)
    lexical = bm25.scores(dict.fromkeys(tokens(query), 1.0))
    dense = index.dense(passages(query), depth)
    return Signals(sorted(lexical, key=lambda c: -lexical[c])[:depth], [cid for cid, _ in dense],
                   _symbol_ranking(index, parts), _mention_ranking(index, parts, lexical))


def passages(query: str, size: int = PASSAGE_CHARS, most: int = MAX_PASSAGES) -> list[str]:
    """The embedder reads about 128 tokens: a long query (an issue, a traceback) is read in pieces."""
    paragraphs = [p.strip() for p in query.split("\n\n") if p.strip()]
    out: list[str] = []
    for paragraph in paragraphs:
        if out and len(out[-1]) + len(paragraph) < size:
            out[-1] += "\n" + paragraph
        else:
            out.append(paragraph[:size])
    return out[:most]


def fuse(found: Signals, weights: Weights = Weights()) -> dict[str, float]:
    """Chunk id -> weighted reciprocal-rank score."""
    fused: defaultdict[str, float] = defaultdict(float)  # a Counter holds ints
    for ranking, weight in ((found.lexical, weights.lexical), (found.dense, weights.dense),
                            (found.symbol, weights.symbol), (found.mention, weights.mention)):
        for rank, cid in enumerate(dict.fromkeys(ranking[:weights.depth])):
            fused[cid] += weight / (weights.rrf_k + rank + 1)
    return {cid: score * _prior(chunk_path(cid), weights) for cid, score in fused.items()}


def _prior(path: str, weights: Weights) -> float:
    factor = weights.prose if language_for(path) is None else 1.0
    return factor * (weights.tests if is_test_path(path) else 1.0)


def is_test_path(path: str) -> bool:
    parts = path.lower().split("/")
    name = parts[-1]
    return (any(p in ("test", "tests", "testing", "__tests__", "spec") for p in parts[:-1])
            or name.startswith("test_") or name.rsplit(".", 1)[0].endswith(("_test", "_tests", ".test", ".spec"))
            or name == "conftest.py")


def _symbol_ranking(index: CodeIndex, parts: QueryParts) -> list[str]:
    """Definitions named in the query; a rare name says more than a name defined everywhere."""
    score: defaultdict[str, float] = defaultdict(float)
    for name in parts.identifiers:
        matches = index.by_symbol.get(name, [])
        for cid in matches:
            score[cid] += 1.0 / (1.0 + math.log(len(matches)))
    if parts.phrases:  # a name spelled out in words ("the exit codes": ExitCode) counts as half a name
        folded: defaultdict[str, list[str]] = defaultdict(list)
        for name, cids in index.by_symbol.items():
            folded[folded_name(name)] += cids
        for phrase in parts.phrases:
            matches = folded.get(phrase, [])
            for cid in matches:
                score[cid] += 0.5 / (1.0 + math.log(len(matches)))
    for dotted in parts.dotted:
        tail = dotted.split(".")
        for cid in index.by_symbol.get(tail[-1], []):
            symbol = index.records[cid].symbol.split(".")
            if len(tail) > 1 and symbol[-2:] == tail[-2:]:
                score[cid] += 1.0  # `Class.method` pins it down
    return [cid for cid, _ in sorted(score.items(), key=lambda kv: kv[1], reverse=True)]  # as most_common()


def _mention_ranking(index: CodeIndex, parts: QueryParts, lexical: dict[str, float]) -> list[str]:
    """Chunks of files the query names; the named function first, innermost frames first."""
    paths = set(index.by_path)
    by_name: dict[str, list[str]] = {}
    for p in paths:
        by_name.setdefault(p.rsplit("/", 1)[-1], []).append(p)
    targets: list[tuple[str, str]] = []  # (path, symbol or "")
    for mention, func in reversed(parts.frames):
        if found := resolve_path(mention, paths, by_name):
            targets.append((found, func))
    for mention in reversed(parts.paths):
        if found := resolve_path(mention, paths, by_name):
            targets.append((found, ""))
    for dotted in parts.dotted:
        if defined := resolve_dotted(dotted, paths):
            targets += _defined_in(index, *defined)
    ranking: list[str] = []
    for path, symbol in dict.fromkeys(targets):
        ids = sorted(index.by_path.get(path, []), key=lambda c: -lexical.get(c, 0.0))
        named = [c for c in ids if symbol and _names(index.records[c].symbol, symbol)]
        ranking += named + [c for c in ids if c not in named]
    return ranking


def _defined_in(index: CodeIndex, path: str, symbol: str) -> list[tuple[str, str]]:
    """Where `pkg.Name` really lives: a package's __init__ mostly re-exports what its modules define.

    A bare package (`from astropy import units`) names no file in particular."""
    if not path.endswith("__init__.py"):
        return [(path, symbol)]
    if not symbol:
        return []
    package = path[: -len("__init__.py")]
    homes = [index.records[c].path for c in index.by_symbol.get(symbol.split(".")[0], [])]
    return [(home, symbol) for home in dict.fromkeys(homes) if home.startswith(package)] or [(path, symbol)]


def _names(qualified: str, symbol: str) -> bool:
    return qualified == symbol or qualified.endswith("." + symbol)


def search(index: CodeIndex, query: str, k: int = 10, weights: Weights = Weights()) -> list[Hit]:
    fused = fuse(signals(index, query, weights.depth), weights)
    best = sorted(fused, key=lambda c: -fused[c])[:k]
    return [_hit(index, cid, fused[cid]) for cid in best]


def rank_files(index: CodeIndex, query: str, k: int = 50, weights: Weights = Weights()) -> list[FileHit]:
    return files_of(fuse(signals(index, query, weights.depth), weights), k, weights)


def files_of(fused: dict[str, float], k: int, weights: Weights = Weights()) -> list[FileHit]:
    """Chunk scores summed per file, each further chunk of a file counting less."""
    per_file: dict[str, list[float]] = {}
    for cid, score in fused.items():
        per_file.setdefault(chunk_path(cid), []).append(score)
    totals = {path: sum(s * weights.file_decay ** n for n, s in enumerate(sorted(scores, reverse=True)))
              for path, scores in per_file.items()}
    return [FileHit(p, totals[p]) for p in sorted(totals, key=lambda p: -totals[p])[:k]]


def _hit(index: CodeIndex, cid: str, score: float) -> Hit:
    r = index.records[cid]
    try:
        lines = (index.root / r.path).read_text(encoding="utf-8", errors="replace").split("\n")
    except OSError:
        lines = []
    body = lines[r.start_line - 1:min(r.end_line, r.start_line - 1 + SNIPPET_LINES)]
    while body and not body[0].strip():
        body.pop(0)
    snippet = textwrap.dedent("\n".join(body)).rstrip()
    if r.end_line - r.start_line + 1 > SNIPPET_LINES:
        snippet += "\n..."
    return Hit(r.path, r.symbol, r.kind, r.start_line, r.end_line, score, snippet)
