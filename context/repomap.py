"""The repo map: the workspace's most important definitions, fitted to a token budget.

Files are nodes of a graph with an edge from each file to the files defining the names it
uses. PageRank over that graph, personalised towards the files in play and weighted
towards the identifiers the conversation mentions, ranks files; each file's rank flows to
the definitions its edges point at, and the best definitions fill the budget. Files in play
are left out: their full text is in the prompt already.
"""
from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Callable, Iterable

from wren.context.index import CodeIndex
from wren.context.tags import Definition, FileTags

DAMPING = 0.85
ITERATIONS = 60
TOLERANCE = 1e-8
MAX_DEFINERS = 25  # a name defined in more files than this does not say which one is meant
MENTIONED = 10.0  # weights, after aider's repo map: names the conversation uses matter most
IN_PLAY = 50.0
PRIVATE = 0.1
COMMON = 0.1  # a name defined in several files
COMMON_AT = 5
MIN_NAME = 3  # `i`, `e`, `db`: too short to tie two files together
VARIABLE = 0.1  # a lowercase module-level variable: its name is usually some local's name elsewhere


def approx_tokens(text: str) -> int:
    return len(text) // 4 + 1


@dataclass(frozen=True)
class RankedDefinition:
    path: str
    definition: Definition
    rank: float


def _edges(tags: dict[str, FileTags], in_play: set[str], mentioned: set[str]) -> dict[tuple[str, str, str], float]:
    """(referencing file, defining file, name) -> weight."""
    definers: dict[str, set[str]] = defaultdict(set)
    variables: set[str] = set()
    for path, file_tags in tags.items():
        for d in file_tags.definitions:
            if not d.member:  # members are reached as `obj.name`, which references leave out
                definers[d.name].add(path)
            if d.kind == "constant" and d.name.islower():
                variables.add(d.name)
    users: dict[str, int] = defaultdict(int)
    for file_tags in tags.values():
        for name in file_tags.references:
            users[name] += 1
    edges: dict[tuple[str, str, str], float] = {}
    for source, file_tags in tags.items():
        for name, count in file_tags.references.items():
            targets = definers.get(name)
            if not targets or len(targets) > MAX_DEFINERS or len(name) < MIN_NAME:
                continue
            # Like IDF, squared: `self` or `name`, used by most files, says nothing about which file matters.
            rarity = math.log(len(tags) / users[name]) ** 2
            if rarity <= 0:
                continue
            weight = rarity * math.sqrt(count) * (MENTIONED if name in mentioned else 1.0)
            weight *= (PRIVATE if name.startswith("_") else 1.0) * (COMMON if len(targets) >= COMMON_AT else 1.0)
            weight *= IN_PLAY if source in in_play else 1.0
            weight *= VARIABLE if name in variables else 1.0
            for target in targets:
                if target != source:
                    edges[(source, target, name)] = weight
    return edges


def pagerank(nodes: list[str], edges: dict[tuple[str, str, str], float],
             personal: dict[str, float]) -> dict[str, float]:
    """Power iteration; rank of files without out-edges goes back through the personalisation."""
    import numpy as np

    at = {node: i for i, node in enumerate(nodes)}
    n = len(nodes)
    src = np.array([at[s] for s, _, _ in edges], dtype=np.int64)
    dst = np.array([at[t] for _, t, _ in edges], dtype=np.int64)
    weight = np.array(list(edges.values()), dtype=np.float64)
    out = np.bincount(src, weights=weight, minlength=n)
    norm = weight / np.where(out[src] > 0, out[src], 1.0)
    p = np.array([personal.get(node, 0.0) for node in nodes], dtype=np.float64)
    p = p / p.sum() if p.sum() > 0 else np.full(n, 1.0 / n)
    rank = p.copy()
    for _ in range(ITERATIONS):
        flow = np.bincount(dst, weights=rank[src] * norm, minlength=n)
        dangling = rank[out == 0].sum()
        new = DAMPING * (flow + dangling * p) + (1 - DAMPING) * p
        if np.abs(new - rank).sum() < TOLERANCE:
            rank = new
            break
        rank = new
    return {node: float(rank[i]) for i, node in enumerate(nodes)}


