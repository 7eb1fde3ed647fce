"""CLI contract: bad input exits 2 with one line; --version stays light."""
from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import clean_env, scripted, wren, write_script


def one_line_error(run):
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert run.code == 2, run.stderr
    assert len(lines) == 1, run.stderr
    return lines[0]


def test_unknown_approval_value(calc_repo):
    line = one_line_error(wren("run", "x", "--approval", "sometimes", "--model", scripted("fix_calc.json"),
                               cwd=calc_repo))
    assert "--approval" in line and "auto-edit" in line


def test_missing_cwd(tmp_path):
    line = one_line_error(wren("run", "x", "--cwd", str(tmp_path / "nope"), "--model", scripted("fix_calc.json")))
    assert "--cwd" in line and "not an existing directory" in line


def test_unreadable_scripted_file(calc_repo, tmp_path):
    line = one_line_error(wren("run", "x", "--model", f"scripted:{tmp_path / 'missing.json'}", cwd=calc_repo))
    assert "cannot read scripted model file" in line


def test_invalid_scripted_file(calc_repo, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    line = one_line_error(wren("run", "x", "--model", f"scripted:{bad}", cwd=calc_repo))
    assert "not valid" in line


def test_unknown_model_provider(calc_repo):
    line = one_line_error(wren("run", "x", "--model", "nosuchprovider/some-model", cwd=calc_repo))
    assert "unknown model provider" in line and "anthropic/" in line


def test_bad_config_file(calc_repo):
    (calc_repo / "wren.toml").write_text("model = [unclosed")
    line = one_line_error(wren("run", "x", cwd=calc_repo))
    assert "wren.toml" in line


def test_config_chooses_the_model(calc_repo):
    (calc_repo / "wren.toml").write_text(f'model = "{scripted("resume_question.json")}"\n')
    run = wren("run", "what did you change?", "--output-format", "json", cwd=calc_repo)
    # The transcript expects history that a fresh session lacks: the scripted model must have been chosen.
    assert run.json["error"]["kind"] == "invariant"


def test_json_result_on_config_error(tmp_path):
    run = wren("run", "x", "--cwd", str(tmp_path / "nope"), "--output-format", "json")
    assert run.code == 2
    assert run.json["status"] == "error" and run.json["error"]["kind"] == "config"


def test_bad_flags_are_said_by_the_commands_parser_with_a_json_result_when_json_was_asked(calc_repo):
    # README: `session_id` is null when the run failed before a session started (a bad flag or config).
    for args, said in ((["--bogus"], "unrecognized arguments: --bogus"),
                       (["--timeout", "abc"], "argument --timeout: must be a number, not 'abc'"),
                       (["--max-steps", "0"], "argument --max-steps: must be at least 1, not 0")):
        run = wren("run", "x", "--output-format", "json", *args, cwd=calc_repo)
        assert one_line_error(run) == f"wren run: error: {said}; see `wren run --help`", args
        assert (run.json["session_id"], run.json["exit_code"], run.json["error"]) == (None, 2, {"kind": "config", "message": said})
    text = wren("run", "x", "--bogus", cwd=calc_repo)
    assert one_line_error(text).startswith("wren run: error: unrecognized arguments") and text.stdout == ""


def test_a_sessions_state_is_left_out_of_git(calc_repo):
    run = wren("run", "Fix the failing test", "--model", scripted("fix_calc.json"), "--approval", "auto", cwd=calc_repo)
    assert run.code == 0, run.stderr
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=calc_repo,
                            capture_output=True, text=True, check=True).stdout
    assert (calc_repo / ".wren" / "sessions").is_dir() and ".wren" not in status, status


def test_sessions_of_a_missing_folder_are_a_usage_error(tmp_path):
    line = one_line_error(wren("sessions", "list", "--cwd", str(tmp_path / "nope")))
    assert "--cwd" in line and "not an existing directory" in line


