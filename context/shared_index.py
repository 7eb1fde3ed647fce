"""The workspace's code index, opened once per process and shared by search_code and the repo map;
vectors fill in on a background thread."""
from __future__ import annotations

import atexit
import threading
from dataclasses import dataclass, field
from pathlib import Path

from wren.context.index import CodeIndex, open_index


@dataclass
class SharedIndex:
    index: CodeIndex
    notes: list[str] = field(default_factory=list)  # warnings from opening it, repeated with results
    worker: threading.Thread | None = None
    stop: threading.Event = field(default_factory=threading.Event)

    def finish(self) -> None:
        """At exit, let the embedding thread end between two batches rather than inside ONNX Runtime."""
        self.stop.set()
        if self.worker is not None:
            self.worker.join(BACKGROUND_JOIN_S)


BACKGROUND_BATCH = 16  # small, so a search (or exit) waits little for the batch in progress
BACKGROUND_JOIN_S = 30.0

_OPEN: dict[Path, SharedIndex] = {}
_OPENING = threading.Lock()


def workspace_index(root: Path, warn, embed: bool = True) -> CodeIndex:
    """The index as the workspace's config says: embeddings provider, and a Chroma server if any.

    embed=False loads no embedding model (see open_index)."""
    from wren.core.config import load_config

    config = load_config(root)
    return open_index(root, config.embeddings, warn, config.chroma, embed)


def opened_index(root: Path) -> CodeIndex:
    """The workspace's index, shared by search_code and the repo map."""
    return open_shared(root).index


def open_shared(root: Path) -> SharedIndex:
    """The workspace's index, opened once per process (with the notes from opening it)."""
    with _OPENING:
        if root not in _OPEN:
            notes: list[str] = []
            _OPEN[root] = opened = SharedIndex(workspace_index(root, notes.append), notes)
            atexit.register(opened.finish)
        return _OPEN[root]


def close_all() -> None:
    """Finish and forget every index opened so far (its embedding thread, its catalog): for a process
    that runs sessions one after another in different workspaces (`wren batch`'s worker), where a
    finished task's index must not keep working or stay open."""
    with _OPENING:
        opened = list(_OPEN.values())
        _OPEN.clear()
    for shared in opened:
        atexit.unregister(shared.finish)
        shared.finish()
        shared.index.close()


def fill_in_background(opened: SharedIndex) -> None:
    """Embed the chunks that lack vectors on a background thread, unless one already does."""
    if opened.worker is not None and opened.worker.is_alive():
        return
    if opened.index.store is None or not opened.index.missing():
        return
    opened.worker = threading.Thread(target=opened.index.embed_pending, name="wren-index-embed", daemon=True,
                                     kwargs={"stop": opened.stop, "batch": BACKGROUND_BATCH})
    opened.worker.start()
