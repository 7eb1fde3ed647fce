"""compact, forget and pin: the model steers its own context (the session does the work, see
agent/steering.py); recall (tools/recall.py) brings back what they moved out."""
from __future__ import annotations

from pydantic import BaseModel, Field

from wren.core.errors import ToolError
from wren.tools.base import ContextSteering, Tool, ToolContext, ToolResult


class CompactArgs(BaseModel):
    keep: str = Field("", description="what the summary must keep")


class ForgetArgs(BaseModel):
    ids: list[str] = Field(description="tool call ids")


class PinArgs(BaseModel):
    text: str = Field(description="a short fact or directive")


def _steer(ctx: ToolContext) -> ContextSteering:
    if ctx.steer is None:
        raise ToolError("this context cannot be changed from here")
    return ctx.steer


def compact(args: CompactArgs, ctx: ToolContext) -> ToolResult:
    return ToolResult(output=_steer(ctx).compact(args.keep))


def forget(args: ForgetArgs, ctx: ToolContext) -> ToolResult:
    return ToolResult(output=_steer(ctx).forget(args.ids))


def pin(args: PinArgs, ctx: ToolContext) -> ToolResult:
    return ToolResult(output=_steer(ctx).pin(args.text))


# Terse on purpose: every tool's description is in every prompt, and a local model's prompt has a budget.
COMPACT = Tool("compact", "Compact your context now.", CompactArgs, compact, mutating=False,
               kind="think")
FORGET = Tool("forget", "Drop tool results by id; recall restores.", ForgetArgs, forget,
              mutating=False, kind="think")
PIN = Tool("pin", "Pin a short note to every prompt.", PinArgs, pin, mutating=False, kind="think")