def rank_definitions(tags: dict[str, FileTags], in_play: Iterable[str] = (),
                     identifiers: Iterable[str] = ()) -> list[RankedDefinition]:
    """Definitions outside the files in play, most important first."""
    in_play, mentioned = set(in_play), set(identifiers)
    nodes = sorted(tags)
    if not nodes:
        return []
    edges = _edges(tags, in_play, mentioned)
    personal = {path: 1.0 for path in nodes if path in in_play}
    for path in nodes:  # a file the conversation names, or that defines a name it uses, is in play a little
        stem = path.rsplit("/", 1)[-1].split(".", 1)[0]
        if stem in mentioned or any(d.name in mentioned for d in tags[path].definitions):
            personal[path] = personal.get(path, 0.0) + 0.5
    rank = pagerank(nodes, edges, personal)
    out_weight: dict[str, float] = defaultdict(float)
    for (source, _, _), w in edges.items():
        out_weight[source] += w
    score: dict[tuple[str, str], float] = defaultdict(float)
    for (source, target, name), w in edges.items():
        score[(target, name)] += rank[source] * w / out_weight[source]
    ranked = []
    for path in nodes:
        if path in in_play:
            continue
        for d in tags[path].definitions:
            # A definition nobody references still carries a little of its file's rank.
            value = score.get((path, d.name), 0.0) + rank[path] * 1e-3
            ranked.append(RankedDefinition(path, d, value * (MENTIONED if d.name in mentioned else 1.0)))
    ranked.sort(key=lambda r: (-r.rank, r.path, r.definition.line))
    return ranked


def render(ranked: list[RankedDefinition]) -> str:
    """Files in order of their best definition; each file's definitions in line order."""
    by_file: dict[str, list[Definition]] = {}
    for r in ranked:
        by_file.setdefault(r.path, []).append(r.definition)
    blocks = []
    for path, defs in by_file.items():
        lines = [f"{d.line:>5}│{d.text}" for d in sorted(defs, key=lambda d: d.line)]
        blocks.append(f"{path}:\n" + "\n".join(lines))
    return "\n".join(blocks) + ("\n" if blocks else "")


def fit(ranked: list[RankedDefinition], budget: int, count_tokens: Callable[[str], int] = approx_tokens) -> str:
    """The longest prefix of ranked whose rendering fits in budget tokens (binary search)."""
    low, high, best = 0, len(ranked), ""
    while low <= high:
        mid = (low + high) // 2
        text = render(ranked[:mid])
        if count_tokens(text) <= budget:
            best, low = text, mid + 1
        else:
            high = mid - 1
    return best


IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
MAP_WINDOWS = ((32_000, 1024), (16_000, 512))  # (window at least, map tokens); smaller windows get none


def map_budget(window: int | None, configured: int | None) -> int:
    """Tokens for the map: as configured, else by the window. A small local window needs its room for
    the task itself, and an unknown window gets nothing rather than a guess."""
    if configured is not None:
        return configured
    return next((tokens for least, tokens in MAP_WINDOWS if window and window >= least), 0)


def mentioned_identifiers(text: str) -> set[str]:
    """Names a message uses, dotted names split too: `pkg.Class.method` names all three."""
    names: set[str] = set()
    for word in IDENTIFIER.findall(text):
        names.update(part for part in word.split(".") if len(part) >= MIN_NAME)
    return names


def repo_map(index: CodeIndex, budget: int, files_in_play: Iterable[str] = (), identifiers: Iterable[str] = (),
             count_tokens: Callable[[str], int] = approx_tokens) -> str:
    """The map text for a prompt: at most budget tokens (by count_tokens), empty when nothing fits."""
    ranked = rank_definitions(index.catalog.tags(), files_in_play, identifiers)
    return fit(ranked, budget, count_tokens)
