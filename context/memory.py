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
from wren.context.chroma import chroma_client, memory_collection
from wren.context.embeddings import Embedder
from wren.context.lexical import BM25, tokens

CHUNK_CHARS = 1200
# Score fusion, lexical first: what gets recalled is usually an exact name, number or error text,
# which MiniLM blurs; cosine similarity adds to the normalised BM25 score to break ties and to
# find paraphrases that share no words with the query.
DENSE_WEIGHT = 0.3
OVERLAP = 200


class MemoryChunk(BaseModel):
    id: str
    text: str
    role: str
    name: str | None = None
    compaction: int


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


def chunk_message(message: Message, compaction: int, index: int) -> list[MemoryChunk]:
    calls = "".join(f"\n-> {c.name} {c.arguments}" for c in message.tool_calls)
    label = f"[{message.role}{' ' + message.name if message.name else ''}]"
    text = f"{label} {message.content}{calls}"
    pieces = [text[i:i + CHUNK_CHARS] for i in range(0, max(len(text) - OVERLAP, 1), CHUNK_CHARS - OVERLAP)]
    return [MemoryChunk(id=f"c{compaction}-m{index}-p{n}", text=piece if n == 0 else f"{label} ...{piece}",
                        role=message.role, name=message.name, compaction=compaction)
            for n, piece in enumerate(pieces)]


class SessionMemory:
    def __init__(self, root: Path, session_id: str, embedder: Embedder | None,
                 chroma_server: ChromaConfig | None = None) -> None:
        self.folder = root / ".wren" / "memory"
        self.path = self.folder / f"{session_id}.jsonl"
        self.embedder = embedder
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
            vectors = self.embedder.embed([c.text for c in new])
            self.collection.upsert(ids=[c.id for c in new], embeddings=vectors,
                                   documents=[c.text for c in new],
                                   metadatas=[{"role": c.role, "compaction": c.compaction} for c in new])

    def search(self, query: str, k: int = 5) -> list[Recalled]:
        if not self.chunks:
            return []
        depth = max(k * 4, 20)
        scores = {doc: score for doc, score in self.lexical.search(query, depth)}
        top = max(scores.values(), default=0.0) or 1.0
        fused = {doc: score / top for doc, score in scores.items()}
        if self.embedder is not None:
            hits = self.collection.query(query_embeddings=self.embedder.embed([query]),
                                         n_results=min(depth, len(self.chunks)))
            for doc, distance in zip(hits["ids"][0], hits["distances"][0]):
                fused[doc] = fused.get(doc, 0.0) + DENSE_WEIGHT * max(0.0, 1.0 - distance)
        ranked = sorted(fused.items(), key=lambda item: -item[1])
        return [Recalled(self.chunks[doc], score) for doc, score in ranked[:k] if doc in self.chunks]


def format_recalled(found: list[Recalled], budget_chars: int | None = None) -> str:
    parts, used = [], 0
    for r in found:
        text = r.chunk.text
        if budget_chars is not None and used + len(text) > budget_chars:
            break
        parts.append(f"(from compaction {r.chunk.compaction}) {text}")
        used += len(text)
    return "\n---\n".join(parts)
