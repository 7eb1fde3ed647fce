"""The sandbox that shell and run_tests commands run in.

Linux: bubblewrap. The whole filesystem is mounted read-only except the workspace; the
workspace's `.git` and `.wren` stay read-only inside it; /tmp is a fresh tmpfs; /run (where
the sockets of D-Bus, systemd and Docker live, each a way out) is hidden; the interpreter and
toolchain prefixes under those two stay at their paths, read-only; the network, PIDs,
IPC and hostname are private namespaces; no capabilities; the command dies with Wren. Whether
it can start is probed once per process by starting it, since bwrap may be installed where
the kernel or a container refuses the user namespaces it needs.

macOS: sandbox-exec with an equivalent Seatbelt profile (writes only to the workspace, minus
`.git` and `.wren`, and to a private temporary directory given as TMPDIR; no network).
"""
from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal, Mapping

from wren.core.config import SandboxConfig
from wren.core.errors import ToolError

PROTECTED = (".git", ".wren")  # read-only inside the writable workspace
REPLACED = (Path("/tmp"), Path("/run"))  # empty in the sandbox: bwrap_args mounts a tmpfs on each
PROBE_TIMEOUT_S = 10
State = Literal["on", "off", "ask", "refuse"]

# Each write is allowed in one rule, the protected folders cut out of the workspace by require-not,
# so nothing depends on which of two conflicting rules Seatbelt applies.
SEATBELT_PROFILE = """(version 1)
(allow default)
(deny file-write*)
(allow file-write*
  (require-all (subpath (param "WORKSPACE"))
               (require-not (subpath (param "GIT_DIR")))
               (require-not (subpath (param "WREN_DIR"))))
  (subpath (param "TMP_DIR"))
  (literal "/dev/null") (literal "/dev/zero") (literal "/dev/dtracehelper")
  (regex #"^/dev/tty") (regex #"^/dev/fd/"))
"""
SEATBELT_NO_NETWORK = "(deny network*)\n"


@dataclass(frozen=True)
class Probe:
    backend: str  # "bwrap", "sandbox-exec", or "" where there is none
    program: str  # its path; "" when it was not found
    version: str
    reason: str   # why it cannot start here; "" when it can

    @property
    def works(self) -> bool:
        return not self.reason


def linked_git_dirs(root: Path) -> list[Path]:
    """The git directories a worktree's `.git` file names, when they lie outside the workspace: bound
    read-only so that git works in the sandbox even where they are under /tmp, which it replaces."""
    try:
        text = (root / ".git").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):  # a directory, or none
        return []
    if not text.startswith("gitdir:"):
        return []
    gitdir = (root / text.removeprefix("gitdir:").strip()).resolve()
    try:
        common = (gitdir / (gitdir / "commondir").read_text(encoding="utf-8").strip()).resolve()
    except (OSError, UnicodeDecodeError):
        common = gitdir
    dirs = [common] if gitdir.is_relative_to(common) else [common, gitdir]
    return [d for d in dirs if d.is_dir() and not d.is_relative_to(root)]


def _prefix(entry: str) -> Path | None:
    """The install prefix behind a PATH entry or prefix: `.../bin` stands for its parent, which holds the
    libraries the programs in it load; None for an entry that is not an existing absolute folder."""
    path = Path(entry)
    if not path.is_absolute() or not path.is_dir():
        return None
    if path.name in ("bin", "sbin") and path.parent not in REPLACED:
        return path.parent
    return path


# run_tests' pytest plugin (tools/tests.py), which the test command loads from Wren's own folder: bound
# read-only with the toolchain where it lies under a folder the sandbox replaces (a checkout under /tmp).
PLUGIN_DIR = Path(__file__).resolve().parent / "pytest_plugin"


