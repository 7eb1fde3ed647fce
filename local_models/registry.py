"""Named local models: `models.json` beside the user config, name -> path of a GGUF file.

`wren models add` and `wren models pull` write it; `--model local:NAME` and the default
model choice read it. A pulled model is registered only after its bytes were verified.
"""
from __future__ import annotations

import json
from pathlib import Path

from wren.core.config import user_config_path
from wren.core.errors import ConfigError


def registry_path() -> Path:
    """`$XDG_CONFIG_HOME/wren/models.json` (default `~/.config/wren/models.json`)."""
    return user_config_path().with_name("models.json")


def registered() -> dict[str, str]:
    """Every registered name and its path (as written; may start with ~). Raises ConfigError on bad JSON."""
    path = registry_path()
    if not path.is_file():
        return {}
    try:
        return dict(json.loads(path.read_text()))
    except (json.JSONDecodeError, ValueError, TypeError):
        raise ConfigError(f"{path} is not valid JSON; fix or delete it") from None


def register(name: str, path: Path) -> None:
    """Record name -> path (atomically, so a crash never leaves half a registry)."""
    from wren.core.fileio import atomic_write

    models = registered()
    models[name] = str(path)
    atomic_write(registry_path(), (json.dumps(models, indent=2) + "\n").encode())
