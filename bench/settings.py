"""Wren's settings as benchmark systems: `wren`, `wren[effort=low]`, `wren[effort=high fast=local:smollm2]`.

A setting is space-separated KEY=VALUE pairs: `effort` (low, medium, high, max: the `--effort`
flag) and the model roles `main`, `plan`, `edit`, `fast` (the `[models]` table of the user config,
written to a private config folder so the task's workspace stays as the task made it). The same
task set run under several settings gives the speed/success trade-off (bench/tradeoff.py).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from wren.core.config import EFFORTS, ROLES

SYSTEM = re.compile(r"^wren(?:\[(?P<pairs>[^\]]*)\])?$")


@dataclass
class WrenSetting:
    """One way to run Wren: extra `wren run` flags and model roles."""
    name: str
    effort: str | None = None
    roles: dict[str, str] = field(default_factory=dict)

    def flags(self) -> list[str]:
        return ["--effort", self.effort] if self.effort else []

    def environment(self, folder: Path) -> dict[str, str]:
        """Environment variables for the run: XDG_CONFIG_HOME pointing at a config holding the roles
        (written under `folder`), or none when the setting names no role."""
        if not self.roles:
            return {}
        config = folder / "config"
        (config / "wren").mkdir(parents=True, exist_ok=True)
        lines = ["[models]"] + [f'{role} = "{model}"' for role, model in self.roles.items()]
        (config / "wren" / "config.toml").write_text("\n".join(lines) + "\n")
        return {"XDG_CONFIG_HOME": str(config)}


def parse(system: str) -> WrenSetting | None:
    """The setting a system name asks for; None when it is not Wren (a peer). ValueError on a bad pair."""
    match = SYSTEM.match(system.strip())
    if not match:
        return None
    setting = WrenSetting(name=system.strip())
    for pair in (match.group("pairs") or "").split():
        key, sep, value = pair.partition("=")
        if not sep or not value:
            raise ValueError(f"{system}: {pair!r} is not KEY=VALUE")
        if key == "effort":
            if value not in EFFORTS:
                raise ValueError(f"{system}: effort must be one of {', '.join(EFFORTS)}, not {value!r}")
            setting.effort = value
        elif key in ROLES:
            setting.roles[key] = value
        else:
            raise ValueError(f"{system}: unknown key {key!r}; use effort or a role ({', '.join(ROLES)})")
    return setting
