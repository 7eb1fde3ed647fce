"""`wren doctor`: what this machine gives Wren (the command sandbox; local inference backend, offload,
threads, model memory)."""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

from wren.core.errors import ConfigError


def sandbox_lines(root: Path) -> list[str]:
    """The command sandbox with this workspace's settings: its backend, whether it starts here, the network."""
    from wren.core.config import load_config
    from wren.tools.sandbox import Sandbox

    sandbox = Sandbox(load_config(root).sandbox)
    config, found = sandbox.config, sandbox.probe()
    backend = " ".join(part for part in (found.version or found.backend, found.program and f"({found.program})")
                       if part) or "none"
    if config.mode == "off":
        works = 'not used ([sandbox] mode = "off")'
    elif found.works:
        works = "yes: shell and run_tests commands run in it"
    else:
        then = {"refuse": "commands are refused", "ask": "commands run unsandboxed after approval"}[sandbox.state]
        works = f"no: {found.reason}; {then}"
    return [f"sandbox        {backend}", f"sandbox works  {works}",
            f"network        {'on' if config.network else 'off'} in the sandbox"]


def embedding_line(root: Path) -> str:
    """The embedder session memory and the code index use, and whether it loads here (no download tried)."""
    from wren.core.config import PROVIDER_KEYS, load_config
    from wren.context.embeddings import missing_model

    provider = load_config(root).embeddings
    if provider == "none":
        return 'embeddings     none (embeddings = "none"): search is lexical only (BM25)'
    if provider != "default":
        key = PROVIDER_KEYS.get(provider.split("/")[0])
        if key and not os.environ.get(key):
            return f"embeddings     {provider} (hosted): {key} is not set, so search is lexical only (BM25)"
        return f"embeddings     {provider} (hosted, through litellm)"
    missing = missing_model()
    if missing:
        return f"embeddings     missing: {missing}"
    return "embeddings     all-MiniLM-L6-v2: search is hybrid (dense + BM25)"


def run(args: argparse.Namespace) -> int:
    from wren.core import __version__

    print(f"wren           {__version__}\npython         {sys.version.split()[0]}")
    try:
        print("\n".join(sandbox_lines(Path.cwd())))
        print(embedding_line(Path.cwd()))
    except ConfigError as exc:
        print(f"sandbox        unknown: {exc.message}")
    if importlib.util.find_spec("llama_cpp") is None:
        print("llama-cpp-python  not installed (pip install 'wren-agent[local]')")
        return 1
    from wren.local_models import catalog
    from wren.local_models.gguf import read_gguf
    from wren.local_models.hardware import detect

    hw = detect()
    print(f"llama-cpp-python {hw.llama_cpp_version}\nbackend        {hw.backend}")
    print(f"gpu offload    {'yes: all layers' if hw.gpu_offload else 'no (CPU build)'}")
    print(f"threads        {hw.threads} (physical cores)")
    try:
        # `wren run`'s spellings too: `local` is the default choice, `local:NAME` a name or path.
        spec = None if args.model == "local" else (args.model or "").removeprefix("local:") or None
        info = read_gguf(catalog.resolve(spec))
    except ConfigError as exc:
        print(f"model          unavailable: {exc.message}")
        return 1
    print(f"model          {info.name} ({info.path.name}, {info.quantization})")
    from wren.local_models.backend import DEFAULT_N_CTX

    n_ctx = min(DEFAULT_N_CTX, info.context_length or DEFAULT_N_CTX)
    kv = info.kv_cache_bytes(n_ctx)
    kv_text = f" + {kv / 1e6:.0f} MB KV cache at n_ctx {n_ctx}" if kv else " plus the KV cache"
    print(f"model memory   {info.size_bytes / 1e6:.0f} MB of weights{kv_text}")
    return 0

