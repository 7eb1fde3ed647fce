"""Wren's settings as benchmark systems: `wren`, `wren[effort=low]`, `wren[effort=high fast=local:smollm2]`.

A setting is space-separated KEY=VALUE pairs: `effort` (low, medium, high, max: the `--effort`
flag), `mode` (`plan`: the task planned with `wren run --plan`, then the plan carried out with
`--plan-file`; the plan and edit roles act only there) and the model roles `plan`, `edit`, `fast`
(the `[models]` table of a user config written to a private config folder, so the task's workspace
stays as the task made it; `main` is the benchmark's `--model`). Every setting runs on a private config, roles or not, so that settings differ in what
they name and nothing else (the user's own config.toml is not read). The same
task set run under several settings gives the speed/success trade-off (bench/tradeoff.py).
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from wren.agent.effort import step_budget
from wren.core.config import EFFORTS, ROLES

SYSTEM = re.compile(r"^wren(?:\[(?P<pairs>.*)\])?$")  # `.*`: a model's path may hold a `]`
SETTABLE = [role for role in ROLES if role != "main"]


@dataclass
class WrenSetting:
    """One way to run Wren: extra `wren run` flags and model roles."""
    name: str
    effort: str | None = None
    mode: str = "act"  # "plan": `wren run --plan`, then the plan carried out (`--plan-file`)
    roles: dict[str, str] = field(default_factory=dict)

    @property
    def slug(self) -> str:
        """The setting's name as a file name, for its logs and workspaces: `wren-effort=low`; where characters
        had to be replaced, a hash of the name is added, so that two settings never share a file."""
        inner = self.name[len("wren["):-1] if self.name.startswith("wren[") else ""
        safe = re.sub(r"[^\w.=-]+", "_", inner)
        if safe != inner:
            safe += "-" + hashlib.sha1(self.name.encode()).hexdigest()[:8]
        return "wren" + ("-" + safe if safe else "")

    def flags(self) -> list[str]:
        return ["--effort", self.effort] if self.effort else []

    def steps(self, limit: int) -> int:
        """The step limit of a run whose plain setting gets `limit` steps: scaled with the effort as
        Wren scales its default budget on a model without a thinking switch (agent/effort.py), since
        an explicit `--max-steps` would otherwise pin every effort to the same budget."""
        return step_budget(limit, self.effort) if self.effort else limit

    def environment(self, folder: Path) -> dict[str, str]:
        """Environment variables for the run: XDG_CONFIG_HOME pointing at a private config holding the
        roles (written under `folder`; empty when the setting names none)."""
        config = folder / "config"
        (config / "wren").mkdir(parents=True, exist_ok=True)
        # A TOML basic string is a JSON string for these values (quotes and backslashes escaped alike).
        lines = ["[models]"] + [f"{role} = {json.dumps(model)}" for role, model in self.roles.items()]
        (config / "wren" / "config.toml").write_text("\n".join(lines) + "\n" if self.roles else "")
        return {"XDG_CONFIG_HOME": str(config)}


def parse(system: str) -> WrenSetting | None:
    """The setting a system name asks for; None when it is not Wren (a peer). ValueError on a bad pair, a key
    given twice, a plan or edit role without `mode=plan` (they act only there), and a name that looks meant
    for Wren but is not written as `wren` or `wren[KEY=VALUE ...]`."""
    match = SYSTEM.match(system.strip())
    if not match:
        if system.strip().lower().startswith("wren"):
            raise ValueError(f"{system}: write Wren's settings as wren or wren[KEY=VALUE ...]")
        return None
    setting, seen = WrenSetting(name=system.strip()), set()
    for pair in (match.group("pairs") or "").split():
        key, sep, value = pair.partition("=")
        if not sep or not value:
            raise ValueError(f"{system}: {pair!r} is not KEY=VALUE")
        if key in seen:
            raise ValueError(f"{system}: {key} is given twice")
        seen.add(key)
        if key == "effort":
            if value not in EFFORTS:
                raise ValueError(f"{system}: effort must be one of {', '.join(EFFORTS)}, not {value!r}")
            setting.effort = value
        elif key == "mode":
            if value not in ("act", "plan"):
                raise ValueError(f"{system}: mode must be act or plan, not {value!r}")
            setting.mode = value
        elif key == "main":
            raise ValueError(f"{system}: the main model is the benchmark's --model; set {', '.join(SETTABLE)}")
        elif key in ROLES:
            setting.roles[key] = value
        else:
            raise ValueError(f"{system}: unknown key {key!r}; use effort, mode or a role ({', '.join(SETTABLE)})")
    if setting.mode != "plan" and {"plan", "edit"} & setting.roles.keys():
        raise ValueError(f"{system}: the plan and edit roles act only in plan mode; add mode=plan")
    return setting
