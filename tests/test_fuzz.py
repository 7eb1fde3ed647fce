"""Fuzzing the parts that take untrusted input: edits, paths, the ACP line reader and config files.

Each property runs a few thousand generated examples: the code under test answers with a result or
with its own error type, never with another exception. Inputs that once failed a property stay as
@example regressions: the product's fix, or what the property learnt to allow.
"""
from __future__ import annotations

import asyncio
import io
import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from wren.core.config import Config, load_config
from wren.core.errors import ConfigError
from wren.protocol.framing import GuardedTransport, Stdio, check
from wren.tools.base import ToolContext, default_registry
from wren.core.errors import ToolError
from wren.tools.matching import apply, find
from wren.tools.workspace import PathRefused, Workspace

FUZZ = settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                         HealthCheck.too_slow])
REGISTRY = default_registry()
SCRATCH = Path("/dev/shm") if os.access("/dev/shm", os.W_OK) else None

# ---- the edit matcher -------------------------------------------------------------------------------

INDENT = st.sampled_from(["", "", " ", "  ", "    ", "\t", "\t\t", " \t", "        "])
WORDS = st.sampled_from(["x = 1", "return a - b", "def f(a, b):", "if x:", "pass", "# note", "}", "{", "é",
                         "日本", "\u2028", "a  b", "", " ", "\r", "\x00", "\ufeff", "\u0085", "\f"])
LINE = st.one_of(st.tuples(INDENT, WORDS).map("".join), st.text(max_size=12))
LINES = st.lists(LINE, max_size=14)


@st.composite
def edits(draw) -> tuple[str, str, str]:
    """A text, an `old` (often taken from the text, maybe re-indented) and a `new`."""
    lines = draw(LINES)
    text = draw(st.sampled_from(["\n", "\r\n"])).join(lines) + draw(st.sampled_from(["", "\n"]))
    how = draw(st.sampled_from(["slice", "lines", "reindented", "random"]))
    if how == "slice" and text:
        i = draw(st.integers(0, len(text) - 1))
        old = text[i: i + draw(st.integers(1, 40))]
    elif how in ("lines", "reindented") and lines:
        i = draw(st.integers(0, len(lines) - 1))
        chosen = lines[i: i + draw(st.integers(1, 4))]
        if how == "reindented":
            chosen = [draw(INDENT) + line.lstrip(" \t") for line in chosen]
        old = "\n".join(chosen) + draw(st.sampled_from(["", "\n"]))
    else:
        old = draw(st.text(max_size=30))
    new = draw(st.one_of(LINES.map("\n".join), st.text(max_size=30)))
    return text, old, new


def _visible(text: str) -> list[str]:
    """The lines of `text` without their indentation: what re-indenting keeps."""
    return [line.lstrip(" \t") for line in text.split("\n")]


@FUZZ
@given(edit=edits(), replace_all=st.booleans())
def test_matcher_applies_new_or_refuses(edit, replace_all):
    text, old, new = edit
    text = text.replace("\r\n", "\n")  # as TextFile hands it over
    try:
        matches = find(text, old, new, replace_all)
    except ToolError:
        return
    assert matches and (replace_all or len(matches) == 1)
    spans = sorted((m.start, m.end) for m in matches)
    assert all(0 <= a <= b <= len(text) for a, b in spans)
    assert all(b <= c for (_, b), (c, _) in zip(spans, spans[1:])), "matches overlap"
    result = apply(text, matches)
    for m in matches:
        if m.stage == "exact":
            assert text[m.start: m.end] == old
        assert m.new in result
        # Tolerant matches re-indent `new` and may drop blank edge lines; the rest is what the model asked for.
        assert "\n".join(_visible(m.new)) in "\n".join(_visible(new))


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Iterator[Path]:
    """A folder on tmpfs where there is one: thousands of small writes and fsyncs cost next to nothing there."""
    if SCRATCH is None:
        yield tmp_path_factory.mktemp("fuzz")
        return
    base = Path(tempfile.mkdtemp(dir=SCRATCH, prefix="wren-fuzz-"))
    yield base
    shutil.rmtree(base)


@pytest.fixture(scope="module")
def edit_root(scratch) -> Path:
    (scratch / "edits" / "root").mkdir(parents=True)
    (scratch / "edits" / "outside.txt").write_text("outside\n")
    return scratch / "edits"


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


ENCODINGS = st.sampled_from([("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"), ("utf-16-le", b"\xff\xfe"),
                             ("latin-1", b"")])


