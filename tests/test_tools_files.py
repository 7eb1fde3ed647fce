"""read_file, list_files and grep on real trees; grep gives the same results with ripgrep and with `re`."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import git
from wren.tools import search
from wren.tools.base import ToolContext, default_registry
from wren.core.errors import ToolError
from wren.core.globs import compile_glob
from wren.tools.workspace import Workspace

REGISTRY = default_registry()
needs_rg = pytest.mark.skipif(shutil.which("rg") is None,
                              reason="ripgrep (rg) is not on PATH, so there is no second backend to compare; "
                                     ".ci/setup installs it")


def call(root: Path, name: str, **args) -> str:
    tool = REGISTRY.get(name)
    return tool.run(tool.args(**args), ToolContext(Workspace(root))).output


def python_grep(monkeypatch, root: Path, **args) -> str:
    with monkeypatch.context() as m:
        m.setattr(search, "ripgrep", lambda: None)
        return call(root, "grep", **args)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    files = {
        "src/app.py": "import os\nimport sys\n\ndef main():\n    print('héllo')  # TODO\n    return 0\n",
        "src/util/helpers.py": "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b",
        "src/-dash.py": "x = 1\n",
        "docs/read me.txt": "Some docs\nwith TODO items\n\n\nand blank lines\n",
        "docs/win.txt": "crlf line\r\nsecond line\r\n",
        "notes.md": "".join(f"line {i} TODO\n" for i in range(300)),
        "empty.py": "",
        "build/out.txt": "TODO ignored build output\n",
        "kept.log": "TODO tracked although ignored\n",
        "node_modules/pkg/index.js": "TODO vendored\n",
        ".env": "TOKEN=TODO-secret\n",
        "utf.txt": "日本語 TODO ünïcödé\n",
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(text.encode())
    (root / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00TODO")
    (root / ".gitignore").write_text("build/\n*.log\n")
    git(root, "init", "-q")
    git(root, "add", "src", "docs", ".gitignore")
    git(root, "add", "-f", "kept.log")
    (root / "src" / "link.py").symlink_to(tmp_path)  # a link to a folder outside: never listed
    return root


def test_list_files_is_tracked_plus_untracked_not_ignored(tree):
    listed = call(tree, "list_files").splitlines()
    assert "kept.log" in listed and "notes.md" in listed and "src/util/helpers.py" in listed
    assert not any(p.startswith(("build/", "node_modules/", ".git/")) for p in listed)
    assert ".env" in listed  # names are not secret; contents are
    assert call(tree, "list_files", pattern="*.py").splitlines() == [
        "empty.py", "src/-dash.py", "src/app.py", "src/util/helpers.py"]
    assert call(tree, "list_files", path="src", pattern="src/**/*.py").splitlines() == [
        "src/-dash.py", "src/app.py", "src/util/helpers.py"]


def test_list_files_honours_gitignore_outside_a_repository(tmp_path):
    (tmp_path / "a.py").write_text("a\n")
    (tmp_path / "skip.tmp").write_text("b\n")
    (tmp_path / ".gitignore").write_text("*.tmp\n")
    assert call(tmp_path, "list_files").splitlines() == [".gitignore", "a.py"]


def test_list_files_caps_with_a_hint(tmp_path):
    for i in range(1500):
        (tmp_path / f"file_{i:04}.txt").write_text("")
    out = call(tmp_path, "list_files")
    assert "file_0000.txt" in out and "of 1500 files shown; narrow with path or pattern" in out


def test_read_file_numbers_ranges_and_hints(tree):
    assert call(tree, "read_file", path="src/app.py", start_line=4, end_line=5) == (
        "     4\tdef main():\n     5\t    print('héllo')  # TODO")
    assert call(tree, "read_file", path="docs/win.txt") == "     1\tcrlf line\n     2\tsecond line"
    whole = call(tree, "read_file", path="notes.md")
    assert whole.startswith("     1\tline 0 TODO") and "   300\tline 299 TODO" in whole
    assert call(tree, "read_file", path="empty.py") == "(empty file)"
    with pytest.raises(ToolError, match="binary"):
        call(tree, "read_file", path="image.png")
    with pytest.raises(ToolError, match="list_files"):
        call(tree, "read_file", path="missing.py")
    with pytest.raises(ToolError, match="has 6 lines"):
        call(tree, "read_file", path="src/app.py", start_line=9)


def test_read_file_caps_long_files_and_huge_files(tmp_path):
    (tmp_path / "long.txt").write_text("".join(f"{'x' * 70} {i}\n" for i in range(5000)))
    out = call(tmp_path, "read_file", path="long.txt")
    assert out.startswith("     1\t") and "read_file with start_line=" in out
    shown = int(out.rsplit("start_line=", 1)[1].split()[0]) - 1
    assert f"shown lines 1-{shown} of 5000" in out
    assert call(tmp_path, "read_file", path="long.txt", start_line=4999).splitlines()[-1].endswith("x 4999")
    (tmp_path / "huge.txt").write_bytes(b"y" * 100 + b"\n" * 3_000_000)
    with pytest.raises(ToolError, match="read a range with start_line"):
        call(tmp_path, "read_file", path="huge.txt")
    assert call(tmp_path, "read_file", path="huge.txt", start_line=1, end_line=1) == "     1\t" + "y" * 100


def test_a_small_room_pages_reads_listings_and_matches_instead_of_cutting_them(tmp_path):
    from wren.tools.base import default_registry

    (tmp_path / "long.txt").write_text("".join(f"{'x' * 30} {i}\n" for i in range(200)))
    tools, ctx = default_registry(), ToolContext(Workspace(tmp_path), room=1500)
    read = tools.get("read_file")
    out = read.run(read.args(path="long.txt"), ctx).output
    assert len(out) <= 1500 and "cut" not in out  # paged by read_file, not cut in the middle by the cap
    last = int(out.rsplit("start_line=", 1)[1].split()[0]) - 1
    assert f"[shown lines 1-{last} of 200; read_file with start_line={last + 1} for more]" in out
    grep = tools.get("grep")
    out = grep.run(grep.args(pattern="x+ 1"), ctx).output
    assert len(out) <= 1500 and out.startswith("long.txt:2:")


def test_grep_filters_context_and_secrets(tree, monkeypatch):
    out = call(tree, "grep", pattern="TODO", path="src")
    assert out.splitlines() == ["src/app.py:5:    print('héllo')  # TODO"]
    out = call(tree, "grep", pattern="return", glob="**/util/*.py", context=1)
    assert out.splitlines() == ["src/util/helpers.py:1:def add(a, b):".replace(":1:", "-1-"),
                                "src/util/helpers.py:2:    return a + b", "src/util/helpers.py-3-", "--",
                                "src/util/helpers.py-5-def sub(a, b):", "src/util/helpers.py:6:    return a - b"]
    everything = call(tree, "grep", pattern="TODO")
    assert "TODO-secret" not in everything and "not searched, as they look like secrets: .env" in everything
    assert "build/out.txt" not in everything and "kept.log:1:" in everything and "image.png" not in everything
    assert "showing the first 200 matches" in everything


GREP_CASES = [
    ("TODO", ".", None, 0), ("^import", ".", None, 0), ("^$", ".", None, 1), (r"\breturn\b", "src", None, 2),
    ("ünï|日本", ".", None, 0), ("line$", ".", "*.txt", 0), (r"a [+-] b", ".", "src/**", 3),
    ("(?<=de)f", ".", None, 0),
    ("nothing-matches-this", ".", None, 0), ("x*", "docs", None, 0), ("e", "notes.md", None, 0),
]


@needs_rg
@pytest.mark.parametrize("pattern,path,glob,context", GREP_CASES)
def test_grep_ripgrep_and_python_agree(tree, monkeypatch, pattern, path, glob, context):
    args = dict(pattern=pattern, path=path, glob=glob, context=context)
    assert call(tree, "grep", **args) == python_grep(monkeypatch, tree, **args)


@needs_rg
def test_ripgrep_is_really_used_when_present(tree):
    root = Workspace(tree).root
    files, _ = search.candidates(ToolContext(Workspace(tree)), root, None)
    assert search.rg_search(shutil.which("rg"), root, files, "import", 200)
    assert [(c.rel, c.lines) for c in files if c.lines] == [("src/app.py", [1, 2])]
    assert not search.rg_search(shutil.which("rg"), root, files, "(?<=de)f", 200)  # then Python answers


LINES = st.lists(st.text(alphabet="ab \t-_é.x\r", max_size=12), max_size=12)
PATTERNS = st.sampled_from(["a", "ab", "^a", "b$", "a.b", "x+", r"\s", "é", "[ab]{2}", "^$", "-", r"\.", "a|x"])


@needs_rg
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=st.lists(LINES, min_size=1, max_size=4), pattern=PATTERNS, context=st.integers(0, 2))
def test_grep_parity_on_generated_trees(tmp_path_factory, monkeypatch, files, pattern, context):
    root = tmp_path_factory.mktemp("gen")
    for i, lines in enumerate(files):
        (root / f"f{i}.txt").write_text("\n".join(lines), newline="")
    assert call(root, "grep", pattern=pattern, context=context) == python_grep(
        monkeypatch, root, pattern=pattern, context=context)


@pytest.mark.parametrize("pattern,path,expected", [
    ("*.py", "a/b/c.py", True), ("*.py", "c.pyc", False), ("src/*.py", "src/a.py", True),
    ("src/*.py", "src/x/a.py", False), ("src/**/*.py", "src/a.py", True), ("src/**/*.py", "src/x/y/a.py", True),
    ("docs", "docs/x/readme.md", True), ("*.{py,ts}", "x/y.ts", True), ("te?t.py", "test.py", True),
    ("[!a]*.py", "a.py", False), ("/top.py", "top.py", True), ("/top.py", "x/top.py", False),
])
def test_globs(pattern, path, expected):
    assert compile_glob(pattern)(path) is expected


@pytest.mark.parametrize("use_rg", [True, False])
def test_grep_falls_back_to_the_literal_text(tmp_path, monkeypatch, use_rg):
    # A line pasted from read_file: as a regex the parentheses make it miss (a real model did this 17 times).
    (tmp_path / "gcd.py").write_text("def gcd(a, b):\n    return gcd(a % b, b)\n")
    if not use_rg:
        monkeypatch.setattr(search, "ripgrep", lambda: None)
    out = call(tmp_path, "grep", pattern="return gcd(a % b, b)")
    assert out.splitlines() == ["gcd.py:2:    return gcd(a % b, b)",
                                "[searched for the pattern as plain text: as a regular expression it matched nothing]"]
    out = call(tmp_path, "grep", pattern="gcd(a, b")  # not a valid regex at all
    assert out.splitlines()[0] == "gcd.py:1:def gcd(a, b):" and "not a valid regular expression" in out
    assert call(tmp_path, "grep", pattern="a.b", literal=True) == "(no matches)"
    assert call(tmp_path, "grep", pattern="g.d").count("gcd.py:") == 2  # a regex that matches stays a regex
    out = call(tmp_path, "grep", pattern="lcm(a, b)")
    assert out.startswith("(no matches)") and "plain text" in out


@pytest.mark.parametrize("use_rg", [True, False])
def test_grep_ignores_case_when_nothing_matches_as_given(tmp_path, monkeypatch, use_rg):
    # Qwen grepped `exit_codes` three times in a repository that defines EXIT_CODES.
    (tmp_path / "codes.py").write_text("EXIT_CODES = {0: 'ok'}\nexit_codes_seen = 1\nExitCode = int\n")
    if not use_rg:
        monkeypatch.setattr(search, "ripgrep", lambda: None)
    assert call(tmp_path, "grep", pattern="exit_codes") == "codes.py:2:exit_codes_seen = 1"  # a match as given wins
    (tmp_path / "codes.py").write_text("EXIT_CODES = {0: 'ok'}\nExitCode = int\n")
    assert call(tmp_path, "grep", pattern="exit_codes").splitlines() == [
        "codes.py:1:EXIT_CODES = {0: 'ok'}", "[no line matched with that case; these lines match it ignoring case]"]
    assert call(tmp_path, "grep", pattern="exit.?code ").startswith("codes.py:2:ExitCode = int")  # regexes too
    out = call(tmp_path, "grep", pattern="(?i)nothing here")
    assert out.startswith("(no matches)") and "ignoring case" not in out


@pytest.mark.parametrize("use_rg", [True, False])
def test_grep_searches_past_a_glob_that_hides_every_match(tmp_path, monkeypatch, use_rg):
    # Qwen, asked where Wren's exit codes are defined, grepped with glob "*.wren" three times: no such files.
    (tmp_path / "errors.py").write_text("class ExitCode:\n    LIMIT = 5\n")
    (tmp_path / "notes.md").write_text("nothing here\n")
    if not use_rg:
        monkeypatch.setattr(search, "ripgrep", lambda: None)
    assert call(tmp_path, "grep", pattern="ExitCode", glob="*.wren").splitlines() == [
        "[no file matches glob '*.wren'; these matches are in other files]", "errors.py:1:class ExitCode:"]
    out = call(tmp_path, "grep", pattern="LIMIT", glob="*.md")
    assert out.splitlines() == ["[no file matching glob '*.md' holds it; these matches are in other files]",
                                "errors.py:2:    LIMIT = 5"]
    out = call(tmp_path, "grep", pattern="nowhere at all", glob="*.md")
    assert out.startswith("(no matches)") and "no other file does either" in out
    assert call(tmp_path, "grep", pattern="LIMIT", glob="*.py") == "errors.py:2:    LIMIT = 5"  # a glob that finds stays


def test_argument_forms_small_models_produce(tree):
    assert call(tree, "list_files", path="") == call(tree, "list_files", path=".")
    assert call(tree, "grep", pattern="TODO", path="") == call(tree, "grep", pattern="TODO")
    assert call(tree, "read_file", path="./src/app.py") == call(tree, "read_file", path="src/app.py")
    listing = call(tree, "read_file", path="src/util")  # a directory: its files, and what to do next
    assert listing.splitlines() == ["[src/util is a directory; its files are below. read_file one of them]",
                                    "src/util/helpers.py"]
    assert call(tree, "list_files", path="src/app.py").splitlines() == [
        "src/app.py", "[a file, not a directory: read_file it to see its content]"]
    with pytest.raises(ToolError, match="list_files with path='.' shows what exists"):
        call(tree, "list_files", path="nope")


def test_a_grep_for_a_file_name_points_at_the_file(tree):
    out = call(tree, "grep", pattern="helpers.py", path="src")
    assert out.splitlines()[0] == "(no matches)" and out.splitlines()[-1] == (
        "[no line holds the pattern, but these paths do: src/util/helpers.py; read_file one to see it]")


@pytest.mark.parametrize("backend", [pytest.param("ripgrep", marks=needs_rg), "python"])
def test_a_match_deep_in_a_minified_line_can_be_seen_and_read(tmp_path, monkeypatch, backend):
    """A 2.3 MB one-line file: grep shows the match, read_file pages through the line."""
    root = tmp_path / "proj"
    root.mkdir()
    at = 1_500_000
    line = "var a=1;" * (at // 8) + "NEEDLE_42()" + "var b=2;" * 100_000
    (root / "app.min.js").write_text(line + "\n")
    found = call(root, "grep", pattern="NEEDLE_42") if backend == "ripgrep" else \
        python_grep(monkeypatch, root, pattern="NEEDLE_42")
    assert "NEEDLE_42()" in found and f"of {len(line)}]" in found
    start = int(found.split("[chars ")[1].split("-")[0])
    assert start <= at + 1 < start + search.MAX_LINE_CHARS
    first = call(root, "read_file", path="app.min.js", start_line=1, end_line=1)
    assert f"[chars 1-2000 of {len(line)}; read_file with start_char=2001 for more]" in first
    piece = call(root, "read_file", path="app.min.js", start_line=1, end_line=1, start_char=at - 10)
    assert "NEEDLE_42()" in piece and f"[chars {at - 10}-{at - 10 + 1999} of {len(line)}" in piece
    past = call(root, "read_file", path="app.min.js", start_line=1, end_line=1, start_char=len(line) + 5)
    assert "past its end" in past
