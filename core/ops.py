"""Operations a front end sends into a session."""
from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, Field

from wren.core.events import ProposedPlan


class UserInput(BaseModel):
    type: Literal["user_input"] = "user_input"
    text: str


class ApprovalDecision(BaseModel):
    type: Literal["approval_decision"] = "approval_decision"
    call_id: str
    decision: Literal["allow_once", "allow_always", "deny"]
    message: str = ""


class Interrupt(BaseModel):
    """Stop the running turn. `terminated`: sent for a SIGTERM (timeout, docker stop, CI cancellation), so the
    turn's result and the session log say so and carry exit 143, not the 130 of a user's Ctrl+C."""
    type: Literal["interrupt"] = "interrupt"
    terminated: bool = False


class Compact(BaseModel):
    type: Literal["compact"] = "compact"


class UndoCompaction(BaseModel):
    """Put the messages of the latest compaction back into the prompt (between turns)."""
    type: Literal["undo_compaction"] = "undo_compaction"


class SetApprovalMode(BaseModel):
    """Takes effect at once, even mid-turn (the next tool call sees it)."""
    type: Literal["set_approval_mode"] = "set_approval_mode"
    mode: Literal["read-only", "ask", "auto-edit", "auto"]


class SetModel(BaseModel):
    """Go on with this session on another model (a name as `--model` takes it).

    Applied by the session between steps, never during a model call: it rebuilds the backend,
    the token budget and the context's token counting. A name that cannot be resolved leaves the
    session on its model and is reported as a non-fatal `error` event.
    """
    type: Literal["set_model"] = "set_model"
    model: str
    # Which model role (core/config.py ModelsConfig) switches; "main" is the one that runs turns.
    role: Literal["main", "plan", "edit", "fast"] = "main"


class SetEffort(BaseModel):
    """How hard the models think from the next model call on (agent/effort.py says what each backend
    does with it); applied between steps like SetModel."""
    type: Literal["set_effort"] = "set_effort"
    effort: Literal["low", "medium", "high", "max"]


class SetMode(BaseModel):
    """`plan`: the next turns explore read-only and end with a proposed plan (a `plan_proposed` event),
    which a PlanDecision approves, edits or rejects; `act`: ordinary turns. Applied between turns."""
    type: Literal["set_mode"] = "set_mode"
    mode: Literal["plan", "act"]


class PlanDecision(BaseModel):
    """The human's answer to a proposed plan. `approve` runs `plan` (the proposed one when None, else
    this edited one) as a turn in `approval` mode (None: the mode in force); `reject` drops it and
    changes nothing."""
    type: Literal["plan_decision"] = "plan_decision"
    decision: Literal["approve", "reject"]
    plan: ProposedPlan | None = None
    approval: Literal["read-only", "ask", "auto-edit", "auto"] | None = None


class Shutdown(BaseModel):
    type: Literal["shutdown"] = "shutdown"


Op = Annotated[Union[UserInput, ApprovalDecision, Interrupt, Compact, UndoCompaction, SetApprovalMode, SetModel,
                    SetEffort, SetMode, PlanDecision, Shutdown],
               Field(discriminator="type")]
