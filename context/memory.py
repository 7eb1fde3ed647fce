"""Session memory: what compaction moves out of the prompt, kept searchable.

Chunk texts go to a JSONL file (the lexical side, always there); their vectors go to
an embedded Chroma collection when an embedder is available. Search fuses both.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ValidationError

from wren.core.config import ChromaConfig
from wren.core.log import mend_tail, read_jsonl
from wren.core.messages import Message
from wren.core.redact import redact
from wren.context.chroma import chroma_client, memory_collection
from wren.context.embeddings import Embedder, EmbeddingUnavailable
from wren.context.lexical import BM25, tokens

CHUNK_CHARS = 1200
# Score fusion, lexical first: what gets recalled is usually an exact name, number or error text,
# which MiniLM blurs; cosine similarity adds to the BM25 score to break ties and to find
# paraphrases that share no words with the query. BM25 is scaled by the query's own weight (the
# IDF of each of its terms, those the memory lacks too), not by the best hit: a question whose
# rare words the memory does not hold matches only on common words, scores low, and leaves the
# ranking to the embedder.
DENSE_WEIGHT = 0.5
OVERLAP = 200
# Vectors are per window of whole lines, about this long: a chunk of 1,200 characters is more than
# MiniLM reads (256 tokens), and one fact among many log lines is lost in the chunk's mean vector.
# A chunk's dense score is its best window's.
WINDOW_CHARS = 120


class MemoryChunk(BaseModel):
    id: str
    text: str
    role: str
    name: str | None = None
    compaction: int
    call_id: str | None = None  # for a tool result: the call it answered, which `recall` also takes


@dataclass
class Recalled:
    chunk: MemoryChunk
    score: float


TERM = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+")


def memory_terms(text: str) -> list[str]:
    """Identifier words, standalone numbers (ids, ports, line numbers) and adjacent pairs, in order:
    what gets recalled is usually an exact name, number or phrase."""
    words = [w for term in TERM.findall(text) for w in (tokens(term) or [term])]
    return words + [f"{a} {b}" for a, b in zip(words, words[1:])]


def _chunk(line: bytes) -> MemoryChunk | None:
    try:
        return MemoryChunk.model_validate_json(line)
    except ValidationError:
        return None


def chunk_message(message: Message, compaction: int, index: int, prefix: str = "") -> list[MemoryChunk]:
    """`message` in overlapping chunks, ids `c{compaction}-m{index}-p{n}` (or `{prefix}-p{n}`)."""
    calls = "".join(f"\n-> {c.name} {c.arguments}" for c in message.tool_calls)
    label = f"[{message.role}{' ' + message.name if message.name else ''}]"
    text = f"{label} {message.content}{calls}"
    pieces = [text[i:i + CHUNK_CHARS] for i in range(0, max(len(text) - OVERLAP, 1), CHUNK_CHARS - OVERLAP)]
    prefix = prefix or f"c{compaction}-m{index}"
    return [MemoryChunk(id=f"{prefix}-p{n}", text=piece if n == 0 else f"{label} ...{piece}",
                        role=message.role, name=message.name, compaction=compaction, call_id=message.tool_call_id)
            for n, piece in enumerate(pieces)]


def windows(text: str, size: int = WINDOW_CHARS) -> list[str]:
    """`text` cut at line ends into pieces of about `size` characters (a longer line is cut too)."""
    out, current = [], ""
    for line in text.splitlines(keepends=True):
        while len(line) > size:
            out += [current] if current.strip() else []
            current, out, line = "", out + [line[:size]], line[size:]
        if len(current) + len(line) > size and current.strip():
            out.append(current)
            current = ""
        current += line
    return out + ([current] if current.strip() else [])


class SessionMemory:
    """`missing`: why there is no embedder (when `embedder` is None), recorded with what search ran."""

    def __init__(self, root: Path, session_id: str, embedder: Embedder | None,
                 chroma_server: ChromaConfig | None = None, missing: str = "") -> None:
        self.folder = root / ".wren" / "memory"
        self.path = self.folder / f"{session_id}.jsonl"
        self.embedder, self.missing = embedder, missing
        self.chunks: dict[str, MemoryChunk] = {}
        self.lexical = BM25(analyzer=memory_terms)
        self._collection = None
        self._collection_name = memory_collection(session_id)
        self._server = chroma_server
        if self.path.is_file():
            mend_tail(self.path, _chunk)  # a crash may have cut the last append short
            for chunk in read_jsonl(self.path, _chunk, "session memory"):
                self._index(chunk)

    def __len__(self) -> int:
        return len(self.chunks)

    @property
    def retrieval(self) -> str:
        """What search runs: "hybrid (NAME + BM25)", or "lexical (BM25)" with why."""
        if self.embedder is not None:
            return f"hybrid ({self.embedder.name} + BM25)"
        return f"lexical (BM25): {self.missing}" if self.missing else "lexical (BM25)"

    def of_call(self, call_id: str) -> list[MemoryChunk]:
        """The chunks of the result of tool call `call_id`, in order."""
        return [c for c in self.chunks.values() if c.call_id == call_id]

    def _index(self, chunk: MemoryChunk) -> None:
        self.chunks[chunk.id] = chunk
        self.lexical.add(chunk.id, chunk.text)

    @property
    def collection(self):
        if self._collection is None:
            client = chroma_client(self.folder / "chroma", self._server)
            self._collection = client.get_or_create_collection(self._collection_name,
                                                               metadata={"hnsw:space": "cosine"})
        return self._collection

    def add(self, chunks: list[MemoryChunk]) -> None:
        new = [c for c in chunks if c.id not in self.chunks]
        if not new:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            for c in new:
                fh.write(c.model_dump_json() + "\n")
        for c in new:
            self._index(c)
        if self.embedder is not None:
            pieces = [(f"{c.id}#{n}", piece, c) for c in new for n, piece in enumerate(windows(c.text))]
            try:
                vectors = self.embedder.embed([piece for _, piece, _ in pieces])
            except EmbeddingUnavailable as exc:  # warned once by the embedder: lexical from here on
                self.embedder, self.missing = None, str(exc)
                return
            self.collection.upsert(ids=[i for i, _, _ in pieces], embeddings=vectors,
                                   documents=[piece for _, piece, _ in pieces],
                                   metadatas=[{"role": c.role, "compaction": c.compaction} for _, _, c in pieces])

    def search(self, query: str, k: int = 5, mode: str = "hybrid") -> list[Recalled]:
        """The k chunks that best match `query`. `mode` "hybrid" fuses BM25 with the embedder's cosine
        similarity when there is an embedder (else it is lexical); "lexical" and "dense" use one side
        (dense: nothing without an embedder), for comparing them (bench/compaction.py)."""
        if not self.chunks:
            return []
        query = redact(query)  # the user's raw words (auto-recall) go to the embedder, which may be hosted
        depth = max(k * 4, 20)
        fused: dict[str, float] = {}
        if mode != "dense":
            terms = dict.fromkeys(self.lexical.analyzer(query), 1.0)
            scale = self.lexical.query_weight(terms) or 1.0
            fused = {doc: score / scale for doc, score in self.lexical.search(query, depth)}
        if self.embedder is not None and mode != "lexical":
            weight = 1.0 if mode == "dense" else DENSE_WEIGHT
            best: dict[str, float] = {}
            try:
                vector = self.embedder.embed([query])
            except EmbeddingUnavailable as exc:
                self.embedder, self.missing = None, str(exc)
                return self.search(query, k, mode)
            hits = self.collection.query(query_embeddings=vector, n_results=min(depth * 4, self.collection.count()))
            for window, distance in zip(hits["ids"][0], hits["distances"][0]):
                doc = window.split("#")[0]  # vectors of sessions before windows are per chunk
                best[doc] = max(best.get(doc, 0.0), 1.0 - distance)
            for doc, similarity in best.items():
                fused[doc] = fused.get(doc, 0.0) + weight * max(0.0, similarity)
        ranked = sorted(fused.items(), key=lambda item: -item[1])
        return [Recalled(self.chunks[doc], score) for doc, score in ranked[:k] if doc in self.chunks]


def format_recalled(found: list[Recalled], budget_chars: int | None = None) -> str:
    parts, used = [], 0
    for r in found:
        text = r.chunk.text
        if budget_chars is not None and used + len(text) > budget_chars:
            break
        where = f"forgotten {r.chunk.call_id}" if r.chunk.id.startswith("forget-") else \
            f"from compaction {r.chunk.compaction}"
        parts.append(f"({where}) {text}")
        used += len(text)
    return "\n---\n".join(parts)
