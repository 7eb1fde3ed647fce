"""edit_file and write_file on real drift: whitespace, indentation, line endings, encodings, modes."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from wren.tools.base import ToolContext, default_registry
from wren.core.errors import ToolError
from wren.tools.workspace import Workspace

REGISTRY = default_registry()


def call(root: Path, name: str, **args):
    tool = REGISTRY.get(name)
    return tool.run(tool.args(**args), ToolContext(Workspace(root)))


def edit(root: Path, path: str, old: str, new: str, **more):
    return call(root, "edit_file", path=path, old=old, new=new, **more)


GO = "package calc\n\nfunc Add(a, b int) int {\n\tif a > 0 {\n\t\treturn a - b\n\t}\n\treturn b\n}\n"


def test_spaces_in_old_match_a_tab_indented_file_and_new_gets_tabs(tmp_path):
    (tmp_path / "calc.go").write_text(GO)
    result = edit(tmp_path, "calc.go", "    if a > 0 {\n        return a - b\n    }",
                  "    if a > 0 {\n        if b > 0 {\n            return a + b\n        }\n    }")
    assert "ignoring whitespace" in result.output
    assert (tmp_path / "calc.go").read_text() == GO.replace(
        "\t\treturn a - b\n", "\t\tif b > 0 {\n\t\t\treturn a + b\n\t\t}\n")


def test_later_lines_of_new_written_from_column_0_take_the_indentation_of_old_s_line(tmp_path):
    """Qwen2.5-Coder-1.5B replaced kheapsort's `import heapq` (indented, inside the function; narrowed edits hand
    it lines stripped) with `import heapq\nimport sys`: when the edit as written would not parse, the later
    lines take the first's indentation. Edits that parse as written (a new top-level function after a
    method's last line, a triple-quoted string's lines) are left as written."""
    code = "def k(arr):\n    import heapq\n    return sorted(arr)\n"
    (tmp_path / "k.py").write_text(code)
    assert edit(tmp_path, "k.py", "import heapq", "import heapq\n\nimport sys").ok
    assert (tmp_path / "k.py").read_text() == code.replace("heapq\n", "heapq\n\n    import sys\n")
    (tmp_path / "k.py").write_text(code)
    assert edit(tmp_path, "k.py", "return sorted(arr)", "if not arr:\n    return []\nreturn sorted(arr)").ok
    assert (tmp_path / "k.py").read_text() == code.replace(
        "    return sorted(arr)", "    if not arr:\n        return []\n    return sorted(arr)")
    (tmp_path / "k.py").write_text(code)  # written in place: as is
    assert edit(tmp_path, "k.py", "import heapq", "import heapq\n    import sys").ok
    assert (tmp_path / "k.py").read_text() == code.replace("heapq\n", "heapq\n    import sys\n")
    (tmp_path / "k.py").write_text(code)  # `old` starts its line: nothing to follow
    assert edit(tmp_path, "k.py", "def k(arr):", "import sys\ndef k(arr):").ok
    assert (tmp_path / "k.py").read_text() == "import sys\n" + code
    for new in ("return sorted(arr)\n\n\ndef g():\n    return 2", 'return """\nSELECT *\n"""'):
        (tmp_path / "k.py").write_text(code)
        assert edit(tmp_path, "k.py", "return sorted(arr)", new).ok
        assert (tmp_path / "k.py").read_text() == code.replace("return sorted(arr)", new)


def test_tabs_in_old_match_a_space_indented_file(tmp_path):
    (tmp_path / "m.py").write_text("class A:\n    def f(self):\n        return 1\n")
    edit(tmp_path, "m.py", "\tdef f(self):\n\t\treturn 1\n", "\tdef f(self):\n\t\tx = 2\n\t\treturn x\n")
    assert (tmp_path / "m.py").read_text() == "class A:\n    def f(self):\n        x = 2\n        return x\n"


def test_trailing_whitespace_either_side(tmp_path):
    (tmp_path / "a.py").write_text("x = 1   \ny = 2\t\nz = 3\n")
    edit(tmp_path, "a.py", "x = 1\ny = 2", "x = 10\ny = 20")
    assert (tmp_path / "a.py").read_text() == "x = 10\ny = 20\nz = 3\n"
    edit(tmp_path, "a.py", "z = 3  \n", "z = 30\n")
    assert (tmp_path / "a.py").read_text() == "x = 10\ny = 20\nz = 30\n"


def test_reindented_block_keeps_relative_indentation(tmp_path):
    source = ("class Shop:\n    def total(self, items):\n        s = 0\n        for i in items:\n"
              "            s += i.price\n        return s\n")
    (tmp_path / "shop.py").write_text(source)
    # The model dropped the class and method indentation from both old and new.
    result = edit(tmp_path, "shop.py", "for i in items:\n    s += i.price\nreturn s",
                  "for i in items:\n    if i.price:\n        s += i.price\nreturn round(s, 2)")
    assert result.ok
    assert (tmp_path / "shop.py").read_text() == source.replace(
        "            s += i.price\n        return s\n",
        "            if i.price:\n                s += i.price\n        return round(s, 2)\n")


def test_crlf_file_keeps_crlf_everywhere(tmp_path):
    (tmp_path / "w.bat").write_bytes(b"@echo off\r\necho one\r\necho two\r\n")
    edit(tmp_path, "w.bat", "echo one\n", "echo one\necho one and a half\n")
    assert (tmp_path / "w.bat").read_bytes() == b"@echo off\r\necho one\r\necho one and a half\r\necho two\r\n"


def test_mixed_line_endings_stay_per_line(tmp_path):
    (tmp_path / "m.txt").write_bytes(b"a\r\nb\nc\r\nd\n")
    edit(tmp_path, "m.txt", "c\n", "C\n")
    assert (tmp_path / "m.txt").read_bytes() == b"a\r\nb\nC\r\nd\n"


def test_block_present_twice_is_refused_naming_both_places(tmp_path):
    text = "def a():\n    return 0\n\n\ndef b():\n    return 0\n"
    (tmp_path / "t.py").write_text(text)
    with pytest.raises(ToolError) as refused:
        edit(tmp_path, "t.py", "    return 0\n", "    return 1\n")
    assert "2 places" in str(refused.value) and "line 2" in str(refused.value) and "line 6" in str(refused.value)
    assert "Nothing was changed" in str(refused.value)
    assert (tmp_path / "t.py").read_text() == text
    edit(tmp_path, "t.py", "    return 0\n", "    return 1\n", replace_all=True)
    assert (tmp_path / "t.py").read_text() == text.replace("return 0", "return 1")


def test_whitespace_tolerant_twice_is_refused(tmp_path):
    text = "if a:\n    x = 1\nif b:\n        x = 1\n"
    (tmp_path / "t.py").write_text(text)
    with pytest.raises(ToolError, match=r"ignoring whitespace.*line 2.*line 4"):
        edit(tmp_path, "t.py", "\tx = 1", "\tx = 2")
    assert (tmp_path / "t.py").read_text() == text


def test_line_picks_one_place_of_an_old_found_more_than_once(tmp_path):
    """get_factors' bug is the second of its two `return []` lines: `line` names the place, exact or ignoring
    whitespace; a line where the text is not is refused with the places it is, and nothing changes."""
    text = "def f(n):\n    if n == 1:\n        return []\n    for i in range(2, n):\n        pass\n    return []\n"
    (tmp_path / "t.py").write_text(text)
    with pytest.raises(ToolError, match=r"line 3.*line 6.*pass line=N"):
        edit(tmp_path, "t.py", "return []", "return [n]")
    with pytest.raises(ToolError, match=r"2 places.*none of them starting at line 4") as refused:
        edit(tmp_path, "t.py", "return []", "return [n]", line=4)
    assert "Nothing was changed" in str(refused.value) and (tmp_path / "t.py").read_text() == text
    out = edit(tmp_path, "t.py", "return []", "return [n]", line=6).output
    assert "at line 6" in out and (tmp_path / "t.py").read_text() == text[: text.rindex("return []")] + "return [n]\n"
    (tmp_path / "t.py").write_text(text)
    edit(tmp_path, "t.py", "\treturn []", "\treturn [n]", line=3)  # ignoring whitespace: indented as the file
    assert (tmp_path / "t.py").read_text() == text.replace("return []", "return [n]", 1)
    edit(tmp_path, "t.py", "for i in range(2, n):", "for i in range(2, n + 1):", line=1)  # found once: line unused
    assert "range(2, n + 1)" in (tmp_path / "t.py").read_text()


@pytest.mark.parametrize("text, old, line, after", [
    ("a\na\na\n", "a\na", 2, "a\nb\n"),  # overlapping places: the one starting at line 2
    ("a\nba\nb\n", "a\nb", 2, "a\nbb\n"),  # both touch line 2; one starts there
    ("x\n  y\nx\n y\n", "x\ny", 3, "x\n  y\nb\n"),  # ignoring whitespace, the one starting at line 3
])
def test_line_is_where_the_place_starts_overlapping_places_too(tmp_path, text, old, line, after):
    (tmp_path / "t.txt").write_text(text)
    edit(tmp_path, "t.txt", old, "b", line=line)
    assert (tmp_path / "t.txt").read_text() == after


def test_a_refusal_for_many_places_names_the_first_ten(tmp_path):
    (tmp_path / "many.py").write_text("".join(f"x{i} = 0\n" for i in range(1000)))
    with pytest.raises(ToolError) as refused:
        edit(tmp_path, "many.py", "= 0", "= 1")
    said = str(refused.value)
    assert "old text occurs in 1000 places (line 1: 'x0 = 0';" in said and "line 10: 'x9 = 0'; and 990 more)" in said
    assert "line 11:" not in said and len(said) < 1000


def test_line_cannot_choose_between_two_places_on_one_line(tmp_path):
    (tmp_path / "t.py").write_text("x = f(a) + f(a)\ny = f(a)\n")
    with pytest.raises(ToolError, match=r"3 places.*2 of them starting at line 1; add surrounding text"):
        edit(tmp_path, "t.py", "f(a)", "abs(a)", line=1)
    edit(tmp_path, "t.py", "f(a)", "abs(a)", line=2)
    assert (tmp_path / "t.py").read_text() == "x = f(a) + f(a)\ny = abs(a)\n"


def test_text_absent_names_the_closest_lines(tmp_path):
    lines = [f"value_{i} = compute({i})" for i in range(1, 40)]
    lines[24] = "total = price * quantity + shipping"
    (tmp_path / "c.py").write_text("\n".join(lines) + "\n")
    with pytest.raises(ToolError) as missing:
        edit(tmp_path, "c.py", "total = price * qty + shipping", "total = 0")
    message = str(missing.value)
    assert "Did you mean" in message and "line 25" in message
    assert "total = price * quantity + shipping" in message


@pytest.mark.parametrize("mode", [0o755, 0o600, 0o640])
def test_mode_bits_survive_edit_and_write(tmp_path, mode):
    script = tmp_path / "run.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(mode)
    edit(tmp_path, "run.sh", "echo hi", "echo hello")
    assert stat.S_IMODE(script.stat().st_mode) == mode
    call(tmp_path, "write_file", path="run.sh", content="#!/bin/sh\necho bye\n")
    assert stat.S_IMODE(script.stat().st_mode) == mode


def test_new_files_get_the_umask_mode_and_parent_folders(tmp_path):
    old = os.umask(0o022)
    try:
        result = call(tmp_path, "write_file", path="deep/er/new.txt", content="x\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "deep/er/new.txt").stat().st_mode) == 0o644
    assert result.files_changed == ["deep/er/new.txt"] and "+x" in result.diff


def test_encodings_and_final_newline_are_kept(tmp_path):
    (tmp_path / "l1.txt").write_bytes("café\nnaïve".encode("latin-1"))
    edit(tmp_path, "l1.txt", "naïve", "résumé")
    assert (tmp_path / "l1.txt").read_bytes() == "café\nrésumé".encode("latin-1")
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbfone\ntwo\n")
    edit(tmp_path, "bom.txt", "two", "deux")
    assert (tmp_path / "bom.txt").read_bytes() == b"\xef\xbb\xbfone\ndeux\n"
    (tmp_path / "u16.txt").write_bytes(b"\xff\xfe" + "alpha\r\nbeta\r\n".encode("utf-16-le"))
    edit(tmp_path, "u16.txt", "beta", "gamma")
    assert (tmp_path / "u16.txt").read_bytes() == b"\xff\xfe" + "alpha\r\ngamma\r\n".encode("utf-16-le")


def test_latin1_file_refuses_characters_it_cannot_hold(tmp_path):
    (tmp_path / "l1.txt").write_bytes("café\n".encode("latin-1"))
    with pytest.raises(ToolError, match="latin-1"):
        edit(tmp_path, "l1.txt", "café", "café ☕")
    assert (tmp_path / "l1.txt").read_bytes() == "café\n".encode("latin-1")


def test_write_file_keeps_line_endings_and_final_newline_of_the_file_it_replaces(tmp_path):
    (tmp_path / "w.txt").write_bytes(b"a\r\nb\r\n")
    result = call(tmp_path, "write_file", path="w.txt", content="a\nB")
    assert (tmp_path / "w.txt").read_bytes() == b"a\r\nB\r\n"
    assert "-b" in result.diff and "+B" in result.diff


def test_write_file_to_a_path_ending_in_a_slash_is_refused(tmp_path):
    """`write_file newdir/` made a file named newdir."""
    with pytest.raises(ToolError, match="ends with a slash"):
        call(tmp_path, "write_file", path="newdir/", content="x")
    assert list(tmp_path.iterdir()) == []
    call(tmp_path, "write_file", path="newdir/notes.txt", content="x")
    assert (tmp_path / "newdir" / "notes.txt").read_text() == "x"


def test_writes_leave_no_temp_files_and_binary_files_are_refused(tmp_path):
    (tmp_path / "a.txt").write_text("one\n")
    edit(tmp_path, "a.txt", "one", "two")
    call(tmp_path, "write_file", path="b.txt", content="x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]
    (tmp_path / "img.bin").write_bytes(b"\x89PNG\x00\x00data")
    with pytest.raises(ToolError, match="binary"):
        edit(tmp_path, "img.bin", "data", "atad")


def test_edit_reports_a_unified_diff_and_where(tmp_path):
    (tmp_path / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    result = edit(tmp_path, "calc.py", "return a - b", "return a + b")
    assert result.diff.startswith("--- a/calc.py\n+++ b/calc.py\n@@")
    assert "-    return a - b\n+    return a + b\n" in result.diff
    assert "at line 2" in result.output and result.files_changed == ["calc.py"]


def test_old_equal_to_new_and_empty_old_are_refused(tmp_path):
    (tmp_path / "a.txt").write_text("x\n")
    with pytest.raises(ToolError, match="the same"):
        edit(tmp_path, "a.txt", "x", "x")
    with pytest.raises(ToolError, match="write_file"):
        edit(tmp_path, "a.txt", "", "y")


def test_new_text_takes_the_files_indentation_character(tmp_path):
    (tmp_path / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    edit(tmp_path, "calc.py", "    return a - b\n", "    if a:\n\t\treturn a + b\n")
    assert (tmp_path / "calc.py").read_text() == "def add(a, b):\n    if a:\n        return a + b\n"
    (tmp_path / "calc.go").write_text(GO)
    edit(tmp_path, "calc.go", "\treturn b\n", "\tif b > 0 {\n        return b\n    }\n\treturn 0\n")
    assert (tmp_path / "calc.go").read_text().endswith("\t}\n\tif b > 0 {\n\t\treturn b\n\t}\n\treturn 0\n}\n")


def test_with_read_paths_an_unread_file_is_not_changed_until_read(tmp_path):
    (tmp_path / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    ctx = ToolContext(Workspace(tmp_path), read_paths=set())

    def run(name, **args):
        tool = REGISTRY.get(name)
        return tool.run(tool.args(**args), ctx)

    for name, args in (("edit_file", {"old": "a - b", "new": "a + b"}), ("write_file", {"content": "x = 1\n"})):
        with pytest.raises(ToolError, match="calc.py has not been read in this session; call read_file"):
            run(name, path="calc.py", **args)
    assert (tmp_path / "calc.py").read_text().endswith("a - b\n")
    run("write_file", path="new.py", content="y = 2\n")  # a new file needs no reading
    run("edit_file", path="new.py", old="y = 2", new="y = 3")  # ... and what it wrote counts as read
    run("read_file", path="./calc.py", start_line=2)  # any read, by any spelling of the path
    run("edit_file", path="calc.py", old="a - b", new="a + b")
    assert (tmp_path / "calc.py").read_text().endswith("a + b\n") and (tmp_path / "new.py").read_text() == "y = 3\n"


def test_line_number_prefixes_pasted_from_tool_output_are_removed(tmp_path):
    (tmp_path / "gcd.py").write_text("def gcd(a, b):\n    if b == 0:\n        return a\n    return gcd(a % b, b)\n")
    out = edit(tmp_path, "gcd.py", "     4\t    return gcd(a % b, b)", "     4\t    return gcd(b, a % b)").output
    assert "removed the line-number prefixes copied from read_file or grep output from old and new" in out
    assert (tmp_path / "gcd.py").read_text().endswith("    return gcd(b, a % b)\n")
    grep_style = "gcd.py-1-def gcd(a, b):\ngcd.py:2:    return a if b == 0 else gcd(b, a % b)\n"
    call(tmp_path, "write_file", path="gcd.py", content=grep_style)  # what a real model wrote
    assert (tmp_path / "gcd.py").read_text() == "def gcd(a, b):\n    return a if b == 0 else gcd(b, a % b)\n"
    code = "x = {1: 2}\nprint(x)\n"  # code that only looks a little like a prefix stays as it is
    call(tmp_path, "write_file", path="other.py", content=code)
    assert (tmp_path / "other.py").read_text() == code
    ports = "web:80:tcp\nssh:22:tcp\n"  # grep-like, but not this file's grep lines
    call(tmp_path, "write_file", path="ports.txt", content=ports)
    assert (tmp_path / "ports.txt").read_text() == ports


def test_careful_write_file_will_not_cut_a_file_to_a_placeholder(tmp_path):
    program = "def f(x):\n    if x:\n        return 1\n    return 2\n"
    (tmp_path / "f.py").write_text(program)
    ctx = ToolContext(Workspace(tmp_path), read_paths={"f.py"})
    tool = REGISTRY.get("write_file")
    with pytest.raises(ToolError, match="this would cut f.py from 4 lines to 1; to change part of it use edit_file"):
        tool.run(tool.args(path="f.py", content="<text>...</text>"), ctx)  # what a real model wrote
    assert (tmp_path / "f.py").read_text() == program
    tool.run(tool.args(path="f.py", content="def f(x):\n    return 1 if x else 2\n\n"), ctx)  # a real rewrite
    call(tmp_path, "write_file", path="f.py", content="x = 1\n")  # not careful: the caller decides


def test_an_edit_whose_old_text_is_in_another_read_file_names_that_file(tmp_path):
    (tmp_path / "bfs.py").write_text("def bfs(start):\n    while True:\n        node = queue.popleft()\n")
    (tmp_path / "test_bfs.py").write_text("import bfs\n\nnode.successors = [nodea]\n")
    ctx = ToolContext(Workspace(tmp_path), read_paths={"bfs.py", "test_bfs.py"})
    tool = REGISTRY.get("edit_file")
    with pytest.raises(ToolError) as info:  # a line of the test, pasted into an edit of the program
        tool.run(tool.args(path="bfs.py", old="node.successors = [nodea]", new="node.successors = [nodea, b]"), ctx)
    assert str(info.value).endswith("[That `old` text is in test_bfs.py (line 3), not in bfs.py: copy `old` from "
                                    "bfs.py as read_file shows it.]")
    with pytest.raises(ToolError) as info:
        tool.run(tool.args(path="bfs.py", old="while queue:", new="while True:"), ctx)
    assert "That `old` text is in" not in str(info.value)


TOKEN = "ghp_" + "a1B2c3D4" * 5  # a GitHub token's shape


def test_a_redaction_placeholder_is_never_written_over_the_secret(tmp_path):
    (tmp_path / "config.yml").write_text(f"name: demo\ngithub_token: {TOKEN}\n")
    shown = call(tmp_path, "read_file", path="config.yml").output
    assert TOKEN not in shown and "[redacted GitHub token]" in shown  # what the model sees
    # The model writes the file back from what it saw: the token stays, the placeholder never lands.
    call(tmp_path, "write_file", path="config.yml",
         content="name: demo2\ngithub_token: [redacted GitHub token]\n")
    assert (tmp_path / "config.yml").read_text() == f"name: demo2\ngithub_token: {TOKEN}\n"
    call(tmp_path, "edit_file", path="config.yml", old="name: demo2\ngithub_token: [redacted GitHub token]",
         new="name: demo3\ngithub_token: [redacted GitHub token]\nretries: 3")
    assert (tmp_path / "config.yml").read_text() == f"name: demo3\ngithub_token: {TOKEN}\nretries: 3\n"
    # A placeholder that stands for nothing in the file (or for two values) is refused, nothing written.
    with pytest.raises(ToolError, match=r"\[redacted GitHub token\] is a placeholder .* stands for no value"):
        call(tmp_path, "write_file", path="new.yml", content="token: [redacted GitHub token]\n")
    assert not (tmp_path / "new.yml").exists()
    (tmp_path / "two.yml").write_text(f"a: {TOKEN}\nb: {TOKEN[:-1]}Z\n")
    with pytest.raises(ToolError, match="several different values"):
        call(tmp_path, "edit_file", path="two.yml", old="a: [redacted GitHub token]", new="a: x")
