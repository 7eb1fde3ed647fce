"""Plan mode: what the model is told, how its answer becomes a ProposedPlan, and how an approved plan
is handed back to a model to carry out."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from wren.core.errors import ConfigError
from wren.core.events import ErrorEvent, PlanResolved, PlanStep, ProposedPlan
from wren.core.ops import PlanDecision
from wren.core.paths import valid_text

if TYPE_CHECKING:
    from wren.agent.session import Session

PLAN_INSTRUCTIONS = """

[Plan mode: explore read-only (read, list, grep, search); change nothing and run no commands. When you
know what to do, record the steps with update_plan if you can, then answer with the plan in this shape:
Steps:
1. ...
Files: path/one.py, path/two.py
Verify: how you will check the change (a test command)]"""

EXECUTE = """Carry out this approved plan. Make the changes it names, then verify as it says.

{}"""
# Where the plan's request is known: a plan file's run starts without it, and a plan a small model wrote may not say
# what it is for (SmolLM2's: "I'm sorry, I've been using a lot of tools and they're all not working").
EXECUTE_REQUEST = """The request: {}

Carry out this approved plan for it. Make the changes it names, then verify as it says.

{}"""

_NUMBERED = re.compile(r"^\s*(?:\d+[.)]|[-*])\s+(.*\S)")
_FILES = re.compile(r"^\s*\**files?\**\s*:\s*(.*)$", re.IGNORECASE)
_VERIFY = re.compile(r"^\s*\**verif(?:y|ication)\**\s*:\s*(.*)$", re.IGNORECASE)
_PATHLIKE = re.compile(r"[\w./-]+\.\w+|[\w-]+/[\w./-]*")
# A step update_plan marked completed is shown with this mark, and read back as completed: the model carrying
# the plan out is not told to do it again, and an edited plan keeps what was done.
DONE = "(already done)"


def parse_plan(text: str, steps: list[PlanStep], request: str = "") -> ProposedPlan:
    """The plan in a plan-mode answer: `steps` (the turn's update_plan) or else the answer's numbered
    lines before `Files:`; the paths on the `Files:` line (or the list under it); the `Verify:` text;
    `request`, the user's request it answers, kept as it is."""
    files: list[str] = []
    verify, listed, section = "", [], "steps"
    for line in text.splitlines():
        if m := _FILES.match(line):
            section = "files"
            files += _PATHLIKE.findall(m.group(1).replace("`", " "))
        elif m := _VERIFY.match(line):
            section, verify = "verify", m.group(1).strip().strip("`")
        elif (m := _NUMBERED.match(line)) and section == "steps":
            content = m.group(1)
            done = content.endswith(DONE) and content != DONE
            listed.append(PlanStep(content=content.removesuffix(DONE).rstrip() if done else content,
                                   status="completed" if done else "pending"))
        elif m and section == "files":
            files += _PATHLIKE.findall(m.group(1).replace("`", " "))[:1]
        elif section == "verify" and line.strip() and not verify:
            verify = line.strip().strip("`")
    return ProposedPlan(steps=steps or listed, files=list(dict.fromkeys(files)), verify=verify, text=text.strip(),
                        request=request)


def render_plan(plan: ProposedPlan) -> str:
    """The plan as text: for people (the TUI, `wren run --plan`) and for the model that carries it out."""
    lines = ["Steps:"] + [f"{n}. {step.content}{' ' + DONE if step.status == 'completed' else ''}"
                          for n, step in enumerate(plan.steps, 1)]
    said = ProposedPlan()
    if not plan.steps and plan.text:  # the model's text is the plan: its own Files and Verify lines stand
        lines, said = [plan.text], parse_plan(plan.text, [])
    if plan.files and plan.files != said.files:
        lines.append("Files: " + ", ".join(plan.files))
    if plan.verify and plan.verify != said.verify:
        lines.append("Verify: " + plan.verify)
    return "\n".join(lines)


def execute_prompt(plan: ProposedPlan) -> str:
    """What the model that carries `plan` out is told: the plan, and the request it answers when known."""
    if plan.request.strip():
        return EXECUTE_REQUEST.format(plan.request.strip(), render_plan(plan))
    return EXECUTE.format(render_plan(plan))


def decide(s: "Session", op: PlanDecision) -> None:
    """Approve (carry the plan out as a turn on the edit model, in the approval mode chosen now) or
    reject (nothing changes) the session's proposed plan, or the edited one the op carries."""
    plan = op.plan or s.proposed
    if plan is not None and not plan.request and s.proposed is not None:  # edited as text: the request stays
        plan = plan.model_copy(update={"request": s.proposed.request})
    if plan is None:
        s.emit(ErrorEvent(kind="plan", fatal=False, message="there is no proposed plan to approve or reject"))
        return
    s.proposed = None
    s.emit(PlanResolved(decision=op.decision, plan=plan if op.decision == "approve" else None,
                        approval=op.approval))
    if op.decision == "reject":
        return
    if op.approval:
        s.policy.mode = op.approval
    s.mode = "act"
    s._turn(execute_prompt(plan), role="edit")


def load_plan_file(path: Path) -> ProposedPlan:
    """A plan file as `wren run --plan --output-format json` writes it (its `plan` field, or the plan
    object alone); ConfigError naming the file and what is wrong."""
    try:
        data = _valid_text(json.loads(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise ConfigError(f"cannot read plan file {path}: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"plan file {path} is not JSON ({exc})") from None
    if isinstance(data, dict) and data.get("type") == "result" and not isinstance(data.get("plan"), dict):
        raise ConfigError(f"plan file {path} is a result with no plan (its run ended {data.get('status')!r}: "
                          f"{str(data.get('summary') or '')[:200]}); run `wren run --plan` again")
    if isinstance(data, dict) and isinstance(data.get("plan"), dict):
        data = data["plan"]
    try:
        plan = ProposedPlan.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the whole file"
        raise ConfigError(f"plan file {path} is not a plan ({where}: {first['msg']}); expected "
                          '{"steps": [{"content": ...}], "files": [...], "verify": "..."}') from None
    plan.steps = [step for step in plan.steps if step.content.strip()]  # an emptied step is not work to do
    if not plan.steps and not plan.text.strip():
        raise ConfigError(f"plan file {path} has no steps and no text: nothing to carry out")
    return plan


def _valid_text(data: object) -> object:
    """`data` (parsed JSON) with every string made valid Unicode (core/paths.py valid_text): a `\\udcff` escape is
    valid JSON but a lone surrogate, which no log or model request can carry."""
    if isinstance(data, str):
        return valid_text(data)
    if isinstance(data, list):
        return [_valid_text(item) for item in data]
    if isinstance(data, dict):
        return {_valid_text(key): _valid_text(value) for key, value in data.items()}
    return data
