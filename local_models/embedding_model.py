"""The embedding model session memory and the code index use (all-MiniLM-L6-v2 as ONNX, the six files
Chroma's default embedding function reads), installed and verified like the GGUF models: every file
is checked against its pinned size and SHA256 before it is copied in, so a wrong or cut file never
reaches the model folder.

The pins are those of sentence-transformers/all-MiniLM-L6-v2 exported to ONNX (Apache-2.0), the files
Wren's tests and CI seed; they give the same vectors as Chroma's own download, whose archive Chroma
checks against its own SHA256. `HUB` says where the same six files lie in that hub repo. Nobody has
checked the pins against the live hub's bytes (the machines that made them have no network): a hub
file with other bytes is refused like any other mismatch.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from wren.core.errors import ConfigError
from wren.local_models.catalog import CatalogEntry
from wren.local_models.pull import HubFailure, from_hub, from_hub_cache
from wren.local_models.verify import Reporter, check, sha256_file

NAME = "all-minilm-l6-v2"
# file -> (bytes, SHA256)
FILES = {
    "config.json": (612, "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"),
    "model.onnx": (90386583, "e2deab4fd8caab09da6b6bbfb4799351626c4a60164bd2d523a24209ea22b335"),
    "special_tokens_map.json": (112, "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3"),
    "tokenizer.json": (466247, "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"),
    "tokenizer_config.json": (350, "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b"),
    "vocab.txt": (231508, "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"),
}



@dataclass(frozen=True)
class HubFiles:
    """Where the six files lie on the Hugging Face hub: `paths` maps each installed name to its path in `repo`."""

    repo: str
    revision: str
    paths: dict[str, str] = field(default_factory=dict)

    def entries(self) -> list[CatalogEntry]:
        """One catalog entry per file (hub path, pinned size and SHA256), in FILES order, for local_models.pull."""
        return [CatalogEntry(name, self.repo, self.paths[name], revision=self.revision, size=size, sha256=sha256)
                for name, (size, sha256) in FILES.items()]


# The ONNX export lives under onnx/ in the sentence-transformers repo, the tokenizer and config at its root.
# "main", not a commit: no commit of that repo could be checked here; the pins refuse whatever changes.
HUB = HubFiles("sentence-transformers/all-MiniLM-L6-v2", "main",
               {name: f"onnx/{name}" if name == "model.onnx" else name for name in FILES})


def fetch_from_hub(report_for: Callable[[str], Reporter]) -> dict[str, Path]:
    """Download the six files with huggingface_hub (its cache, HF_HOME, HF_ENDPOINT, HF_HUB_OFFLINE apply),
    each verified against its pin; `report_for(name)` gives the reporter for one file's progress.

    Returns installed name -> verified file in the hub cache. A file the hub cannot serve is taken from
    the hub cache when an earlier pull left it there. Raises HubFailure when the hub (and its cache)
    cannot give a file, IntegrityError (exit 2) when one has other bytes than its pin (that file is
    deleted from the hub cache; nothing is installed by this function in any case).
    """
    got: dict[str, Path] = {}
    for item in HUB.entries():
        name = Path(item.file).name
        report = report_for(name)
        try:
            got[name] = from_hub(item, report).path
        except HubFailure as failure:
            hit = from_hub_cache(item, report)
            if hit is None:
                raise HubFailure(f"{item.repo}/{item.file}: {failure.reason}", failure.missing) from None
            report.note(f"hub: {failure.reason}; using the copy of {name} in the hub cache")
            got[name] = hit.path
    return got


def verify_folder(folder: Path, report: Reporter) -> None:
    """Check each of the six files in `folder`: ConfigError (exit 2) when one is missing,
    IntegrityError (exit 2) when one has other bytes than its pin."""
    for name, (size, sha256) in FILES.items():
        path = folder / name
        if not path.is_file():
            raise ConfigError(f"{path} is missing; the folder must hold {', '.join(FILES)}")
        check(str(path), path.stat().st_size, sha256_file(path, report, f"verifying {name}"), size, sha256)


def install(source: Path, dest: Path, report: Reporter) -> None:
    """Verify the files in `source`, then copy them into `dest` (each written beside and renamed into
    place, so a crash leaves a file old or whole). Nothing is copied when any file fails."""
    verify_folder(source, report)
    place({name: source / name for name in FILES}, dest)


def place(files: dict[str, Path], dest: Path) -> None:
    """Copy already verified files into `dest` under their names (each written beside and renamed into place)."""
    dest.mkdir(parents=True, exist_ok=True)
    for name, source in files.items():
        temporary = dest / f".{name}.part"
        shutil.copyfile(source, temporary)
        os.replace(temporary, dest / name)