def toolchain_dirs(root: Path | None, environ: Mapping[str, str] | None = None) -> list[tuple[Path, Path]]:
    """(source, path) binds that keep the interpreter and the toolchain at their own paths in the sandbox.

    The active virtualenv, this interpreter's prefixes and the prefixes that PATH points at would vanish
    where they lie under a folder the sandbox replaces (/tmp, /run): a checkout or virtualenv under /tmp
    could not run its own interpreter; so would run_tests' plugin (PLUGIN_DIR). Each such prefix, bar the
    replaced folder itself and those inside the
    workspace (bound writable anyway), is bound read-only; a symlinked one (NixOS's /run/current-system)
    from what it resolves to."""
    environ = os.environ if environ is None else environ
    entries = [environ.get("VIRTUAL_ENV", ""), sys.prefix, sys.exec_prefix, sys.base_prefix, str(PLUGIN_DIR),
               *environ.get("PATH", "").split(os.pathsep)]
    wanted: dict[Path, Path] = {}
    for entry in entries:
        path = _prefix(entry) if entry else None
        if path is None:
            continue
        path = Path(os.path.abspath(path))
        if path in REPLACED or not any(path.is_relative_to(r) for r in REPLACED):
            continue
        if root is not None and (path.is_relative_to(root) or path.is_relative_to(root.resolve())):
            continue
        wanted.setdefault(path, path.resolve())
    outermost = [p for p in wanted if not any(p != q and p.is_relative_to(q) for q in wanted)]
    return [(wanted[p], p) for p in sorted(outermost)]


