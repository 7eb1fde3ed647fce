"""Approval policy: which tool calls run, which ask a human, which are refused.

Policy is decided here, from the mode; nothing a tool returns can change it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from wren.tools.base import Tool

Mode = Literal["read-only", "ask", "auto-edit", "auto"]
MODES: tuple[Mode, ...] = ("read-only", "ask", "auto-edit", "auto")
Verdict = Literal["allow", "ask", "deny"]


@dataclass
class Policy:
    mode: Mode = "ask"
    # Tools the user allowed "always" during this session.
    always: set[str] = field(default_factory=set)

    def decide(self, tool: Tool) -> tuple[Verdict, str]:
        if not tool.mutating:
            return "allow", "read-only tool"
        if self.mode == "read-only":
            return "deny", f"{tool.name} changes the workspace and the approval mode is read-only"
        if self.mode == "auto" or tool.name in self.always:
            return "allow", f"mode {self.mode}"
        if self.mode == "auto-edit" and tool.kind == "edit":
            return "allow", "edits inside the workspace run in auto-edit mode"
        return "ask", f"{tool.name} needs approval in {self.mode} mode"
