"""Embedders for session memory and the code index.

The default is Chroma's own model (ONNX all-MiniLM-L6-v2), run here with dynamic
padding and length-sorted batches sized by tokens: Chroma's embedding function pads
every input to 256 tokens, which wastes most of the work on short code chunks. Same files, same
tokenizer settings and pooling, so the vectors are the same.

A missing model is a one-line warning and lexical-only search, never a hang.
"""
from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from typing import Callable, Protocol

ONNX_FILES = ("config.json", "model.onnx", "special_tokens_map.json", "tokenizer_config.json",
              "tokenizer.json", "vocab.txt")
MAX_TOKENS = 256
BATCH_TOKENS = 4096  # tokens per batch, padding included
MAX_BATCH = 256
DOWNLOAD_TIMEOUT_S = 60.0

Warn = Callable[[str], None]


class Embedder(Protocol):
    name: str

    def embed(self, texts: list[str]) -> list[list[float]]:
        ...


def chroma_model_dir() -> Path:
    """Where Chroma's default embedding function keeps (or downloads) its model."""
    override = os.environ.get("WREN_EMBEDDING_MODEL_DIR")
    if override:
        return Path(override).expanduser()
    return Path.home() / ".cache" / "chroma" / "onnx_models" / "all-MiniLM-L6-v2" / "onnx"


def model_present(folder: Path) -> bool:
    return all((folder / name).is_file() for name in ONNX_FILES)


