"""The code index of a workspace, under .wren/index: chunks with BM25 terms and tags in SQLite
(catalog.py), dense vectors in Chroma (store.py), updated incrementally by content hash.

Every chunk is in the lexical index; code chunks get vectors too. Windows of prose files
(docs, READMEs) are left to BM25: their words are the words people search with, while
code is where a question and the answer use different words, and embedding is the
expensive part of indexing.

Nothing here prints: progress goes to a callback, `(phase, done, total)`.
"""
from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from wren.context.catalog import Catalog, ChunkRecord, FileEntry, FileState
from wren.context.chunking import Chunk, chunk_file, parse
from wren.context.embeddings import Embedder, EmbeddingUnavailable
from wren.context.lexical import BM25, tokens
from wren.context.chroma import describe, index_collection, server_config
from wren.context.store import VectorStore, open_store
from wren.context.tags import extract_tags
from wren.core.config import ChromaConfig
from wren.core.errors import ToolError
from wren.core.paths import git_listing, shown, unshown

Progress = Callable[[str, int, int], None]

MAX_FILE_BYTES = 512_000
MAX_MEAN_LINE = 300  # minified or generated files: one huge line says nothing useful per chunk
DENSE_TOKENS = 128  # what all-MiniLM-L6-v2 was trained on; a chunk's word view rarely needs more
DENSE_VIEW = "words"  # part of the collection's name: vectors of another view of the chunks are not these
PROSE = "text"  # the chunk kind of windows over files no grammar parses
EMBED_BATCH = 256  # chunks handed to the embedder at once: it sorts them by length and batches by tokens
WRITE_BATCH = 200
SKIP_PARTS = frozenset({".git", ".wren", "node_modules", "__pycache__", ".venv", "venv", ".tox", ".mypy_cache",
                        ".pytest_cache"})
SKIP_SUFFIXES = (".min.js", ".min.css", ".map", ".lock", "-lock.json", ".svg")


@dataclass
class UpdateStats:
    files: int = 0
    changed: int = 0
    removed: int = 0
    chunks: int = 0  # chunks written for changed files
    embedded: int = 0
    pending: int = 0  # chunks still without a vector
    seconds: float = 0.0


def _indexable(rel: str, data: bytes) -> bool:
    if len(data) > MAX_FILE_BYTES or rel.endswith(SKIP_SUFFIXES) or b"\x00" in data[:8192]:
        return False
    return len(data) <= MAX_MEAN_LINE * (data.count(b"\n") + 1)


def _listed(rel: str) -> bool:
    return not SKIP_PARTS.intersection(rel.split("/")) and not rel.endswith(SKIP_SUFFIXES)


def _list_files(root: Path) -> list[str]:
    """Workspace files as relative paths, .gitignore honoured.

    In a git repository, git's own list, as is: tools' workspace_files resolves every path
    (a check the tools need), which costs half a second on a large repository, and an
    incremental update must stay well under a second. Elsewhere core's git_listing, through an
    empty private git directory. Symlinks are skipped by the caller.
    """
    try:
        proc = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                              cwd=root, capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        proc = None
    if proc is not None and proc.returncode == 0:
        rels = proc.stdout.decode("utf-8", "surrogateescape").split("\0")
    else:
        try:
            rels = git_listing(root)
        except ToolError:  # git missing or failing: nothing to index, as for an empty workspace
            rels = []
    # As the model sees names (non-UTF-8 bytes as \xNN): the catalog is SQLite text, and results are shown.
    return [shown(r) for r in dict.fromkeys(rels) if r and _listed(r)]


def on_disk(rel: str) -> str:
    """The file name that `_list_files` listed as `rel`."""
    return unshown(rel)


