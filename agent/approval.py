"""Approval policy: which tool calls run, which ask a human, which are refused.

Policy is decided here, from the mode and the call's arguments; nothing a tool returns can change it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel

from wren.tools.base import Tool
from wren.tools.sandbox import Sandbox
from wren.tools.workspace import looks_secret

Mode = Literal["read-only", "ask", "auto-edit", "auto"]
MODES: tuple[Mode, ...] = ("read-only", "ask", "auto-edit", "auto")
Verdict = Literal["allow", "ask", "deny"]


@dataclass
class Policy:
    mode: Mode = "ask"
    # Tools the user allowed "always" during this session.
    always: set[str] = field(default_factory=set)
    # The session's sandbox: when it cannot start, commands ask in every mode.
    sandbox: Sandbox | None = None

    def decide(self, tool: Tool, args: BaseModel | None = None) -> tuple[Verdict, str]:
        if tool.mutating and self.mode == "read-only":
            return "deny", f"{tool.name} changes the workspace and the approval mode is read-only"
        if unsandboxed := self._unsandboxed(tool):
            return "ask", unsandboxed
        if self.mode == "auto":
            return "allow", "mode auto"
        path = getattr(args, "path", None)
        if isinstance(path, str) and looks_secret(path):
            # Asked every time, even for a tool allowed "always": the secret is in the file, not the tool.
            return "ask", f"{tool.name} would read {path}, which looks like it holds secrets"
        if not tool.mutating:
            return "allow", "read-only tool"
        if tool.name in self.always:
            return "allow", f"{tool.name} allowed for this session"
        if self.mode == "auto-edit" and tool.kind == "edit":
            return "allow", "edits inside the workspace run in auto-edit mode"
        return "ask", f"{tool.name} needs approval in {self.mode} mode"

    def _unsandboxed(self, tool: Tool) -> str:
        """Why this command needs approval to run outside a sandbox that cannot start; "" when it does not."""
        if tool.kind != "execute" or self.sandbox is None or tool.name in self.always:
            return ""
        return self.sandbox.approval_reason()