class MiniLMEmbedder:
    name = "all-MiniLM-L6-v2"

    def __init__(self, folder: Path, max_tokens: int = MAX_TOKENS) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_tokens)
        self.tokenizer.no_padding()  # embed() pads each batch to its own longest input
        options = ort.SessionOptions()
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(folder / "model.onnx"), sess_options=options,
                                            providers=["CPUExecutionProvider"])
        self.calls = 0  # texts embedded so far; tests count re-embedding with it

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Inputs sorted by token count, cut into batches of about BATCH_TOKENS tokens padded.

        Batches are sized by work, not by count: short chunks (most code chunks) go many
        to a batch, which keeps the matrix products large, and little is padding."""
        import numpy as np

        self.calls += len(texts)
        encoded = [e.ids for e in self.tokenizer.encode_batch(texts)]
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
        out: list[list[float]] = [[] for _ in texts]
        for batch in _batches([len(encoded[i]) for i in order], BATCH_TOKENS, MAX_BATCH):
            rows = [order[at] for at in batch]
            ids = np.zeros((len(rows), max(len(encoded[i]) for i in rows)), dtype=np.int64)
            mask = np.zeros_like(ids)
            for row, i in enumerate(rows):
                ids[row, :len(encoded[i])] = encoded[i]
                mask[row, :len(encoded[i])] = 1
            hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask,
                                             "token_type_ids": np.zeros_like(ids)})[0]
            summed = (hidden * mask[..., None]).sum(axis=1)
            pooled = summed / np.clip(mask.sum(axis=1, keepdims=True), 1e-9, None)
            pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            for row, i in enumerate(rows):
                out[i] = pooled[row].tolist()
        return out


def _batches(lengths: list[int], budget: int, most: int) -> list[range]:
    """Consecutive ranges over ascending lengths whose padded size (count x longest) fits budget."""
    out, start = [], 0
    while start < len(lengths):
        end = start + 1
        while end < len(lengths) and end - start < most and (end - start + 1) * lengths[end] <= budget:
            end += 1
        out.append(range(start, end))
        start = end
    return out


class EmbeddingUnavailable(Exception):
    """The embedder cannot embed (a hosted one failed: its key, the network, the model's name). Callers
    go on with lexical search; the first failure was already warned about once."""


class LiteLLMEmbedder:
    """Hosted embeddings, e.g. `openai/text-embedding-3-small`.

    The first failure is one warning (what failed, how to fix it) and EmbeddingUnavailable, then and on
    every later call in this process without another request: a missing key ended the run with an internal
    error (exit 1) and a traceback from the indexing thread."""

    def __init__(self, model: str, warn: Warn = lambda message: None) -> None:
        from wren.core.backend import import_litellm

        self.name, self._litellm, self._warn = model, import_litellm(), warn
        self.calls = 0

    def embed(self, texts: list[str]) -> list[list[float]]:
        if failed := _HOSTED_FAILED.get(self.name):  # per process: the index and session memory share it
            raise EmbeddingUnavailable(failed)
        self.calls += len(texts)
        try:
            response = self._litellm.embedding(model=self.name, input=texts)
        except Exception as exc:  # auth, network, bad model name, rate limit: each means no vectors here
            failed = f"hosted embeddings {self.name} failed: {_first_line(f'{type(exc).__name__}: {exc}')}"
            _HOSTED_FAILED[self.name] = failed
            self._warn(f"{failed}; search is lexical (BM25) from here on. Set the provider's key, or "
                       'embeddings = "default" (local all-MiniLM-L6-v2) or "none" in wren.toml')
            raise EmbeddingUnavailable(failed) from None
        return [item["embedding"] for item in response.data]


_HOSTED_FAILED: dict[str, str] = {}  # model -> why it failed, in this process


def download_model(folder: Path) -> str:
    """Chroma's own download, bounded in time: offline machines must not hang here.

    Returns why the model is still missing ("" when it is there now). A failure is caught in the
    thread itself: uncaught, it would print a traceback under whatever Wren is showing."""
    from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2

    failed: list[str] = []

    def fetch() -> None:
        try:
            ef = ONNXMiniLM_L6_V2()
            ef.DOWNLOAD_PATH = folder.parent
            ef._download_model_if_not_exists()
        except Exception as exc:  # network, TLS, HTTP and file errors alike: each means "not here"
            failed.append(_first_line(f"{type(exc).__name__}: {exc}"))

    created = not folder.parent.exists()  # Chroma makes the folder before it downloads into it
    worker = threading.Thread(target=fetch, name="wren-model-download", daemon=True)
    worker.start()
    worker.join(DOWNLOAD_TIMEOUT_S)
    if model_present(folder):
        return ""
    if created and not worker.is_alive():  # a failed download leaves no empty model folder behind
        shutil.rmtree(folder.parent, ignore_errors=True)
    if failed:
        return f"the download failed: {failed[0]}"
    return "the download failed" if not worker.is_alive() else f"the download took over {DOWNLOAD_TIMEOUT_S:g}s"


def _first_line(text: str, most: int = 200) -> str:
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return line if len(line) <= most else line[:most - 3] + "..."


def embedder_name(provider: str) -> str | None:
    """The name the provider's vectors are filed under, without loading anything; None for `none`."""
    if provider == "none":
        return None
    return MiniLMEmbedder.name if provider == "default" else provider


_MISSES: dict[Path, str] = {}  # folder -> why the model is not there: one download try per process


def missing_model() -> str:
    """Why the default embedding model cannot load here, without downloading ("" when it is there)."""
    folder = chroma_model_dir()
    if model_present(folder):
        return ""
    return f"all-MiniLM-L6-v2 is not in {folder}; " + EMBEDDING_FIX


EMBEDDING_FIX = ("search is lexical only (BM25) until it is: run `wren models pull all-minilm-l6-v2` (with a "
                 "network, or --from DIR holding its six ONNX files), or set WREN_EMBEDDING_MODEL_DIR to a folder "
                 "that holds them")


def load_embedder(provider: str, warn: Warn, max_tokens: int = MAX_TOKENS) -> Embedder | None:
    """`default` (MiniLM), `none` (lexical only), or a litellm embedding model name.

    max_tokens cuts MiniLM's input: 256 gives Chroma's own vectors; the code index uses 128,
    the length the model was trained on, at a third of the cost for code chunks. A missing
    default model is one warning per call (what is missing, why, how to fix it); the download is
    tried once per process.
    """
    if provider == "none":
        return None
    if provider != "default":
        return LiteLLMEmbedder(provider, warn)
    folder = chroma_model_dir()
    if not model_present(folder):
        if folder not in _MISSES:
            offline = os.environ.get("WREN_OFFLINE") or os.environ.get("HF_HUB_OFFLINE")
            _MISSES[folder] = "offline: no download tried" if offline else download_model(folder)
        if why := _MISSES[folder]:
            warn(f"embedding model all-MiniLM-L6-v2 not found in {folder} ({why}); {EMBEDDING_FIX}")
            return None
    return MiniLMEmbedder(folder, max_tokens)
