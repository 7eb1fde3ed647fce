"""Workspace rules, as properties: no generated path lets a tool read or write outside the root or in .git."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import git
from wren.agent.approval import Policy
from wren.tools.base import ToolContext, default_registry
from wren.core.errors import ToolError
from wren.tools.workspace import Workspace, looks_secret

OUTSIDE_MARK = "OUTSIDE-MARKER-7f3a"
GIT_MARK = "GIT-MARKER-51c2"
REGISTRY = default_registry()


def tree_digest(folder: Path) -> str:
    """Every path, link target and content under folder, hashed: any write shows."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in sorted(filenames + dirnames):
            path = Path(dirpath) / name
            h.update(str(path).encode())
            if path.is_symlink():
                h.update(os.readlink(path).encode())
            elif path.is_file():
                h.update(path.read_bytes())
    return h.hexdigest()


@pytest.fixture
def world(tmp_path_factory, monkeypatch):
    base = tmp_path_factory.mktemp("world")
    root, outside = base / "root", base / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.txt").write_text(OUTSIDE_MARK + "\n")
    (root / "sub" / "inside.txt").write_text("inside\n")
    git(root, "init", "-q")
    (root / ".git" / "marker").write_text(GIT_MARK + "\n")
    for name, target in [("out", outside), ("outfile", outside / "secret.txt"), ("gitlink", root / ".git"),
                         ("gitfile", root / ".git" / "marker"), ("in", root / "sub"), ("up", base)]:
        (root / name).symlink_to(target)
    (root / "loop1").symlink_to(root / "loop2")
    (root / "loop2").symlink_to(root / "loop1")
    monkeypatch.setenv("HOME", str(outside))  # '~' must lead somewhere we can watch
    return root, outside, base


SEGMENTS = st.sampled_from(["..", ".", "", ".git", ".GIT", ".Git", "out", "outfile", "gitlink", "gitfile", "in",
                            "up", "loop1", "sub", "inside.txt", "secret.txt", "marker", "config", "HEAD", "new",
                            "x" * 300, "é", "日本", "\u202e", " ", "..."])
NAMES = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"),
                min_size=1, max_size=40)


@st.composite
def paths(draw, root: Path, outside: Path, base: Path) -> str:
    parts = draw(st.lists(st.one_of(SEGMENTS, NAMES), min_size=1, max_size=8))
    prefix = draw(st.sampled_from(["", "", "/", f"{root}/", f"{outside}/", f"{base}/", "~/", "./", "//"]))
    if prefix == "/":
        prefix = f"{base}/../"  # an absolute path, without writing into the real /
    return prefix + "/".join(parts)


def run_tool(name: str, ctx: ToolContext, **args) -> str:
    tool = REGISTRY.get(name)
    try:
        return tool.run(tool.args(**args), ctx).output
    except (ToolError, OSError) as exc:  # refused, or the file system said no: both leave things as they were
        return str(exc)


def check_path(world, path: str) -> None:
    root, outside, base = world
    before = tree_digest(outside), tree_digest(root / ".git"), sorted(p.name for p in base.iterdir())
    ctx = ToolContext(Workspace(root))
    seen = [run_tool("read_file", ctx, path=path), run_tool("list_files", ctx, path=path),
            run_tool("grep", ctx, pattern="MARKER", path=path)]
    run_tool("write_file", ctx, path=path, content="written")
    seen.append(run_tool("edit_file", ctx, path=path, old="inside", new="edited"))
    seen.append(run_tool("edit_file", ctx, path=path, old="MARKER", new="edited"))
    after = tree_digest(outside), tree_digest(root / ".git"), sorted(p.name for p in base.iterdir())
    assert after == before, f"{path!r} changed something outside the workspace or in .git"
    for text in seen:
        assert OUTSIDE_MARK not in text and GIT_MARK not in text, f"{path!r} read outside or in .git: {text[:200]}"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_generated_path_escapes(world, data):
    root, outside, base = world
    check_path(world, data.draw(paths(root, outside, base)))


@pytest.mark.parametrize("path", ["../outside/secret.txt", "out/secret.txt", "outfile", "up/outside/secret.txt",
                                  "gitlink/marker", "gitfile", ".git/marker", ".GIT/marker", "sub/../../outside/x",
                                  "loop1/../../outside/secret.txt", "~/secret.txt", "in/../../outside/secret.txt"])
def test_known_escapes_are_refused_with_a_hint(world, path):
    root, _, _ = world
    with pytest.raises(ToolError) as refused:
        Workspace(root).resolve(path, write=True)
    message = str(refused.value)
    assert "outside the workspace" in message or ".git" in message or "symlink loop" in message
    check_path(world, path)


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(max_size=300), st.lists(st.one_of(SEGMENTS, NAMES), max_size=6).map("/".join)))
def test_resolve_stays_inside_or_refuses(tmp_path_factory, text):
    root = tmp_path_factory.getbasetemp() / "resolve-root"
    root.mkdir(exist_ok=True)
    ws = Workspace(root)
    try:
        resolved = ws.resolve(text, write=True)
    except ToolError:
        return
    assert resolved == ws.root or ws.root in resolved.parents
    assert ".git" not in [p.casefold() for p in resolved.relative_to(ws.root).parts]


def test_paths_inside_work(world):
    root, _, _ = world
    ws = Workspace(root)
    assert ws.resolve("sub/inside.txt") == root.resolve() / "sub" / "inside.txt"
    assert ws.resolve(f"{root}/sub/./inside.txt") == root.resolve() / "sub" / "inside.txt"
    assert ws.resolve("in/inside.txt") == root.resolve() / "sub" / "inside.txt"  # a link that stays inside
    assert ws.resolve("sub/../new/file.txt", write=True) == root.resolve() / "new" / "file.txt"


def test_wren_state_is_never_written(world):
    root, _, _ = world
    with pytest.raises(ToolError, match="session logs"):
        Workspace(root).resolve(".wren/sessions/x.jsonl", write=True)


@pytest.mark.parametrize("path,secret", [(".env", True), ("config/.env.production", True), ("prod.env", True),
                                         ("id_rsa", True), ("keys/server.pem", True), ("tls.key", True),
                                         (".env.example", False), ("id_rsa.pub", False), ("env.py", False),
                                         ("src/keyboard.py", False), ("README.md", False)])
def test_secret_names(path, secret):
    assert looks_secret(path) is secret


@pytest.mark.parametrize("mode", ["read-only", "ask", "auto-edit", "auto"])
def test_secret_reads_ask_in_every_mode_but_auto(mode):
    read = REGISTRY.get("read_file")
    verdict, reason = Policy(mode=mode, always={"read_file"}).decide(read, read.args(path="deploy/.env"))
    assert verdict == ("allow" if mode == "auto" else "ask")
    if mode != "auto":
        assert ".env" in reason and "secret" in reason
    assert Policy(mode=mode).decide(read, read.args(path="calc.py"))[0] == "allow"
