"""Checking model bytes: size and SHA256 against what the catalog (or the hub's LFS etag) says."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Protocol

from wren.core.errors import ExitCode, WrenError

CHUNK = 1 << 20  # 1 MiB reads: hashing runs at disk speed without holding a large buffer


class Reporter(Protocol):
    """Where a pull tells people what it does: one-line notes, and byte (or part) counts for a progress bar."""

    def note(self, text: str) -> None: ...

    def progress(self, label: str, done: int, total: int | None, unit: str = "B") -> None: ...


class IntegrityError(WrenError):
    """Downloaded bytes are not the expected ones: refused, never registered (exit 2)."""

    exit_code = ExitCode.USAGE
    kind = "integrity"


def sha256_file(path: Path, report: Reporter, label: str = "verifying") -> str:
    """Hex SHA256 of a file, reporting bytes hashed as it goes."""
    digest, done, total = hashlib.sha256(), 0, path.stat().st_size
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            done += len(chunk)
            report.progress(label, done, total)
    return digest.hexdigest()


def check(what: str, size: int, sha256: str, want_size: int | None, want_sha256: str | None) -> None:
    """Raise IntegrityError naming `what` when the size or digest differs from a known expected value."""
    if want_size is not None and size != want_size:
        raise IntegrityError(f"{what} is {size:,} bytes, expected {want_size:,}; refused")
    if want_sha256 is not None and sha256 != want_sha256.lower():
        raise IntegrityError(f"{what} has SHA256 {sha256}, expected {want_sha256}; refused")
