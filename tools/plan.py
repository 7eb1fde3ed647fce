"""update_plan: the model keeps its plan; the session emits plan_updated with the full list."""
from __future__ import annotations

from pydantic import BaseModel, Field

from wren.core.events import PlanStep
from wren.tools.base import Tool, ToolContext, ToolResult

MARKS = {"pending": "[ ]", "in_progress": "[~]", "completed": "[x]"}


class UpdatePlanArgs(BaseModel):
    steps: list[PlanStep] = Field(description="the whole plan, each step with content and status")


def update_plan(args: UpdatePlanArgs, ctx: ToolContext) -> ToolResult:
    text = "\n".join(f"{MARKS[s.status]} {s.content}" for s in args.steps) or "(empty plan)"
    return ToolResult(output=f"Plan updated:\n{text}", plan=args.steps)


UPDATE_PLAN = Tool("update_plan", "Replace the plan: steps, each pending, in_progress or completed.",
                   UpdatePlanArgs, update_plan, mutating=False, kind="think",
                   title_of=lambda args: f"Update plan ({len(args.steps)} steps)")
