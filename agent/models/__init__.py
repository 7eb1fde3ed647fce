"""Model backends behind one protocol, chosen by model name (see resolve_backend)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from wren.core.config import Config, load_config
from wren.core.errors import ConfigError
from wren.core.backend import ModelBackend


def resolve_backend(model: str, api_base: str | None = None, config: Config | None = None) -> ModelBackend:
    """`scripted:PATH`, `local` / `local:NAME_OR_PATH`, or a litellm model string."""
    if model.startswith("scripted:"):
        from wren.agent.models.scripted import ScriptedBackend

        return ScriptedBackend(Path(model.removeprefix("scripted:")).expanduser())
    if model == "local" or model.startswith("local:"):
        try:
            from wren.local_models.backend import LocalBackend
        except ImportError:
            raise ConfigError("local models need llama-cpp-python: pip install 'wren-agent[local]'") from None
        return LocalBackend.from_spec(model.partition(":")[2] or None, (config or Config()).local)
    if not model.strip():
        raise ConfigError("empty model name; pass --model PROVIDER/MODEL, `local` or scripted:PATH")
    from wren.agent.models.litellm_backend import LiteLLMBackend

    return LiteLLMBackend(model, api_base=api_base)


BackendFactory = Callable[[str], ModelBackend]


def backend_factory(root: Path, api_base: str | None = None, config: Config | None = None) -> BackendFactory:
    """Resolves model names (as `--model` takes them) with `config`, or else the config of workspace
    `root` read on the first call and kept: a session's config is a snapshot. Raises ConfigError (bad
    name or config) or ModelError like resolve_backend."""
    known: list[Config] = [] if config is None else [config]

    def resolve(model: str) -> ModelBackend:
        if not known:
            known.append(load_config(root))
        return resolve_backend(model, api_base=api_base or known[0].api_base, config=known[0])

    return resolve
