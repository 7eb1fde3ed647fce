"""search_code: hybrid retrieval over the workspace's code index (context/index.py, context/search.py).

The first call builds the index's lexical side (seconds on a large repository) and answers
from it; vectors fill in on a background thread, and each later call first applies what
changed on disk since the last one.
"""
from __future__ import annotations

from pydantic import BaseModel, Field

from wren.context.search import Hit, search
from wren.context.shared_index import fill_in_background, open_shared
from wren.tools.base import Tool, ToolContext, ToolResult
from wren.tools.output import cap


class SearchCodeArgs(BaseModel):
    query: str = Field(min_length=1, description="what to find: a description of behaviour, identifiers, "
                                                 "an error message or a traceback")
    # Clamped, not validated: grammars of local models cannot express a range.
    k: int = Field(8, description="how many results (1 to 50)")


def search_code(args: SearchCodeArgs, ctx: ToolContext) -> ToolResult:
    opened = open_shared(ctx.workspace.root)
    opened.index.update(dense=False)
    fill_in_background(opened)
    hits = search(opened.index, args.query, min(max(args.k, 1), 50))
    notes = [f"note: {n}" for n in opened.notes]
    if opened.index.store is not None and opened.index.embedder is not None and (left := len(opened.index.missing())):
        notes.append(f"note: semantic index still filling in ({left} chunks to embed); "
                     "results are mostly lexical for now")
    body = "\n\n".join(_format(n, hit) for n, hit in enumerate(hits, 1)) or "(no matches)"
    return ToolResult(output=cap("\n".join([*notes, body]) if notes else body))


def _format(n: int, hit: Hit) -> str:
    where = f"{hit.path}:{hit.start_line}-{hit.end_line}"
    what = f" {hit.symbol} ({hit.kind})" if hit.symbol else ""
    snippet = "\n".join("    " + line for line in hit.snippet.split("\n"))
    return f"{n}. {where}{what}\n{snippet}"


SEARCH_CODE = Tool("search_code", "Find code by meaning, name or traceback.",
                   SearchCodeArgs, search_code, mutating=False, kind="search",
                   title_of=lambda args: f"Search code for `{args.query}`")