@FUZZ
@given(edit=edits(), replace_all=st.booleans(), encoding=ENCODINGS, junk=st.binary(max_size=8),
       path=st.sampled_from(["f.txt", "sub/f.txt", "./f.txt", "sub/../f.txt", "../outside.txt", "f.txt/"]))
@example(edit=("x = 1\nx = 1", "x = 1\nx = 1\n", "x = 1\nx = 1"), replace_all=False, encoding=("utf-8", b""),
         junk=b"", path="f.txt")  # old and new differ only in a final newline the file lacks: no change
@example(edit=("\n0\r\n", " \n0", "\n0"), replace_all=False, encoding=("utf-8", b""), junk=b"",
         path="f.txt")  # no text changes, but the touched line takes the file's usual line ending
def test_edit_file_tool_writes_the_file_or_nothing(edit_root, edit, replace_all, encoding, junk, path):
    text, old, new = edit
    root = edit_root / "root"
    for stale in root.rglob("*"):
        if stale.is_file():
            stale.unlink()
    name, bom = encoding
    try:
        data = bom + text.encode(name)
    except UnicodeEncodeError:
        data = text.encode("utf-8", "surrogatepass")
    data += junk if name == "latin-1" else b""
    (root / "sub").mkdir(exist_ok=True)
    (root / "f.txt").write_bytes(data)
    (root / "sub" / "f.txt").write_bytes(data)
    before, outside = _tree(root), (edit_root / "outside.txt").read_bytes()
    tool = REGISTRY.get("edit_file")
    try:
        result = tool.run(tool.args(path=path, old=old, new=new, replace_all=replace_all),
                          ToolContext(Workspace(root)))
    except ToolError:
        assert _tree(root) == before, "a refused edit changed something"
    else:
        after = _tree(root)
        changed = [k for k in after if after[k] != before.get(k)]
        assert set(after) == set(before) and changed in ([], result.files_changed), "an edit changed another file"
        # An edit that changes no text may still give the line it touched the file's usual line ending.
        assert result.output.startswith("Edited") and (changed or not result.diff)
    assert (edit_root / "outside.txt").read_bytes() == outside


# ---- path resolution --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[tuple[Path, Path]]:
    """A root with links that stay inside, leave it, loop, or lead into .git; and a folder beside it."""
    base = tmp_path_factory.mktemp("paths")
    root, outside = base / "root", base / "outside"
    for folder in (root / "sub" / "deep", root / ".git", root / ".wren", outside):
        folder.mkdir(parents=True)
    links = {"in": root / "sub", "out": outside, "up": base, "gitlink": root / ".git", "self": root,
             "loop1": root / "loop2", "loop2": root / "loop1", "dangling": root / "nowhere" / "x",
             "sub/deep/back": Path("../../.."), "sub/escape": Path("../../outside")}
    for name, target in links.items():
        (root / name).symlink_to(target)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(outside))  # '~' leads somewhere known
        yield root, outside


SEGMENT = st.sampled_from(["..", ".", "", ".git", ".GIT", ".wren", "in", "out", "up", "gitlink", "self", "loop1",
                           "dangling", "sub", "deep", "back", "escape", "new.txt", "~", "~root", "é", "日本",
                           "\u202e", " ", "...", "\x00", "a\x00b", "\udcff", "\ud800", "x" * 300, "\\", "C:"])
PATHS = st.one_of(
    st.text(max_size=60),
    st.text(alphabet=st.characters(blacklist_categories=()), max_size=60),  # lone surrogates too
    st.tuples(st.sampled_from(["", "", "/", "./", "~/", "//", "ROOT/", "OUTSIDE/"]),
              st.lists(st.one_of(SEGMENT, st.text(max_size=8)), min_size=1, max_size=8).map("/".join))
    .map("".join),
)


@FUZZ
@given(path=PATHS, write=st.booleans())
def test_paths_resolve_inside_or_are_refused(world, path, write):
    root, outside = world
    path = path.replace("ROOT/", f"{root}/").replace("OUTSIDE/", f"{outside}/")
    ws = Workspace(root)
    try:
        resolved = ws.resolve(path, write=write)
    except PathRefused:
        return
    assert resolved == ws.root or ws.root in resolved.parents, f"{path!r} resolved to {resolved}"
    parts = [p.casefold() for p in resolved.relative_to(ws.root).parts]
    assert ".git" not in parts
    assert not (write and parts[:1] == [".wren"])
    assert ws.rel(resolved)  # and the tools can name it


