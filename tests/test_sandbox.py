"""The command sandbox on the real bwrap: what a command can and cannot touch, and what happens without it."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
from pathlib import Path

import pytest

from conftest import CALC, WREN, clean_env, free_port, git, needs_sandbox, wren, write_script
from test_session import drive, make_session
from wren.core.config import SandboxConfig
from wren.core.ops import ApprovalDecision
from wren.tools.base import ToolContext, default_registry
from wren.tools.sandbox import Sandbox, toolchain_dirs
from wren.tools.workspace import Workspace

REGISTRY = default_registry()
sandboxed = needs_sandbox()
linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the bwrap setting applies on Linux only")
MISSING_BWRAP = '[sandbox]\nbwrap = "/nonexistent/bwrap"\n'
READ_ONLY = "Read-only file system"


def run_tool(root: Path, name: str, config: SandboxConfig, **args):
    tool = REGISTRY.get(name)
    return tool.run(tool.args(**args), ToolContext(Workspace(root), sandbox=Sandbox(config)))


def sh(root: Path, command: str, **config):
    return run_tool(root, "shell", SandboxConfig(mode="require", **config), command=command)


@pytest.fixture
def outside():
    """A writable folder outside the workspace and outside /tmp (which the sandbox replaces)."""
    for parent in (Path.home(), Path("/var/tmp")):
        if parent.resolve().is_relative_to("/tmp"):  # a HOME under /tmp (the newcomer check's) is replaced too
            continue
        try:
            path = Path(tempfile.mkdtemp(prefix="wren-sandbox-test-", dir=parent))
            break
        except OSError:
            continue
    else:
        pytest.skip("no writable folder outside /tmp to try writing to")
    yield path
    shutil.rmtree(path)


@sandboxed
def test_the_workspace_is_writable_and_nothing_else(calc_repo, outside):
    stray = Path.home() / f"wren-sandbox-{uuid.uuid4().hex}"
    result = sh(calc_repo, f"echo made > made.txt && mkdir -p sub && echo deep > sub/f; echo x > {outside}/f; "
                           f"touch {stray}; echo end")
    assert result.ok and "end" in result.output
    assert (calc_repo / "made.txt").read_text() == "made\n" and (calc_repo / "sub" / "f").read_text() == "deep\n"
    assert not (outside / "f").exists() and not stray.exists()
    assert f"{outside}/f: {READ_ONLY}" in result.output


@sandboxed
def test_git_is_read_only(calc_repo):
    head = (calc_repo / ".git" / "HEAD").read_text()
    result = sh(calc_repo, "echo x > .git/HEAD; git -c user.email=t@e -c user.name=t commit -q --allow-empty -m sly; "
                           "rm -rf .git; mv .git moved; git status --short; echo end")
    assert (calc_repo / ".git" / "HEAD").read_text() == head
    assert git(calc_repo, "rev-list", "--count", "HEAD").strip() == "1"
    assert f".git/HEAD: {READ_ONLY}" in result.output and "end" in result.output
    assert not (calc_repo / "moved").exists()


@sandboxed
def test_a_worktree_keeps_git_working_and_read_only(calc_repo, tmp_path):
    tree = tmp_path / "tree"
    git(calc_repo, "worktree", "add", "-q", str(tree))
    link, gitdir = (tree / ".git").read_text(), calc_repo / ".git" / "worktrees" / "tree"
    head = (gitdir / "HEAD").read_text()
    result = sh(tree, "git status --short && echo status-ok; echo gitdir: /elsewhere > .git; "
                      f"echo x > {gitdir}/HEAD; echo note > note.txt")
    assert "status-ok" in result.output  # the main repository, also under /tmp, is there read-only
    assert (tree / ".git").read_text() == link and (gitdir / "HEAD").read_text() == head
    assert (tree / "note.txt").exists() and result.output.count(READ_ONLY) == 2


class Listener:
    """A TCP server on loopback that counts the connections it accepts."""

    def __init__(self) -> None:
        self.port, self.accepted = free_port(), 0
        self.sock = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()


@sandboxed
def test_no_network_unless_the_config_allows_it(tmp_path):
    listener = Listener()
    try:
        connect = f"exec 3<>/dev/tcp/127.0.0.1/{listener.port} && echo CONNECTED"
        denied = sh(tmp_path, connect)
        assert "\nCONNECTED" not in denied.output and denied.exit_code != 0 and listener.accepted == 0
        allowed = sh(tmp_path, connect, network=True)
        assert "\nCONNECTED" in allowed.output and listener.accepted == 1
    finally:
        listener.sock.close()


@sandboxed
def test_tmp_is_private(tmp_path):
    name = f"wren-sandbox-{uuid.uuid4().hex}"
    host = Path("/tmp") / f"{name}-host"
    host.write_text("written-outside")
    try:
        result = sh(tmp_path, f"echo written-inside > /tmp/{name} && cat /tmp/{name}; cat {host}")
    finally:
        host.unlink()
    assert "\nwritten-inside\n" in result.output and f"{host}: No such file" in result.output
    assert "written-outside" not in result.output
    assert not (Path("/tmp") / name).exists()


@pytest.fixture
def under_tmp():
    """A folder under /tmp itself, whatever TMPDIR says: the place the sandbox replaces."""
    path = Path(tempfile.mkdtemp(prefix="wren-sandbox-", dir="/tmp"))
    yield path
    shutil.rmtree(path)


@sandboxed
def test_a_virtualenv_and_a_workspace_under_tmp_keep_their_paths(under_tmp, monkeypatch):
    venv, work, secret = under_tmp / "venv", under_tmp / "work", under_tmp / "secret.txt"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    work.mkdir()
    secret.write_text("beside the virtualenv")
    monkeypatch.setenv("VIRTUAL_ENV", str(venv))
    monkeypatch.setenv("PATH", f"{venv}/bin:{os.environ['PATH']}")
    result = sh(work, "python -c 'import sys; print(sys.prefix)' > prefix.txt; "
                      f"touch {venv}/stray; cat {secret}; echo end")
    assert result.ok and "end" in result.output
    assert (work / "prefix.txt").read_text() == f"{venv}\n"  # the workspace under /tmp is writable
    assert f"touch: cannot touch '{venv}/stray': {READ_ONLY}" in result.output and not (venv / "stray").exists()
    assert f"{secret}: No such file" in result.output  # the rest of /tmp stays private


def test_only_the_prefixes_a_command_needs_are_bound(under_tmp):
    for name in ("tool/bin", "tool/lib", "ws/.venv/bin", "loose", "venv/bin"):
        (under_tmp / name).mkdir(parents=True)
    (under_tmp / "linked").symlink_to("/usr")  # as NixOS's /run/current-system/sw leads into /nix/store
    path = os.pathsep.join(["/tmp", f"{under_tmp}/tool/bin", f"{under_tmp}/linked/bin", f"{under_tmp}/ws/.venv/bin",
                            "relative/bin", f"{under_tmp}/loose", f"{under_tmp}/missing/bin", "/usr/bin"])
    binds = toolchain_dirs(under_tmp / "ws", {"PATH": path, "VIRTUAL_ENV": f"{under_tmp}/venv"})
    mine = [(source, target) for source, target in binds if target.is_relative_to(under_tmp)]
    assert mine == [(Path("/usr").resolve(), under_tmp / "linked"),
                    *((under_tmp / name, under_tmp / name) for name in ("loose", "tool", "venv"))]


def test_run_tests_plugin_is_bound_where_wren_lies_under_tmp(under_tmp, monkeypatch):
    # A checkout under /tmp (the newcomer check's fresh clone): its run_tests plugin vanished in the sandbox,
    # and pytest stopped at "Error importing plugin wren_test_limit".
    plugin = under_tmp / "wren" / "tools" / "pytest_plugin"
    plugin.mkdir(parents=True)
    monkeypatch.setattr("wren.tools.sandbox.PLUGIN_DIR", plugin)
    assert (plugin, plugin) in toolchain_dirs(under_tmp / "ws", {"PATH": "/usr/bin"})


@sandboxed
def test_run_tests_runs_in_the_sandbox(calc_repo):
    (calc_repo / "test_jail.py").write_text(
        "import pytest\n\n\ndef test_git_is_read_only():\n    with pytest.raises(OSError):\n"
        "        open('.git/planted', 'w')\n")
    result = run_tool(calc_repo, "run_tests", SandboxConfig(mode="require"), target="test_jail.py")
    assert result.ok and "1 passed" in result.output
    assert not (calc_repo / ".git" / "planted").exists()


@sandboxed
def test_wren_run_commands_run_in_the_sandbox(calc_repo, tmp_path, outside):
    command = f"echo ok > made.txt; echo x > .git/HEAD; echo x > {outside}/f; echo end"
    model = write_script(tmp_path / "s.json", [
        {"tool_calls": [{"name": "shell", "arguments": {"command": command}}]},
        {"content": "done", "expect": [f".git/HEAD: {READ_ONLY}", f"{outside}/f: {READ_ONLY}", "end"]},
    ])
    head = (calc_repo / ".git" / "HEAD").read_text()
    run = wren("run", "try", "--model", model, "--approval", "auto", "--output-format", "json", cwd=calc_repo)
    assert run.code == 0, run.stderr
    assert (calc_repo / "made.txt").read_text() == "ok\n" and (calc_repo / ".git" / "HEAD").read_text() == head
    assert not (outside / "f").exists() and "warning" not in run.stderr


def two_shell_calls(tmp_path: Path, expect: list[str]) -> str:
    call = {"name": "shell", "arguments": {"command": "echo ran > ran.txt"}}
    return write_script(tmp_path / "s.json", [{"tool_calls": [call]}, {"tool_calls": [call]},
                                              {"content": "gave up", "expect": expect}])


def warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("wren: warning:")]


@linux
def test_fallback_refuse_refuses_commands_and_says_so_once(calc_repo, tmp_path):
    (calc_repo / "wren.toml").write_text(MISSING_BWRAP + 'fallback = "refuse"\n')
    refused = "Error: refused: the command sandbox cannot start: bubblewrap is not installed"
    model = two_shell_calls(tmp_path, [refused])
    run = wren("run", "try", "--model", model, "--approval", "auto", "--output-format", "json", cwd=calc_repo)
    assert run.code == 0, run.stderr
    assert not (calc_repo / "ran.txt").exists()
    said = warnings(run.stderr)
    assert len(said) == 1, run.stderr
    assert "bubblewrap is not installed: /nonexistent/bwrap not found" in said[0]
    assert 'are refused ([sandbox] fallback = "refuse"' in said[0]


@linux
def test_fallback_ask_is_denied_headless(calc_repo, tmp_path):
    (calc_repo / "wren.toml").write_text(MISSING_BWRAP)
    model = two_shell_calls(tmp_path, ["Denied: the command would run unsandboxed, since the sandbox cannot start: "
                                       "bubblewrap is not installed"])
    run = wren("run", "try", "--model", model, "--approval", "auto", "--output-format", "json", cwd=calc_repo)
    assert run.code == 4 and run.json["status"] == "denied", run.stderr
    assert not (calc_repo / "ran.txt").exists()
    said = warnings(run.stderr)
    assert len(said) == 1 and "will run unsandboxed, each only after approval" in said[0], run.stderr


@linux
def test_fallback_ask_lets_an_allow_rule_stand_for_the_approval(calc_repo, tmp_path):
    """`shell(echo *)` allowed in config is a standing approval: it runs unsandboxed headless; the
    next command, which no rule allows, is still denied."""
    (calc_repo / "wren.toml").write_text(MISSING_BWRAP + '[policy]\nallow = ["shell(echo *)"]\n')
    model = write_script(tmp_path / "s.json", [
        {"tool_calls": [{"name": "shell", "arguments": {"command": "echo ran > ran.txt"}}]},
        {"tool_calls": [{"name": "shell", "arguments": {"command": "touch other.txt"}}]},
        {"content": "done", "expect": ["would run unsandboxed"]}])
    run = wren("run", "try", "--model", model, "--approval", "auto", "--output-format", "json", cwd=calc_repo)
    assert run.code == 4, run.stderr
    assert (calc_repo / "ran.txt").read_text() == "ran\n" and not (calc_repo / "other.txt").exists()


@linux
def test_fallback_ask_asks_even_in_auto_mode_then_runs_unsandboxed(calc_repo, tmp_path):
    call = {"name": "shell", "arguments": {"command": "echo ran > ran.txt"}}
    session = make_session(calc_repo, tmp_path, [{"tool_calls": [call]}, {"content": "done"}], mode="auto",
                           sandbox=SandboxConfig(bwrap="/nonexistent/bwrap"))
    events = drive(session, "run it", lambda e: ApprovalDecision(call_id=e.call_id, decision="allow_once"))
    kinds = [e.type for e in events]
    assert kinds.count("approval_requested") == 1 and kinds.index("error") < kinds.index("approval_requested")
    warning = next(e for e in events if e.type == "error")
    assert warning.kind == "warning" and not warning.fatal and "cannot start" in warning.message
    asked = next(e for e in events if e.type == "approval_requested")
    assert "the command would run unsandboxed" in asked.reason
    assert (calc_repo / "ran.txt").read_text() == "ran\n" and events[-1].status == "success"
    assert (calc_repo / "calc.py").read_text() == CALC


def test_mode_off_never_asks_nor_warns(tmp_path):
    sandbox = Sandbox(SandboxConfig(mode="off", bwrap="/nonexistent/bwrap"), warn=pytest.fail)
    assert sandbox.state == "off" and sandbox.approval_reason() == ""
    assert sandbox.wrap(["bash", "-c", "true"], tmp_path) == ["bash", "-c", "true"]


def refusing_user_namespaces(*argv: str) -> list[str]:
    """argv where the kernel refuses new user namespaces: one allowed in a namespace of our own, and used."""
    return ["unshare", "-Ur", "sh", "-c", 'echo 1 > /proc/sys/user/max_user_namespaces && exec unshare -U "$@"',
            "sh", *argv]


@linux
def test_doctor_reports_the_sandbox(calc_repo):
    doctor = wren("doctor", cwd=calc_repo)
    lines = {line[:15].strip(): line[15:] for line in doctor.stdout.splitlines()}
    assert lines["network"] == "off in the sandbox"
    if sandbox_reason := Sandbox().probe().reason:
        assert lines["sandbox works"].startswith(f"no: {sandbox_reason}")
    else:
        assert lines["sandbox"].startswith("bubblewrap ") and lines["sandbox works"].startswith("yes")

    (calc_repo / "wren.toml").write_text(MISSING_BWRAP + "network = true\n")
    lines = wren("doctor", cwd=calc_repo).stdout
    assert "sandbox works  no: bubblewrap is not installed: /nonexistent/bwrap not found" in lines
    assert "commands run unsandboxed after approval" in lines and "network        on in the sandbox" in lines


@linux
@sandboxed
def test_doctor_names_refused_user_namespaces(calc_repo):
    if subprocess.run(refusing_user_namespaces("true"), capture_output=True).returncode:
        pytest.skip("unshare cannot make a user namespace here to refuse the next one in")
    doctor = subprocess.run(refusing_user_namespaces(str(WREN), "doctor"), cwd=calc_repo, capture_output=True,
                            text=True, env=clean_env(), timeout=120)
    line = next(line for line in doctor.stdout.splitlines() if line.startswith("sandbox works"))
    assert line.startswith("sandbox works  no: ") and "cannot start a sandbox here" in line and "namespace" in line
