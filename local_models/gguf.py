"""Read a GGUF file's header metadata without loading its weights.

Used by the catalog (`wren models info`) and to refuse bad files with a clear
message before llama.cpp sees them.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from wren.core.errors import ConfigError

# GGUF value types -> struct format (scalars); 8 = string, 9 = array.
SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
FILE_TYPES = {0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
              11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
              17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 24: "IQ1_S", 25: "IQ4_NL",
              26: "IQ3_S", 28: "IQ4_XS", 30: "BF16", 32: "TQ1_0", 33: "TQ2_0"}
MAX_STRING = 64 * 1024 * 1024


@dataclass
class GGUFInfo:
    path: Path
    size_bytes: int
    metadata: dict

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", "unknown"))

    @property
    def context_length(self) -> int | None:
        value = self.metadata.get(f"{self.architecture}.context_length")
        return int(value) if value is not None else None

    @property
    def quantization(self) -> str:
        ft = self.metadata.get("general.file_type")
        return FILE_TYPES.get(ft, f"type {ft}") if ft is not None else "unknown"

    @property
    def chat_template(self) -> str | None:
        return self.metadata.get("tokenizer.chat_template")

    def kv_cache_bytes(self, n_ctx: int) -> int | None:
        """f16 K and V for every layer at n_ctx tokens: what llama.cpp allocates beside the weights."""
        arch, meta = self.architecture, self.metadata
        layers, heads = meta.get(f"{arch}.block_count"), meta.get(f"{arch}.attention.head_count")
        kv_heads, width = meta.get(f"{arch}.attention.head_count_kv", heads), meta.get(f"{arch}.embedding_length")
        if not (layers and heads and kv_heads and width):
            return None
        return int(layers) * n_ctx * int(kv_heads) * (int(width) // int(heads)) * 2 * 2

    @property
    def name(self) -> str:
        return str(self.metadata.get("general.name") or self.path.stem)


class _Reader:
    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh

    def take(self, fmt: str):
        size = struct.calcsize("<" + fmt)
        data = self.fh.read(size)
        if len(data) != size:
            raise EOFError
        return struct.unpack("<" + fmt, data)[0]

    def string(self) -> str:
        n = self.take("Q")
        if n > MAX_STRING:
            raise ValueError(f"string of {n} bytes")
        data = self.fh.read(n)
        if len(data) != n:
            raise EOFError
        return data.decode("utf-8", errors="replace")

    def value(self, vtype: int, keep: bool = True):
        if vtype in SCALARS:
            return self.take(SCALARS[vtype])
        if vtype == 8:
            return self.string()
        if vtype == 9:
            item_type, count = self.take("I"), self.take("Q")
            if item_type in SCALARS and not keep:
                # Skip big arrays (token lists) without decoding them.
                self.fh.seek(struct.calcsize("<" + SCALARS[item_type]) * count, 1)
                return None
            items = [self.value(item_type, keep) for _ in range(count)]
            return items if keep else None
        raise ValueError(f"unknown value type {vtype}")


def read_gguf(path: Path) -> GGUFInfo:
    """Header metadata, or ConfigError saying what is wrong with the file."""
    if not path.exists():
        raise ConfigError(f"model file {path} does not exist; pass --model local:PATH.gguf with an existing "
                          "file, or --model local for the bundled model")
    if not path.is_file():
        raise ConfigError(f"model path {path} is not a file")
    size = path.stat().st_size
    with path.open("rb") as fh:
        if fh.read(4) != b"GGUF":
            raise ConfigError(f"{path} is not a GGUF model file (wrong magic bytes); "
                              "convert it with llama.cpp's convert_hf_to_gguf.py or pick a .gguf file")
        reader = _Reader(fh)
        try:
            version = reader.take("I")
            if version not in (2, 3):
                raise ConfigError(f"{path} uses GGUF version {version}; Wren reads versions 2 and 3")
            n_tensors, n_kv = reader.take("Q"), reader.take("Q")
            meta: dict = {}
            for _ in range(n_kv):
                key = reader.string()
                vtype = reader.take("I")
                keep = not key.startswith("tokenizer.ggml.") or vtype != 9
                value = reader.value(vtype, keep)
                if keep:
                    meta[key] = value
        except (EOFError, ValueError, struct.error):
            raise ConfigError(f"{path} is truncated or damaged (its GGUF header cannot be read); "
                              "download or copy it again") from None
        # 32 bytes per tensor is the least a tensor record can take; a cut file fails this too.
        if fh.tell() + n_tensors * 32 > size:
            raise ConfigError(f"{path} is truncated ({size} bytes for {n_tensors} tensors); copy it again")
    return GGUFInfo(path, size, meta)
