"""BM25 over identifier-aware tokens: `parseConfigFile` and `parse_config_file` both match "parse config file"."""
from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Callable, Mapping

WORD = re.compile(r"[A-Za-z][a-z]+|[A-Z]+(?![a-z])|[a-z]+|\d+")
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def tokens(text: str) -> list[str]:
    """Words of identifiers split on case and underscores, lowercased; whole identifiers too."""
    out: list[str] = []
    for ident in IDENT.findall(text):
        parts = WORD.findall(ident)
        out.extend(p.lower() for p in parts)
        if len(parts) > 1:
            out.append(ident.lower())
    return out


@dataclass
class BM25:
    """An inverted index: a query touches only the postings of its own terms."""
    k1: float = 1.2
    b: float = 0.75
    analyzer: Callable[[str], list[str]] = tokens  # text -> terms; session memory adds numbers and bigrams
    postings: dict[str, dict[str, int]] = field(default_factory=dict)
    lengths: dict[str, int] = field(default_factory=dict)
    total: int = 0
    doc_terms: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)  # for remove()

    def __len__(self) -> int:
        return len(self.lengths)

    def add(self, doc_id: str, text: str) -> None:
        self.add_counts(doc_id, Counter(self.analyzer(text)))

    def add_counts(self, doc_id: str, counts: Mapping[str, int]) -> None:
        """Index term counts computed (and perhaps stored) elsewhere."""
        self.remove(doc_id)
        for term, tf in counts.items():
            self.postings.setdefault(term, {})[doc_id] = tf
        self.lengths[doc_id] = length = sum(counts.values())
        self.total += length
        self.doc_terms[doc_id] = tuple(counts)

    def remove(self, doc_id: str) -> None:
        if doc_id not in self.lengths:
            return
        for term in self.doc_terms.pop(doc_id):
            docs = self.postings[term]
            del docs[doc_id]
            if not docs:
                del self.postings[term]
        self.total -= self.lengths.pop(doc_id)

    def scores(self, terms: Mapping[str, float]) -> dict[str, float]:
        """Every matching document's score for weighted query terms (weight 1 is plain BM25)."""
        n = len(self.lengths)
        if not n:
            return {}
        avg = self.total / n or 1.0
        out: dict[str, float] = {}
        for term, weight in terms.items():
            docs = self.postings.get(term)
            if not docs:
                continue
            idf = weight * math.log(1 + (n - len(docs) + 0.5) / (len(docs) + 0.5))
            for doc_id, tf in docs.items():
                norm = self.k1 * (1 - self.b + self.b * self.lengths[doc_id] / avg)
                out[doc_id] = out.get(doc_id, 0.0) + idf * tf * (self.k1 + 1) / (tf + norm)
        return out

    def query_weight(self, terms: Mapping[str, float]) -> float:
        """What a document matching every term once, at average length, would score: the sum of the
        terms' IDFs (a term no document holds counts at the highest IDF)."""
        n = len(self.lengths)
        return sum(weight * math.log(1 + (n - len(self.postings.get(term, ())) + 0.5)
                                     / (len(self.postings.get(term, ())) + 0.5))
                   for term, weight in terms.items())

    def search(self, query: str, k: int = 10) -> list[tuple[str, float]]:
        found = self.scores(dict.fromkeys(self.analyzer(query), 1.0))
        return sorted(found.items(), key=lambda x: -x[1])[:k]


def rrf(rankings: list[list[str]], k: int = 60) -> list[tuple[str, float]]:
    """Reciprocal rank fusion: robust to score scales that differ between rankers."""
    fused: defaultdict[str, float] = defaultdict(float)  # a Counter holds ints
    for ranking in rankings:
        for rank, doc_id in enumerate(ranking):
            fused[doc_id] += 1.0 / (k + rank + 1)
    return sorted(fused.items(), key=lambda kv: kv[1], reverse=True)  # as Counter.most_common sorts
