"""recall: search what compaction moved out of the prompt (the session's memory)."""
from __future__ import annotations

from pydantic import BaseModel, Field

from wren.tools.base import Tool, ToolContext, ToolResult
from wren.core.errors import ToolError


class RecallArgs(BaseModel):
    query: str = Field(description="what to look for in earlier, compacted parts of this session")
    # Clamped, not validated: grammars of local models cannot express a range.
    k: int = Field(5, description="how many passages to return (1 to 20)")


def recall(args: RecallArgs, ctx: ToolContext) -> ToolResult:
    if ctx.recall is None:
        raise ToolError("session memory is not available in this context")
    return ToolResult(output=ctx.recall(args.query, min(max(args.k, 1), 20)))


RECALL = Tool("recall", "Search what left your context, or fetch an id.",
              RecallArgs, recall, mutating=False, kind="search",
              title_of=lambda args: f"Recall `{args.query}`")
