"""Dense vectors in Chroma: embedded (PersistentClient under .wren/index) or a shared server (HttpClient).

Vectors are keyed by the chunk's content hash, so identical code anywhere (a renamed
file, a copy, a teammate's checkout of the same commit) is embedded once. We always pass
embeddings ourselves: the collection has no embedding function.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

from wren.context.chroma import chroma_client, server_config
from wren.core.config import ChromaConfig

BATCH = 1000
LOOKUP_BATCH = 5000


class VectorStore:
    def __init__(self, collection, shared: bool) -> None:
        self.collection = collection
        # A server collection is shared by everyone who points at it: content hashes that this
        # workspace no longer uses may still be someone else's, so nothing is deleted there.
        self.shared = shared

    def missing(self, ids: Iterable[str]) -> set[str]:
        wanted = list(dict.fromkeys(ids))
        present: set[str] = set()
        for at in range(0, len(wanted), LOOKUP_BATCH):
            present.update(self.collection.get(ids=wanted[at:at + LOOKUP_BATCH], include=[])["ids"])
        return set(wanted) - present

    def add(self, ids: Sequence[str], vectors: Sequence[Sequence[float]]) -> None:
        for at in range(0, len(ids), BATCH):
            self.collection.upsert(ids=list(ids[at:at + BATCH]), embeddings=[list(v) for v in vectors[at:at + BATCH]])

    def delete(self, ids: Iterable[str]) -> None:
        doomed = list(ids)
        if doomed and not self.shared:
            for at in range(0, len(doomed), BATCH):
                self.collection.delete(ids=doomed[at:at + BATCH])

    def count(self) -> int:
        return self.collection.count()

    def query(self, vector: Sequence[float], n: int) -> list[tuple[str, float]]:
        """Nearest ids with cosine similarity, best first."""
        total = self.collection.count()
        if not total:
            return []
        found = self.collection.query(query_embeddings=[list(vector)], n_results=min(n, total),
                                      include=["distances"])
        return [(i, 1.0 - d) for i, d in zip(found["ids"][0], found["distances"][0])]


def open_store(folder: Path, name: str, chroma: ChromaConfig | None = None) -> VectorStore:
    """The collection `name` (3-512 of [a-zA-Z0-9._-]) in the embedded store at folder, or on the
    server that `chroma` (or WREN_CHROMA_URL) names (context/chroma.py)."""
    client = chroma_client(folder, chroma)
    collection = client.get_or_create_collection(name, embedding_function=None,
                                                 configuration={"hnsw": {"space": "cosine"}})
    return VectorStore(collection, shared=server_config(chroma) is not None)