class CodeIndex:
    def __init__(self, root: Path, embedder: Embedder | None = None, store: VectorStore | None = None) -> None:
        self.root = root.resolve()
        self.folder = index_folder(self.root)
        self.catalog = Catalog(self.folder / "catalog.sqlite")
        # A store without an embedder (`wren index --lexical-only`) still tells which chunks wait for vectors.
        self.embedder, self.store = (embedder if store is not None else None), store
        self.lock = threading.RLock()  # searches and a background embedding pass share the index
        self.lexical: BM25 | None = None  # loaded from the catalog on first use
        self.records: dict[str, ChunkRecord] = {}
        self.by_path: dict[str, list[str]] = {}
        self.by_hash: dict[str, list[str]] = {}
        self.by_symbol: dict[str, list[str]] = {}  # last part of a symbol ("parse" of "Parser.parse")
        self._unembedded: dict[str, Chunk] = {}  # content hash -> a chunk read but not embedded yet
        self._missing: set[str] | None = None  # hashes without a vector; None until first checked

    # ---- updating ---------------------------------------------------------------------
    def update(self, progress: Progress | None = None, dense: bool = True) -> UpdateStats:
        """Bring the index in line with the files on disk; embed new chunks unless dense=False."""
        start, stats = time.perf_counter(), UpdateStats()
        with self.lock:
            changed, removed, stats.files = self._scan(progress)
            stats.removed = len(removed)
            entries: list[FileEntry] = []
            for entry in self._read(changed, progress):
                entries.append(entry)
                stats.changed, stats.chunks = stats.changed + 1, stats.chunks + len(entry.chunks)
                if len(entries) == WRITE_BATCH:  # written as we go: an interrupted build keeps its work
                    self._write(entries, removed)
                    entries, removed = [], []
            self._write(entries, removed)
        if dense and self.store is not None:
            stats.embedded = self.embed_pending(progress)
        stats.pending = len(self.missing()) if self.store is not None else 0
        stats.seconds = time.perf_counter() - start
        return stats

    def _scan(self, progress: Progress | None) -> tuple[list[tuple[str, FileState | None, int, int]], list[str], int]:
        known = self.catalog.files()
        listed = _list_files(self.root)
        changed, present, root = [], set(), str(self.root)
        for n, rel in enumerate(listed, 1):
            try:
                st = os.lstat(os.path.join(root, on_disk(rel)))  # not pathlib: this runs for every file, every update
            except OSError:  # deleted, though git still lists it until the deletion is staged
                continue
            if not stat.S_ISREG(st.st_mode):  # a symlink may lead out of the workspace
                continue
            present.add(rel)
            old = known.get(rel)
            if old is None or (old.mtime_ns, old.size) != (st.st_mtime_ns, st.st_size):
                changed.append((rel, old, st.st_mtime_ns, st.st_size))
            if progress and n % 1000 == 0:
                progress("scan", n, len(listed))
        return changed, sorted(set(known) - present), len(present)

    def _read(self, changed: list[tuple[str, FileState | None, int, int]],
              progress: Progress | None) -> Iterator[FileEntry]:
        for n, (rel, old, mtime_ns, size) in enumerate(changed, 1):
            try:
                data = (self.root / on_disk(rel)).read_bytes()
            except OSError:
                continue
            state = FileState(hashlib.sha1(data).hexdigest(), mtime_ns, size)
            if old is not None and old.sha == state.sha:
                self.catalog.touch(rel, state)  # touched, not changed: nothing to re-chunk
            else:
                yield self._entry(rel, data, state)
            if progress and (n % 50 == 0 or n == len(changed)):
                progress("chunk", n, len(changed))

    def _entry(self, rel: str, data: bytes, state: FileState) -> FileEntry:
        if not _indexable(rel, data):
            return FileEntry(rel, state, [], [], None)  # remembered, so it is not re-read every update
        text = data.decode("utf-8", "replace")
        parsed = parse(rel, data)
        chunks = chunk_file(rel, text, parsed)
        records = [ChunkRecord(rel, seq, c.symbol, c.kind, c.start_line, c.end_line, c.signature, c.hash)
                   for seq, c in enumerate(chunks)]
        path_terms = Counter(tokens(rel.replace("/", " ")))
        terms = [Counter(tokens(c.text)) + path_terms for c in chunks]
        for c in chunks:
            if c.kind != PROSE:
                self._unembedded.setdefault(c.hash, c)
        tags = extract_tags(parsed[0], parsed[1], text.split("\n")) if parsed else None
        return FileEntry(rel, state, records, terms, tags)

    def _write(self, entries: list[FileEntry], removed: list[str]) -> None:
        old = [r for path in [*removed, *(e.path for e in entries)] for r in self.catalog.chunks_of(path)]
        self.catalog.write(entries, removed)
        if self.lexical is not None:
            for r in old:
                self._forget(r)
            for e in entries:
                for record, terms in zip(e.chunks, e.terms):
                    self._remember(record, terms)
        new_hashes = {r.hash for e in entries for r in e.chunks if r.kind != PROSE}
        if self.store is not None:
            gone = self.catalog.unreferenced({r.hash for r in old if r.kind != PROSE} - new_hashes)
            self.store.delete(gone)
            if self._missing is not None:
                self._missing -= set(gone)
                self._missing |= self.store.missing(new_hashes)

    # ---- dense ------------------------------------------------------------------------
    def missing(self) -> set[str]:
        """Content hashes that have no vector yet."""
        with self.lock:
            if self._missing is None:
                self._missing = self.store.missing(self.catalog.hashes(PROSE)) if self.store is not None else set()
            return set(self._missing)

    def embed_pending(self, progress: Progress | None = None, limit: int | None = None,
                      stop: threading.Event | None = None, batch: int = EMBED_BATCH) -> int:
        """Embed chunks that have no vector, a batch at a time (searches may run in between)."""
        if self.store is None or self.embedder is None:
            return 0
        todo = sorted(self.missing())[:limit]
        where: dict[str, str] = {}
        done = 0
        for at in range(0, len(todo), batch):
            if stop is not None and stop.is_set():
                break
            with self.lock:
                hashes = todo[at:at + batch]
                texts = self._texts_for(hashes, where)
                ready = [h for h in hashes if h in texts]
                if ready:
                    try:
                        self.store.add(ready, self.embedder.embed([texts[h] for h in ready]))
                    except EmbeddingUnavailable:  # warned once by the embedder: lexical from here on
                        self.embedder = None
                        return done
                for h in hashes:
                    self._unembedded.pop(h, None)
                    assert self._missing is not None  # self.missing() above filled it
                    self._missing.discard(h)  # a hash with no text left is gone from disk
                done += len(ready)
            if progress:
                progress("embed", min(at + batch, len(todo)), len(todo))
        return done

    def _texts_for(self, hashes: list[str], where: dict[str, str]) -> dict[str, str]:
        """Texts of chunks read by this process, or else read again from their files.

        where (hash -> a path holding it) is filled on first need and reused by later batches."""
        found = {h: self._unembedded[h].words for h in hashes if h in self._unembedded}
        wanted = [h for h in hashes if h not in found]
        if wanted:
            if not where:
                where.update(self.catalog.hashes(PROSE))
            for rel in {where[h] for h in wanted if h in where}:
                try:
                    text = (self.root / on_disk(rel)).read_bytes().decode("utf-8", "replace")
                except OSError:
                    continue
                for chunk in chunk_file(rel, text):
                    if chunk.kind != PROSE:
                        self._unembedded.setdefault(chunk.hash, chunk)
            found.update({h: self._unembedded[h].words for h in wanted if h in self._unembedded})
        return found

    def dense(self, texts: list[str], n: int) -> list[tuple[str, float]]:
        """Chunk ids nearest to any of texts (the passages of one query), best similarity first."""
        if self.store is None or self.embedder is None or not texts:
            return []
        try:
            vectors = self.embedder.embed(texts)
        except EmbeddingUnavailable:
            self.embedder = None
            return []
        best: dict[str, float] = {}
        with self.lock:
            self.load()
            for vector in vectors:
                for h, sim in self.store.query(vector, n):
                    for cid in self.by_hash.get(h, ()):
                        best[cid] = max(sim, best.get(cid, -1.0))
        return sorted(best.items(), key=lambda x: -x[1])

    # ---- the in-memory side: BM25 and lookups -----------------------------------------
    def load(self) -> BM25:
        with self.lock:
            if self.lexical is None:
                self.lexical = BM25()
                for record, terms in self.catalog.chunks(with_terms=True):
                    self._remember(record, terms)
            return self.lexical

    def _remember(self, record: ChunkRecord, terms: Counter | None) -> None:
        cid = record.id
        self.records[cid] = record
        self.by_path.setdefault(record.path, []).append(cid)
        self.by_hash.setdefault(record.hash, []).append(cid)
        if record.symbol:
            self.by_symbol.setdefault(record.symbol.rsplit(".", 1)[-1], []).append(cid)
        assert self.lexical is not None  # callers load it first
        self.lexical.add_counts(cid, terms or {})

    def _forget(self, record: ChunkRecord) -> None:
        cid = record.id
        self.records.pop(cid, None)
        assert self.lexical is not None  # callers load it first
        self.lexical.remove(cid)
        for table, key in ((self.by_path, record.path), (self.by_hash, record.hash),
                           (self.by_symbol, record.symbol.rsplit(".", 1)[-1])):
            ids = table.get(key, [])
            if cid in ids:
                ids.remove(cid)
            if not ids:
                table.pop(key, None)

    def close(self) -> None:
        self.catalog.close()


