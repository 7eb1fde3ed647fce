"""recall: search what compaction moved out of the prompt (the session's memory)."""
from __future__ import annotations

from pydantic import BaseModel, Field

from wren.tools.base import Tool, ToolContext, ToolResult
from wren.tools.errors import ToolError


class RecallArgs(BaseModel):
    query: str = Field(description="what to look for in earlier, compacted parts of this session")
    k: int = Field(5, ge=1, le=20, description="how many passages to return")


def recall(args: RecallArgs, ctx: ToolContext) -> ToolResult:
    if ctx.recall is None:
        raise ToolError("session memory is not available in this context")
    return ToolResult(output=ctx.recall(args.query, args.k))


RECALL = Tool("recall", "Search earlier parts of this session that were compacted out of your context.",
              RecallArgs, recall, mutating=False, kind="search")
