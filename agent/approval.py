"""Approval policy: which tool calls run, which ask a human, which are refused.

Policy is decided here, from the mode, the allow and deny rules (agent/rules.py) and the call's
arguments; nothing a tool returns can change it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel

from wren.agent.rules import Rules, always_rules
from wren.tools.base import Tool
from wren.tools.sandbox import Sandbox
from wren.tools.workspace import looks_secret

if TYPE_CHECKING:
    from wren.core.config import Config

def is_config_path(path: str, root: Path) -> bool:
    """Whether `path` (relative to the workspace `root`, or absolute) is the workspace's wren.toml or
    lies in the user's Wren config folder (see core/config.py user_config_path)."""
    from wren.core.config import user_config_path

    target = Path(os.path.realpath(Path(path).expanduser() if Path(path).expanduser().is_absolute() else root / path))
    folder = Path(os.path.realpath(user_config_path().parent))
    return target == Path(os.path.realpath(root / "wren.toml")) or target == folder or folder in target.parents


Mode = Literal["read-only", "ask", "auto-edit", "auto"]
MODES: tuple[Mode, ...] = ("read-only", "ask", "auto-edit", "auto")
Verdict = Literal["allow", "ask", "deny"]


@dataclass
class Policy:
    mode: Mode = "ask"
    # Tools the user allowed "always" during this session.
    always: set[str] = field(default_factory=set)
    rules: Rules = field(default_factory=Rules)
    # The session's sandbox: when it cannot start, commands ask in every mode.
    sandbox: Sandbox | None = None
    # The session's workspace, for the paths of calls (its wren.toml); the session sets it.
    root: Path | None = None

    @classmethod
    def from_config(cls, config: "Config", root: Path, mode: Mode | None = None) -> "Policy":
        """The mode given (a flag, an editor's choice), else the config's, else ask; the config's rules."""
        rules = Rules.parse(config.policy.allow, config.policy.deny, root)
        return cls(mode=mode or config.approval or "ask", rules=rules)

    def for_session(self) -> "Policy":
        """A copy for one session: the same mode and configured rules, no grants. "Allow always" grants
        are added to the copy, so they never follow the user into another session."""
        configured = Rules([r for r in self.rules.allow if not r.session], list(self.rules.deny), self.rules.root)
        return Policy(mode=self.mode, rules=configured)

    def decide(self, tool: Tool, args: BaseModel | None = None) -> tuple[Verdict, str]:
        judgement = self.rules.judge(tool.name, args)
        if judgement.denial is not None:
            return "deny", judgement.reason()  # deny rules win in every mode
        if tool.mutating and self.mode == "read-only":
            return "deny", f"{tool.name} changes the workspace and the approval mode is read-only"
        if unsandboxed := self._unsandboxed(tool, judgement.allowed):
            return "ask", unsandboxed
        if self.mode == "auto":
            return "allow", "mode auto"
        path = getattr(args, "path", None)
        root = self.root or self.rules.root
        if tool.mutating and isinstance(path, str) and root and is_config_path(path, root):
            # Asked even in auto-edit and for a tool allowed "always": the config decides what runs unasked.
            return "ask", f"{tool.name} would change {path}, Wren's configuration, which needs approval in every mode but auto"
        if isinstance(path, str) and looks_secret(path):
            # Asked every time, even for a tool allowed "always": the secret is in the file, not the tool.
            return "ask", f"{tool.name} would read {path}, which looks like it holds secrets"
        if not tool.mutating:
            return "allow", "read-only tool"
        if judgement.allowed:
            return "allow", judgement.reason()
        if tool.name in self.always:
            return "allow", f"{tool.name} allowed for this session"
        if self.mode == "auto-edit" and tool.kind == "edit":
            return "allow", "edits inside the workspace run in auto-edit mode"
        unmatched = judgement.unmatched() if self.rules.names(tool.name) else ""
        return "ask", f"{tool.name} needs approval in {self.mode} mode" + (f" ({unmatched})" if unmatched else "")

    def always_label(self, tool: Tool, args: BaseModel | None) -> list[str]:
        """What remember() would add, for the user to read: a shell command's first words (without the
        "with more arguments" twins), [] for a command that cannot be split, else the tool's name."""
        if tool.name != "shell":
            return [tool.name]
        patterns = (str(r.pattern) for r in always_rules(getattr(args, "command", "")))
        return [p for p in patterns if not p.endswith(" *")]

    def remember(self, tool: Tool, args: BaseModel | None) -> None:
        """"Allow always": a shell command's first words for the rest of the session, else the whole tool."""
        if tool.name != "shell":
            self.always.add(tool.name)
            return
        # A command that cannot be split adds nothing: it was allowed once, and asks again next time.
        command = getattr(args, "command", "")
        self.rules.allow.extend(r for r in always_rules(command) if r not in self.rules.allow)

    def _unsandboxed(self, tool: Tool, allowed_by_rule: bool) -> str:
        """Why this command needs approval to run outside a sandbox that cannot start; "" when it does not.
        An allow rule (from config, or "allow always") is a standing approval."""
        if tool.kind != "execute" or self.sandbox is None or tool.name in self.always or allowed_by_rule:
            return ""
        return self.sandbox.approval_reason()