def bwrap_args(program: str, root: Path | None, network: bool) -> list[str]:
    """bwrap and its options, up to the `--` before the command."""
    args = [program, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    if Path("/run").is_dir():
        args += ["--tmpfs", "/run"]
        resolver = Path("/etc/resolv.conf").resolve()
        if network and resolver.is_relative_to("/run"):  # systemd-resolved keeps it under /run
            args += ["--ro-bind", str(resolver.parent), str(resolver.parent)]
    for source, path in toolchain_dirs(root):  # before the workspace, which may lie inside one of them
        args += ["--ro-bind", str(source), str(path)]
    if root is not None:
        args += ["--bind", str(root), str(root)]
        # `.git` may be a file (a worktree's) or a link: what it resolves to is bound
        protected = [(root / name).resolve() for name in PROTECTED if (root / name).exists()]
        for path in protected + linked_git_dirs(root):
            args += ["--ro-bind", str(path), str(path)]
        args += ["--chdir", str(root)]
    args += ["--unshare-all", *(["--share-net"] if network else []), "--die-with-parent", "--new-session",
             "--setenv", "TMPDIR", "/tmp"]  # a TMPDIR outside the workspace would be read-only
    if os.geteuid() == 0:  # started by root, bwrap keeps every capability for the command
        args += ["--cap-drop", "ALL"]
    return args + ["--"]


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _probe_bwrap(name: str, network: bool) -> Probe:
    program = shutil.which(name)
    if not program:
        return Probe("bwrap", "", "", f"bubblewrap is not installed: {name} not found (install the bubblewrap "
                                      "package)")
    try:
        version = _first_line(subprocess.run([program, "--version"], capture_output=True, text=True,
                                             timeout=PROBE_TIMEOUT_S).stdout)
        done = subprocess.run(bwrap_args(program, None, network) + ["true"], cwd="/", stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=PROBE_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Probe("bwrap", program, "", f"{program} could not be run: {exc}")
    if done.returncode == 0:
        return Probe("bwrap", program, version, "")
    said = _first_line(done.stderr) or f"exit code {done.returncode}"
    if "namespace" not in said:
        said += "; the kernel or the container probably refuses unprivileged user namespaces"
    return Probe("bwrap", program, "", f"{program} cannot start a sandbox here: {said}")


def _probe_seatbelt() -> Probe:
    program = shutil.which("sandbox-exec")
    if not program:
        return Probe("sandbox-exec", "", "", "sandbox-exec is not available")
    try:
        done = subprocess.run([program, "-p", "(version 1)(allow default)", "/usr/bin/true"],
                              capture_output=True, text=True, timeout=PROBE_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Probe("sandbox-exec", program, "", f"{program} could not be run: {exc}")
    if done.returncode:
        return Probe("sandbox-exec", program, "", f"{program} cannot start a sandbox here: "
                                                  f"{_first_line(done.stderr) or done.returncode}")
    return Probe("sandbox-exec", program, "", "")


@functools.cache
def probe(bwrap: str = "bwrap", network: bool = False) -> Probe:
    """Whether this machine can sandbox commands; once per process and settings."""
    if sys.platform == "darwin":
        return _probe_seatbelt()
    if sys.platform.startswith("linux"):
        return _probe_bwrap(bwrap, network)
    return Probe("", "", "", f"no sandbox is available on {sys.platform}")


@functools.cache
def _seatbelt_tmp() -> str:
    path = tempfile.mkdtemp(prefix="wren-sandbox-")
    atexit.register(shutil.rmtree, path, True)
    return os.path.realpath(path)


def seatbelt_args(program: str, root: Path, network: bool) -> list[str]:
    """sandbox-exec, its profile and parameters, then TMPDIR pointing at the private temporary directory."""
    real, tmp = os.path.realpath(root), _seatbelt_tmp()
    profile = SEATBELT_PROFILE + ("" if network else SEATBELT_NO_NETWORK)
    params = {"WORKSPACE": real, "GIT_DIR": f"{real}/.git", "WREN_DIR": f"{real}/.wren", "TMP_DIR": tmp}
    defines = [arg for key, value in params.items() for arg in ("-D", f"{key}={value}")]
    return [program, "-p", profile, *defines, "/usr/bin/env", f"TMPDIR={tmp}/"]


class Sandbox:
    """One session's sandbox settings; says once, through `warn`, when commands cannot be sandboxed."""

    def __init__(self, config: SandboxConfig | None = None, warn: Callable[[str], None] | None = None) -> None:
        self.config = config or SandboxConfig()
        self._warn = warn
        self._warned = False

    def probe(self) -> Probe:
        return probe(self.config.bwrap, self.config.network)

    @property
    def state(self) -> State:
        """on: sandboxed; off: not, by choice; ask: unsandboxed after approval; refuse: not run."""
        if self.config.mode == "off":
            return "off"
        if self.probe().works:
            return "on"
        state: State = "refuse" if self.config.mode == "require" or self.config.fallback == "refuse" else "ask"
        if not self._warned and self._warn is not None:
            self._warned = True
            self._warn(self.notice(state))
        return state

    def notice(self, state: State) -> str:
        why = f"the command sandbox cannot start: {self.probe().reason}."
        if state == "refuse":
            setting = 'mode = "require"' if self.config.mode == "require" else 'fallback = "refuse"'
            return f"{why} Commands (shell, run_tests) are refused ([sandbox] {setting} in wren.toml)."
        return (f"{why} Commands (shell, run_tests) will run unsandboxed, each only after approval (headless "
                'runs deny them); set [sandbox] fallback = "refuse" in wren.toml to refuse them, or mode = "off" '
                "to run them unsandboxed without asking.")

    def approval_reason(self) -> str:
        """Why a command needs approval although the mode would allow it; "" when it does not."""
        if self.state != "ask":
            return ""
        return f"the command would run unsandboxed, since the sandbox cannot start: {self.probe().reason}"

    def wrap(self, argv: list[str], root: Path) -> list[str]:
        """argv to run in the sandbox (unchanged when unsandboxed); ToolError when commands are refused."""
        state = self.state
        if state == "refuse":
            raise ToolError(f"refused: {self.notice(state)}")
        if state != "on":
            return argv
        found = self.probe()
        if found.backend == "sandbox-exec":
            return seatbelt_args(found.program, root, self.config.network) + argv
        return bwrap_args(found.program, root, self.config.network) + argv
