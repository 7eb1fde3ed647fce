"""BM25 over identifier-aware tokens: `parseConfigFile` and `parse_config_file` both match "parse config file"."""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field

WORD = re.compile(r"[A-Za-z][a-z]+|[A-Z]+(?![a-z])|[a-z]+|\d+")
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+")  # numbers alone count too: ids, ports, line numbers


def tokens(text: str) -> list[str]:
    """Words of identifiers split on case and underscores, lowercased; whole identifiers too."""
    out = []
    for ident in IDENT.findall(text):
        parts = WORD.findall(ident)
        out.extend(p.lower() for p in parts)
        if len(parts) > 1:
            out.append(ident.lower())
    return out


def with_bigrams(words: list[str]) -> list[str]:
    """Adjacent pairs as extra terms: `billing 10` then beats `billing` and `10` scattered apart."""
    return words + [f"{a} {b}" for a, b in zip(words, words[1:])]


@dataclass
class BM25:
    k1: float = 1.2
    b: float = 0.75
    bigrams: bool = False
    docs: dict[str, Counter] = field(default_factory=dict)
    lengths: dict[str, int] = field(default_factory=dict)
    df: Counter = field(default_factory=Counter)

    def add(self, doc_id: str, text: str) -> None:
        self.remove(doc_id)
        counts = Counter(self._terms(text))
        self.docs[doc_id] = counts
        self.lengths[doc_id] = sum(counts.values())
        self.df.update(counts.keys())

    def remove(self, doc_id: str) -> None:
        counts = self.docs.pop(doc_id, None)
        if counts is not None:
            self.lengths.pop(doc_id)
            self.df.subtract(counts.keys())

    def _terms(self, text: str) -> list[str]:
        words = tokens(text)
        return with_bigrams(words) if self.bigrams else words

    def search(self, query: str, k: int = 10) -> list[tuple[str, float]]:
        terms = set(self._terms(query))
        if not terms or not self.docs:
            return []
        n = len(self.docs)
        avg = sum(self.lengths.values()) / n
        idf = {t: math.log(1 + (n - self.df[t] + 0.5) / (self.df[t] + 0.5)) for t in terms if self.df[t] > 0}
        scores = []
        for doc_id, counts in self.docs.items():
            score = 0.0
            for t, weight in idf.items():
                tf = counts.get(t, 0)
                if tf:
                    score += weight * tf * (self.k1 + 1) / (tf + self.k1 * (1 - self.b + self.b * self.lengths[doc_id] / avg))
            if score > 0:
                scores.append((doc_id, score))
        scores.sort(key=lambda x: -x[1])
        return scores[:k]


def rrf(rankings: list[list[str]], k: int = 60, weights: list[float] | None = None) -> list[tuple[str, float]]:
    """Reciprocal rank fusion: robust to score scales that differ between rankers."""
    fused: Counter = Counter()
    for ranking, weight in zip(rankings, weights or [1.0] * len(rankings)):
        for rank, doc_id in enumerate(ranking):
            fused[doc_id] += weight / (k + rank + 1)
    return fused.most_common()
