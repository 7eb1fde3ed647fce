"""The packages type-check: mypy over every `wren.*` package (not tests/ or bench/), strict on agent/ and
protocol/, with the settings in pyproject.toml's [tool.mypy]. Among other things this checks every model
backend against the ModelBackend protocol wherever one is passed or returned as one.

The repository root is the `wren` package (pyproject's package-dir), and the editable install finds it
through an import hook that mypy cannot follow, so mypy gets a directory holding one link, `wren`, to the
root, on MYPYPATH. By hand, the same check with its full output: `.venv/bin/python tests/test_types.py`.
"""
from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def packages() -> dict[str, Path]:
    """The top-level `wren.*` packages that pyproject.toml installs, and their folders, so that a new one is
    checked too."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    dirs = config["tool"]["setuptools"]["package-dir"]
    return {name: ROOT / dirs[name] for name in sorted(dirs) if name.count(".") == 1}


def package_link() -> Path:
    """A directory outside the repository (a link inside it would loop file walks) whose `wren` is the root.

    Its path depends only on the root's, so mypy's cache (which records file paths) stays valid between runs.
    """
    base = Path(tempfile.gettempdir()) / f"wren-mypy-{hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]}"
    base.mkdir(exist_ok=True)
    link = base / "wren"
    if not (link.is_symlink() and Path(os.readlink(link)) == ROOT):
        spare = base / f"wren.{os.getpid()}"
        spare.unlink(missing_ok=True)
        spare.symlink_to(ROOT, target_is_directory=True)
        os.replace(spare, link)  # atomic, so two runs at once each see a whole link
    return base


def run_mypy(targets: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    """mypy's verdict on `targets` (files or options; default: every package), its file names relative to
    the root. With pyproject's settings; the cache is .mypy_cache (git-ignored), shared by every call."""
    base = package_link()
    command = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
               "--cache-dir", str(ROOT / ".mypy_cache"), "--no-color-output"]
    for package in packages() if targets is None else []:
        command += ["-p", package]
    command += targets or []
    env = {**os.environ, "MYPYPATH": str(base)}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    done.stdout = done.stdout.replace(f"{base}/wren/", "")
    return done


def test_packages_type_check() -> None:
    done = run_mypy()
    assert done.returncode == 0, f"mypy found errors (rc {done.returncode}):\n{done.stdout}{done.stderr}"
    # Nothing but the verdict (a note, such as an unused config section, fails too), over every module at
    # least: a package mypy could not see would leave its files out. (mypy counts a few more: namespaces.)
    verdict = re.fullmatch(r"Success: no issues found in (\d+) source files", done.stdout.strip())
    assert verdict, done.stdout + done.stderr
    files = sum(len(list(folder.rglob("*.py"))) for folder in packages().values())
    assert int(verdict.group(1)) >= files > 100


if __name__ == "__main__":
    result = run_mypy()
    sys.stdout.write(result.stdout + result.stderr)
    sys.exit(result.returncode)
