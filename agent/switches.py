"""Mid-session switches: the SetModel and SetEffort ops, which role's model runs the next calls, and
the fast model's small jobs for the session (its title, one-line summaries of approval requests)."""
from __future__ import annotations

import queue
from typing import TYPE_CHECKING, Any

from wren.agent import effort as effort_mode
from wren.core.config import Role
from wren.core.errors import WrenError
from wren.core.events import ErrorEvent, ModelChanged, SessionTitled
from wren.core.ops import SetEffort, SetModel

if TYPE_CHECKING:
    from wren.agent.session import Session


def apply_settings(s: "Session") -> None:
    """Between steps: apply the SetModel and SetEffort ops that came in, keep every other op in its order."""
    waiting = list(s._pending)
    while True:
        try:
            waiting.append(s._ops.get_nowait())
        except queue.Empty:
            break
    s._pending.clear()
    for op in waiting:
        if isinstance(op, (SetModel, SetEffort)):
            apply(s, op)
        else:
            s._pending.append(op)


def apply(s: "Session", op: SetModel | SetEffort) -> None:
    """One SetModel or SetEffort op, reported as its event (an error event when the model cannot be used)."""
    if isinstance(op, SetEffort):
        s.effort = op.effort
        s.emit(effort_mode.changed(s.backend, op.effort, s.cfg.limits))
    else:
        set_model(s, op.model, op.role)


def set_model(s: "Session", name: str, role: Role = "main") -> None:
    """Switch `role` to the model `name`; on an unknown or unusable model, say so and keep the old one."""
    try:
        backend = s._models(name)
    except WrenError as exc:
        s.emit(ErrorEvent(kind=exc.kind, fatal=False, message=f"cannot switch the {role} model to {name}: "
                          f"{exc.message}; still on {s.roles.name(role)}"))
        return
    s.roles.switch(role, backend)
    use_role(s, s.role)
    s.emit(ModelChanged(model=backend.name, role=role,
                        window=s.context.budget.window if s.context.budget else None))
    if s.effort and role == s.role:
        s.emit(effort_mode.changed(s.backend, s.effort, s.cfg.limits))


def use_role(s: "Session", role: Role) -> None:
    """Run the next model calls on `role`'s model (budget and token counting follow it)."""
    s.role, backend = role, s.roles.backend(role)
    if backend is not s.backend or role == "main":
        s.backend = backend
        s.context.use_backend(backend)
    s.context.summarizer = s.roles.summarizer()


def title(s: "Session", text: str) -> None:
    """At the end of the first turn: a title by the fast model, when one is set (before the result,
    so that its usage is counted there)."""
    if s._titled:
        return
    s._titled = True
    try:
        found = s.roles.title(text)
    except WrenError as exc:
        s.warn(f"no session title: {exc.message}")
        return
    if found:
        s.emit(SessionTitled(title=found, model=s.roles.name("fast")))


def one_line(s: "Session", described: dict[str, Any]) -> str:
    """The fast model's one-line summary of a call about to ask for approval; "" without one."""
    preview = described.get("preview")
    shown = f"{described.get('title', '')}\n{described.get('args', {})}\n{preview.model_dump() if preview else ''}"
    try:
        return s.roles.one_line(shown)
    except WrenError as exc:
        s.warn(f"no one-line summary for this approval: {exc.message}")
        return ""