def test_limits_must_be_finite_and_an_unwritable_state_folder_is_a_config_error(calc_repo, tmp_path):
    # float() takes "nan", which turned the limit off.
    assert "must be a finite number, not 'nan'" in one_line_error(wren("run", "x", "--timeout", "nan", cwd=calc_repo))
    (calc_repo / ".wren").write_text("not a folder")  # as a read-only workspace does, it cannot be made
    run = wren("run", "x", "--model", scripted("fix_calc.json"), "--output-format", "json", cwd=calc_repo)
    assert "cannot write Wren's state folder" in one_line_error(run) and "Traceback" not in run.stderr
    assert run.json["session_id"] is None and run.json["error"]["kind"] == "config"


def test_a_prompt_that_is_not_utf8_runs_with_its_bytes_replaced(calc_repo):
    import os

    from conftest import WREN, clean_env

    prompt = os.fsdecode(b"Fix the failing test \xff")  # what Python makes of a Latin-1 byte on the command line
    proc = subprocess.run([str(WREN), "run", prompt, "--model", scripted("fix_calc.json"), "--approval", "auto"],
                          cwd=calc_repo, capture_output=True, env=clean_env())
    assert proc.returncode == 0, proc.stderr.decode()


def test_version():
    run = wren("--version")
    assert run.code == 0 and run.stdout.startswith("wren ")


@pytest.mark.parametrize("heavy", ["litellm", "chromadb", "textual", "llama_cpp", "mcp", "pydantic", "git",
                                   "tree_sitter", "onnxruntime"])
def test_version_imports_nothing_heavy(heavy):
    code = ("import sys; sys.argv = ['wren', '--version']\n"
            "from wren.cli.main import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            f"print({heavy!r} in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=clean_env())
    assert out.stdout.strip().endswith("False"), out.stdout + out.stderr


def test_sessions_show_prints_the_calls_and_results_of_a_session(calc_repo, tmp_path):
    """It printed the prompt and the final summary only: no tool call, no error, nothing of what the model did."""
    model = write_script(tmp_path / "s.json", [
        {"content": "Reading it first.", "tool_calls": [{"name": "read_file", "arguments": {"path": "calc.py"}}]},
        {"tool_calls": [{"name": "read_file", "arguments": {"path": "missing.py"}}]},
        {"content": "add subtracts."}])
    run = wren("run", "What does add do?", "--model", model, "--output-format", "json", cwd=calc_repo)
    assert run.code == 0, run.stderr
    shown = wren("sessions", "show", run.json["session_id"], cwd=calc_repo)
    lines = shown.stdout.splitlines()
    assert lines[1:7] == ["> What does add do?", "< Reading it first.", '→ read_file {"path": "calc.py"}',
                          "  ✓ 1 def add(a, b):", '→ read_file {"path": "missing.py"}', lines[6]], lines
    assert lines[6].startswith("  ✗ ") and "missing.py" in lines[6]
    assert "< add subtracts." in lines and any(line.startswith("wren: success (exit 0) · 3 steps") for line in lines)
    full = wren("sessions", "show", run.json["session_id"], "--full", cwd=calc_repo).stdout
    assert "      2\t    return a - b" in full


def test_sessions_list_marks_a_damaged_log_and_lists_the_rest(calc_repo, tmp_path):
    """The first damaged log ended the listing (exit 2), hiding every session after it; a folder named like a
    log was a traceback."""
    model = write_script(tmp_path / "s.json", [{"content": "hello"}, {"content": "again"}])
    first = wren("run", "first prompt", "--model", model, "--output-format", "json", cwd=calc_repo).json["session_id"]
    second = wren("run", "second prompt", "--model", model, "--output-format", "json", cwd=calc_repo).json["session_id"]
    logs = calc_repo / ".wren" / "sessions"
    lines = (logs / f"{first}.jsonl").read_text().splitlines()
    (logs / f"{first}.jsonl").write_text("\n".join(lines[:1] + ["garbage"] + lines[1:]) + "\n")
    (logs / "20000101-000000-folder.jsonl").mkdir()
    listed = wren("sessions", "list", cwd=calc_repo)
    assert listed.code == 0, listed.stderr
    assert any(line.startswith(first) and "damaged" in line and "line 2" in line for line in listed.stdout.splitlines())
    assert any(line.startswith(second) and "second prompt" in line for line in listed.stdout.splitlines())
    assert "folder" not in listed.stdout
