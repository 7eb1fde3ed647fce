"""The index's own bookkeeping in SQLite: files by content hash, their chunks with BM25 term
counts, and their tags. Updating one file touches only that file's rows, so an incremental
update costs what the change costs, not what the repository costs."""
from __future__ import annotations

import json
import sqlite3
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from wren.context.tags import Definition, FileTags

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, sha TEXT NOT NULL, mtime_ns INTEGER NOT NULL,
                                  size INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (path TEXT NOT NULL, seq INTEGER NOT NULL, symbol TEXT NOT NULL,
                                   kind TEXT NOT NULL, start_line INTEGER NOT NULL, end_line INTEGER NOT NULL,
                                   signature TEXT NOT NULL, hash TEXT NOT NULL, terms TEXT NOT NULL,
                                   PRIMARY KEY (path, seq));
CREATE INDEX IF NOT EXISTS chunks_hash ON chunks (hash);
CREATE TABLE IF NOT EXISTS tags (path TEXT PRIMARY KEY, definitions TEXT NOT NULL, refs TEXT NOT NULL);
"""


@dataclass(frozen=True)
class FileState:
    sha: str
    mtime_ns: int
    size: int


@dataclass(frozen=True)
class ChunkRecord:
    path: str
    seq: int
    symbol: str
    kind: str
    start_line: int
    end_line: int
    signature: str
    hash: str

    @property
    def id(self) -> str:
        return f"{self.path}#{self.seq}"


def chunk_path(chunk_id: str) -> str:
    """The file of a chunk id (`path#seq`)."""
    return chunk_id.rpartition("#")[0]


@dataclass
class FileEntry:
    """Everything the index keeps for one file, written in one go."""
    path: str
    state: FileState
    chunks: list[ChunkRecord]
    terms: list[Counter]  # one per chunk
    tags: FileTags | None


class Catalog:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()  # the dense part may fill in on another thread
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    def files(self) -> dict[str, FileState]:
        with self.lock:
            rows = self.db.execute("SELECT path, sha, mtime_ns, size FROM files").fetchall()
        return {p: FileState(s, m, n) for p, s, m, n in rows}

    def touch(self, path: str, state: FileState) -> None:
        with self.lock:
            self.db.execute("UPDATE files SET mtime_ns = ?, size = ? WHERE path = ?",
                            (state.mtime_ns, state.size, path))

    def write(self, entries: Iterable[FileEntry], removed: Iterable[str]) -> None:
        with self.lock:
            self.db.execute("BEGIN")
            try:
                for path in removed:
                    self._delete(path)
                for e in entries:
                    self._delete(e.path)
                    self.db.execute("INSERT INTO files VALUES (?, ?, ?, ?)",
                                    (e.path, e.state.sha, e.state.mtime_ns, e.state.size))
                    self.db.executemany("INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [
                        (c.path, c.seq, c.symbol, c.kind, c.start_line, c.end_line, c.signature, c.hash,
                         json.dumps(t, separators=(",", ":"))) for c, t in zip(e.chunks, e.terms)])
                    if e.tags is not None:
                        self.db.execute("INSERT INTO tags VALUES (?, ?, ?)", (
                            e.path, json.dumps([[d.name, d.kind, d.line, d.text, d.member] for d in e.tags.definitions]),
                            json.dumps(e.tags.references, separators=(",", ":"))))
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    def _delete(self, path: str) -> None:
        for table in ("files", "chunks", "tags"):
            self.db.execute(f"DELETE FROM {table} WHERE path = ?", (path,))

    def chunks(self, with_terms: bool = False) -> Iterator[tuple[ChunkRecord, Counter | None]]:
        columns = "path, seq, symbol, kind, start_line, end_line, signature, hash" + (", terms" if with_terms else "")
        with self.lock:
            rows = self.db.execute(f"SELECT {columns} FROM chunks ORDER BY path, seq").fetchall()
        for row in rows:
            yield ChunkRecord(*row[:8]), (Counter(json.loads(row[8])) if with_terms else None)

    def chunks_of(self, path: str) -> list[ChunkRecord]:
        with self.lock:
            rows = self.db.execute("SELECT path, seq, symbol, kind, start_line, end_line, signature, hash "
                                   "FROM chunks WHERE path = ? ORDER BY seq", (path,)).fetchall()
        return [ChunkRecord(*row) for row in rows]

    def unreferenced(self, hashes: Iterable[str]) -> list[str]:
        with self.lock:
            return [h for h in set(hashes)
                    if self.db.execute("SELECT 1 FROM chunks WHERE hash = ? LIMIT 1", (h,)).fetchone() is None]

    def hashes(self, skip_kind: str = "") -> dict[str, str]:
        """Every content hash (of chunks not of skip_kind) with one path that holds it."""
        with self.lock:
            return dict(self.db.execute("SELECT hash, MIN(path) FROM chunks WHERE kind != ? GROUP BY hash",
                                        (skip_kind,)).fetchall())

    def tags(self) -> dict[str, FileTags]:
        with self.lock:
            rows = self.db.execute("SELECT path, definitions, refs FROM tags").fetchall()
        return {path: FileTags([Definition(*d) for d in json.loads(defs)], Counter(json.loads(refs)))
                for path, defs, refs in rows}

    def close(self) -> None:
        with self.lock:
            self.db.close()