def index_folder(root: Path) -> Path:
    return root / ".wren" / "index"


def open_index(root: Path, provider: str = "default", warn: Callable[[str], None] = lambda _: None,
               chroma: ChromaConfig | None = None, embed: bool = True) -> CodeIndex:
    """The workspace's index with the configured embedder and store; without them, lexical only.

    embed=False opens the store but loads (or downloads) no embedding model: the index is
    updated lexically and counts the chunks that wait for vectors. `chroma` (or WREN_CHROMA_URL)
    may name a server; its collection is the repository's at this commit (context/chroma.py)."""
    from wren.context.embeddings import embedder_name, load_embedder

    name = embedder_name(provider)
    embedder = load_embedder(provider, warn, max_tokens=DENSE_TOKENS) if embed and name is not None else None
    store = None
    if name is not None and (embedder is not None or not embed):
        server = server_config(chroma)
        try:
            collection = index_collection(root, name, f"{DENSE_VIEW}-{DENSE_TOKENS}", server is not None)
            store = open_store(index_folder(root.resolve()) / "chroma", collection, chroma)
        except Exception as exc:  # chromadb raises many types (connection, HTTP, storage); all mean the same here
            where = f"Chroma server {describe(server)}" if server else "the embedded Chroma store"
            warn(f"cannot open {where} ({type(exc).__name__}: {exc}); using lexical search only")
    return CodeIndex(root, embedder, store)
