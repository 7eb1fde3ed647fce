"""search_code: hybrid retrieval over the workspace's code index (context/index.py, context/search.py).

The first call builds the index's lexical side (seconds on a large repository) and answers
from it; vectors fill in on a background thread, and each later call first applies what
changed on disk since the last one.
"""
from __future__ import annotations

import atexit
import threading
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, Field

from wren.context.index import CodeIndex, open_index
from wren.context.search import Hit, search
from wren.context.store import ChromaServer
from wren.tools.base import Tool, ToolContext, ToolResult
from wren.tools.output import cap


class SearchCodeArgs(BaseModel):
    query: str = Field(min_length=1, description="what to find: a description of behaviour, identifiers, "
                                                 "an error message or a traceback")
    # Clamped, not validated: grammars of local models cannot express a range.
    k: int = Field(8, description="how many results (1 to 50)")


@dataclass
class _Open:
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

_OPEN: dict[Path, _Open] = {}
_OPENING = threading.Lock()


def workspace_index(root: Path, warn, embed: bool = True) -> CodeIndex:
    """The index as the workspace's config says: embeddings provider, and a Chroma server if any.

    embed=False loads no embedding model (see open_index)."""
    from wren.agent.config import load_config

    config = load_config(root)
    chroma = config.chroma
    server = ChromaServer(chroma.host, chroma.port, chroma.ssl) if chroma.host else None
    return open_index(root, config.embeddings, warn, server, embed)


def opened_index(root: Path) -> CodeIndex:
    """The workspace's index, shared by search_code and the repo map."""
    return _opened(root).index


def _opened(root: Path) -> _Open:
    with _OPENING:
        if root not in _OPEN:
            notes: list[str] = []
            _OPEN[root] = opened = _Open(workspace_index(root, notes.append), notes)
            atexit.register(opened.finish)
        return _OPEN[root]


def _fill_in_background(opened: _Open) -> None:
    if opened.worker is not None and opened.worker.is_alive():
        return
    if opened.index.store is None or not opened.index.missing():
        return
    opened.worker = threading.Thread(target=opened.index.embed_pending, name="wren-index-embed", daemon=True,
                                     kwargs={"stop": opened.stop, "batch": BACKGROUND_BATCH})
    opened.worker.start()


def search_code(args: SearchCodeArgs, ctx: ToolContext) -> ToolResult:
    opened = _opened(ctx.workspace.root)
    opened.index.update(dense=False)
    _fill_in_background(opened)
    hits = search(opened.index, args.query, min(max(args.k, 1), 50))
    notes = [f"note: {n}" for n in opened.notes]
    if opened.index.store is not None and (left := len(opened.index.missing())):
        notes.append(f"note: semantic index still filling in ({left} chunks to embed); "
                     "results are mostly lexical for now")
    body = "\n\n".join(_format(n, hit) for n, hit in enumerate(hits, 1)) or "(no matches)"
    return ToolResult(output=cap("\n".join([*notes, body]) if notes else body))


def _format(n: int, hit: Hit) -> str:
    where = f"{hit.path}:{hit.start_line}-{hit.end_line}"
    what = f" {hit.symbol} ({hit.kind})" if hit.symbol else ""
    snippet = "\n".join("    " + line for line in hit.snippet.split("\n"))
    return f"{n}. {where}{what}\n{snippet}"


SEARCH_CODE = Tool("search_code", "Find code by meaning, name, path or traceback in the code index; returns "
                   "file, symbol, lines and a snippet per hit.",
                   SearchCodeArgs, search_code, mutating=False, kind="search")
