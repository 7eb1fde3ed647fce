"""`wren models list|add|info`: the local GGUF catalog, read from file headers (weights are not loaded)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from wren.agent.config import load_config, user_config_path
from wren.agent.errors import ConfigError
from wren.local_models import catalog
from wren.local_models.gguf import GGUFInfo, read_gguf


def registry_path() -> Path:
    return user_config_path().with_name("models.json")


def added_models() -> dict[str, str]:
    path = registry_path()
    if not path.is_file():
        return {}
    try:
        return dict(json.loads(path.read_text()))
    except (json.JSONDecodeError, ValueError):
        raise ConfigError(f"{path} is not valid JSON; fix or delete it") from None


def named_models(root: Path) -> dict[str, str]:
    return {**added_models(), **load_config(root).local.models}


def _row(name: str, info: GGUFInfo) -> str:
    ctx = info.context_length or "?"
    template = "yes" if info.chat_template else "no (ChatML fallback)"
    return (f"{name:<14} {info.size_bytes / 1e6:>8.1f} MB  {info.architecture:<10} {info.quantization:<8} "
            f"ctx {ctx:<7} template {template}  {info.path}")


def cmd_list(args: argparse.Namespace) -> int:
    entries = {catalog.BUNDLED: None, **named_models(Path.cwd())}
    for name, path in entries.items():
        try:
            info = read_gguf(catalog.resolve(name, {k: v for k, v in entries.items() if v}))
            print(_row(name, info))
        except ConfigError as exc:
            print(f"{name:<14} unavailable: {exc.message}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    info = read_gguf(catalog.resolve(args.name, named_models(Path.cwd())))
    print(f"name           {info.name}\npath           {info.path}\nsize           {info.size_bytes / 1e6:.1f} MB")
    print(f"architecture   {info.architecture}\nquantization   {info.quantization}")
    print(f"trained ctx    {info.context_length or 'unknown'}")
    print(f"chat template  {'present' if info.chat_template else 'absent (ChatML fallback)'}")
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    from wren.tools.fileio import atomic_write

    path = Path(args.path).expanduser().resolve()
    read_gguf(path)  # refuse what is not a readable GGUF before recording it
    models = added_models()
    models[args.name] = str(path)
    atomic_write(registry_path(), (json.dumps(models, indent=2) + "\n").encode())
    print(f"added {args.name} -> {path}; use it with --model local:{args.name}")
    return 0


def run(args: argparse.Namespace) -> int:
    commands = {"list": cmd_list, "info": cmd_info, "add": cmd_add}
    try:
        return commands[args.models_command](args)
    except ConfigError as exc:
        sys.stderr.write(f"wren: {exc.message}\n")
        return exc.exit_code