# ---- the ACP line reader ----------------------------------------------------------------------------

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                    max_leaves=5)
RPC = st.dictionaries(st.sampled_from(["jsonrpc", "id", "method", "params", "result", "error"]),
                      st.one_of(st.just("2.0"), st.sampled_from(["session/cancel", "_x", "initialize", "a/b"]),
                                JSON), max_size=6)


def _json_line(value, ascii_only: bool) -> bytes:
    """JSON text with \\u escapes, or with raw characters (and lone surrogates as they come)."""
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


def _repeated(text: str, times: int) -> bytes:
    return (text * times).encode("utf-8", "surrogatepass")


LINE_BYTES = st.one_of(
    st.binary(max_size=60),
    st.builds(_json_line, st.one_of(RPC, JSON), st.booleans()),
    st.builds(_repeated, st.sampled_from(["[", "{\"a\":", "[{\"id\":"]), st.integers(0, 5000)),
)


async def _read_all(data: bytes) -> tuple[list[dict], bytes]:
    writer = io.BytesIO()
    transport = GuardedTransport(Stdio(io.BytesIO(data), writer))
    received = []
    while (message := await transport.receive()) is not None:
        received.append(message)
    return received, writer.getvalue()


@FUZZ
@given(lines=st.lists(LINE_BYTES, max_size=3), end=st.sampled_from([b"\n", b"\r\n", b""]))
@example(lines=[b"[" * 5000], end=b"\n")  # json.loads raised RecursionError through the reader
@example(lines=[b'{"jsonrpc": "1.0", "id": "\\ud800"}'], end=b"\n")  # the reply's id could not be UTF-8
def test_acp_line_reader_answers_or_passes_on_every_line(lines, end):
    data = b"\n".join(lines) + end
    received, written = asyncio.run(_read_all(data))
    for message in received:
        assert isinstance(message, dict) and check(message) is None
    replies = written.decode("utf-8").splitlines()  # what the editor reads: UTF-8, one message a line
    assert len(received) + len(replies) <= len([line for line in data.split(b"\n") if line.strip()])
    for reply in replies:
        error = json.loads(reply)["error"]
        assert error["code"] in (-32700, -32600) and error["message"]


# ---- config files -----------------------------------------------------------------------------------

def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON's escapes are TOML's, but for lone surrogates, which TOML refuses
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"


def _toml(table: dict) -> bytes:
    return "".join(f"{json.dumps(k)} = {_toml_value(v)}\n" for k, v in table.items()).encode("utf-8", "surrogatepass")


KEYS = st.sampled_from(["model", "api_base", "approval", "test_command", "local", "context", "mcp", "embeddings",
                        "chroma", "servers", "n_ctx", "threads", "models", "compact_at", "window", "command",
                        "args", "env", "url", "headers", "host", "port", "ssl", "gh", "other"])
SCALARS = st.one_of(st.booleans(), st.integers(), st.integers(-2**70, 2**70),
                    st.floats(), st.text(max_size=12), st.sampled_from(["ask", "auto", "read-only", "local"]))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=4),
                      max_leaves=6)
CONFIG_TEXT = st.one_of(
    st.builds(_toml, st.dictionaries(KEYS, VALUES, max_size=4)),
    st.builds(_repeated, st.text(max_size=80), st.just(1)),
    st.binary(max_size=80),
    st.builds(bytes.__add__, st.sampled_from([b"a = ", b"[mcp.servers.x]\nargs = ", b"local = "]),
              st.builds(_repeated, st.sampled_from(["[", "{b="]), st.integers(0, 1200))),
)


@FUZZ
@given(workspace=CONFIG_TEXT, user=st.one_of(st.none(), CONFIG_TEXT))
@example(workspace=b"a = " + b"[" * 3000, user=None)  # tomllib raised RecursionError through load_config
def test_config_loads_or_says_what_is_wrong(scratch, monkeypatch, workspace, user):
    base = scratch / "config"
    (base / "root").mkdir(parents=True, exist_ok=True)
    (base / "xdg" / "wren").mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(base / "xdg"))
    (base / "root" / "wren.toml").write_bytes(workspace)
    user_file = base / "xdg" / "wren" / "config.toml"
    user_file.unlink(missing_ok=True)
    if user is not None:
        user_file.write_bytes(user)
    try:
        config = load_config(base / "root")
    except ConfigError as exc:
        assert exc.message and exc.exit_code == 2
        return
    assert isinstance(config, Config)
