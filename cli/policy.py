"""`wren policy check`: what the approval policy would do with a command or a path, and which rule decides."""
from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from pydantic import BaseModel

from wren.agent.approval import MODES, Policy
from wren.core.config import load_config
from wren.core.errors import ConfigError, ExitCode, WrenError
from wren.core.rule_syntax import PATH_TOOLS
from wren.agent.start import workspace_root
from wren.tools.base import Tool, default_registry

EXIT = {"allow": ExitCode.FINISHED, "ask": ExitCode.NOT_FINISHED, "deny": ExitCode.DENIED}


def run(args: argparse.Namespace) -> int:
    try:
        root = workspace_root(args.cwd)
        config = load_config(root)
        policy = Policy.from_config(config, root, args.approval)
        tool, call = _call(args.tool, args.subject)
    except WrenError as exc:
        sys.stderr.write(f"wren: {exc.message}\n")
        return exc.exit_code
    if tool.name in PATH_TOOLS and (refused := _refused(root, args.subject, tool.mutating)):
        # The tool itself refuses it before any rule or mode is asked: "auto allow" would mislead.
        print(f"workspace  {root}\n{tool.name:<10} {args.subject}\nrefused by the tool in every mode: {refused}")
        return ExitCode.DENIED
    rules = policy.rules
    judgement = rules.judge(tool.name, call)
    print(f"workspace  {root}")
    print(f"rules      {len(rules.allow)} allow, {len(rules.deny)} deny (wren.toml and the user's config)")
    print(f"{tool.name:<10} {args.subject or '(any call)'}")
    if judgement.unparsable:
        print(f"cannot split it: {judgement.unparsable}; no allow rule can match it, so the mode decides, "
              "and deny rules are checked against the whole text and its pieces")
    print("pieces" if judgement.unparsable else "parts" if tool.name == "shell" else "path" if args.subject else "call")
    width = max((len(s.text or "") for s in judgement.subjects), default=0)
    if not judgement.subjects:  # `;`, `&&`, a comment: bash runs nothing here
        print("  (none: no command in it)")
    for s in judgement.subjects:
        decides = f"{s.effect} rule {s.rule}" if s.rule else "no rule: the mode decides"
        print(f"  {s.text or '(any)':<{width}}  {decides}")
    print("verdict")
    verdicts = {mode: dataclasses.replace(policy, mode=mode).decide(tool, call) for mode in MODES}
    for mode, (verdict, reason) in verdicts.items():
        mark = "*" if mode == policy.mode else " "
        print(f"{mark} {mode:<9}  {verdict:<5}  {reason}")
    verdict = verdicts[policy.mode][0]
    print(f"* the mode in force ({policy.mode}): exit {EXIT[verdict]}"
          + ("; ask means the terminal UI and editors ask, and `wren run` denies it" if verdict == "ask" else ""))
    return EXIT[verdict]


def _refused(root, path: str, write: bool) -> str:
    """Why the workspace refuses `path` (outside it, into .git, a write into .wren), or ""."""
    from wren.tools.workspace import PathRefused, Workspace

    try:
        Workspace(root).resolve(path, write=write)
    except PathRefused as exc:
        return str(exc)
    return ""


def _call(name: str, subject: str | None) -> tuple[Tool, BaseModel]:
    """The tool and its arguments, as the model would send them; ConfigError for a call that cannot be."""
    tools = default_registry().tools
    if name not in tools:
        raise ConfigError(f"unknown tool {name!r}; use one of {', '.join(tools)}")
    key = "command" if name == "shell" else "path" if name in PATH_TOOLS else None
    if key and not subject:
        raise ConfigError(f"give the {key} to check: wren policy check --tool {name} {key.upper()}")
    fields: dict[str, Any] = {key: subject} if key else {}
    return tools[name], tools[name].args.model_construct(**fields)
