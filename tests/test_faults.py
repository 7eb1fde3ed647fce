"""Provider faults, limits, model-fixable errors and the approval policy, through `wren run`."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import CALC, wren, write_script

READ = {"name": "read_file", "arguments": {"path": "calc.py"}}
EDIT = {"name": "edit_file", "arguments": {"path": "calc.py", "old": "return a - b", "new": "return a + b"}}
DONE = {"content": "Done."}


def run_script(repo, tmp_path, turns, *extra):
    model = write_script(tmp_path / "script.json", turns)
    return wren("run", "fix calc", "--model", model, "--output-format", "json", "--approval", "auto",
                *extra, cwd=repo)


def logged(repo, session_id):
    path = repo / ".wren" / "sessions" / f"{session_id}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_rate_limit_is_retried_and_succeeds(calc_repo, tmp_path):
    run = run_script(calc_repo, tmp_path, [{"error": "rate_limit"}, DONE])
    assert run.code == 0, run.stderr
    assert run.json["status"] == "success"
    warnings = [e for e in logged(calc_repo, run.json["session_id"]) if e["type"] == "error"]
    assert len(warnings) == 1 and not warnings[0]["fatal"] and "retrying" in warnings[0]["message"]


def test_persistent_server_error_exits_3(calc_repo, tmp_path):
    run = run_script(calc_repo, tmp_path, [{"error": "server_error"}] * 6 + [DONE])
    assert run.code == 3, run.stderr
    assert run.json["status"] == "error"
    assert run.json["error"]["kind"] == "server_error"
    retries = [e for e in logged(calc_repo, run.json["session_id"]) if e["type"] == "error" and not e["fatal"]]
    assert len(retries) == 3  # four attempts in all


def test_auth_error_is_not_retried(calc_repo, tmp_path):
    run = run_script(calc_repo, tmp_path, [{"error": "auth"}, DONE])
    assert run.code == 3
    assert run.json["error"]["kind"] == "auth"
    assert "API_KEY" in run.json["error"]["message"]
    assert "API_KEY" in run.stderr


def test_running_out_of_turns_exits_3(calc_repo, tmp_path):
    run = run_script(calc_repo, tmp_path, [{"tool_calls": [READ]}])
    assert run.code == 3
    assert run.json["error"]["kind"] == "script_exhausted"


def test_max_steps_is_a_limit(calc_repo, tmp_path):
    run = run_script(calc_repo, tmp_path, [{"tool_calls": [READ]}] * 4 + [DONE], "--max-steps", "2")
    assert run.code == 5
    assert run.json["status"] == "limit" and run.json["steps"] == 2


def test_arguments_as_small_models_close_them_are_read_as_meant(calc_repo, tmp_path):
    """Qwen2.5-Coder-1.5B (QuixBugs levenshtein) wrapped edit_file's arguments in a whole call and ended the last
    string with the braces that close it, no quote: `{"name": "edit_file", "arguments": {..., "new": "...}}`."""
    wrapped = '{"name": "edit_file", "arguments": {"path": "calc.py", "old": "return a - b", "new": "return a + b}}'
    run = run_script(calc_repo, tmp_path, [
        {"tool_calls": [READ]},
        {"tool_calls": [{"name": "edit_file", "arguments": wrapped}]},
        {"content": "Done.", "expect": ["Edited calc.py"]},
    ])
    assert run.code == 0, run.stderr
    assert "return a + b" in (calc_repo / "calc.py").read_text()


def test_a_string_that_runs_into_braces_is_closed_only_where_that_makes_json():
    from wren.core.errors import ToolError
    from wren.tools.base import default_registry

    registry = default_registry()
    tool = registry.get("read_file")
    assert registry.parse(tool, '{"path": "calc.py}').model_dump()["path"] == "calc.py"
    assert registry.parse(tool, '{"name": "read_file", "arguments": {"path": "calc.py"}}').model_dump()["path"] == "calc.py"
    for raw in ('{"path": "calc.py', '{"path": "calc.py}}}', '{"name": "list_files", "arguments": {"path": "calc.py}}'):
        with pytest.raises(ToolError):
            registry.parse(tool, raw)


def test_malformed_arguments_go_back_to_the_model(calc_repo, tmp_path):
    run = run_script(calc_repo, tmp_path, [
        {"tool_calls": [{"name": "edit_file", "arguments": "{\"path\": \"calc.py\", \"old\": "}]},
        {"tool_calls": [{"name": "edit_file", "arguments": {"path": "calc.py"}}],
         "expect": ["not valid JSON"]},
        {"tool_calls": [{"name": "no_such_tool", "arguments": {}}], "expect": ["old: Field required"]},
        {"tool_calls": [EDIT], "expect": ["unknown tool 'no_such_tool'"]},
        DONE,
    ])
    assert run.code == 0, run.stderr
    assert (calc_repo / "calc.py").read_text() == CALC.replace("a - b", "a + b")


def test_edit_text_not_found_gets_a_hint(calc_repo, tmp_path):
    run = run_script(calc_repo, tmp_path, [
        {"tool_calls": [{"name": "edit_file", "arguments": {"path": "calc.py", "old": "return a - c",
                                                                "new": "return a + b"}}]},
        {"tool_calls": [EDIT], "expect": ["Did you mean", "2\t    return a - b"]},
        DONE,
    ])
    assert run.code == 0, run.stderr
    assert (calc_repo / "calc.py").read_text() == CALC.replace("a - b", "a + b")


def test_consecutive_errors_stop_the_run(calc_repo, tmp_path):
    # Each call different: the same call repeated is stopped sooner, by the repetition guard.
    # Stuck, it gets one step that may only answer; a call there is an error (a provider honours tool_choice).
    bad = [{"tool_calls": [{"name": "read_file", "arguments": {"path": f"missing{n}.py"}}]} for n in range(8)]
    run = run_script(calc_repo, tmp_path, bad[:5] + [{"expect": ["consecutive"], "content": "No such files."}])
    assert run.code == 0 and run.json["summary"] == "No such files." and run.json["steps"] == 6
    run = run_script(calc_repo, tmp_path, bad + [DONE])
    assert run.code == 3 and "tool_choice was 'none'" in run.json["summary"]


def test_read_only_refuses_the_write_and_exits_4(calc_repo, tmp_path):
    model = write_script(tmp_path / "script.json", [
        {"tool_calls": [READ]}, {"tool_calls": [EDIT]},
        {"content": "I cannot change files in read-only mode.", "expect": ["read-only"]}])
    run = wren("run", "fix calc", "--model", model, "--output-format", "json", "--approval", "read-only",
               cwd=calc_repo)
    assert run.code == 4, run.stderr
    assert run.json["status"] == "denied"
    assert (calc_repo / "calc.py").read_text() == CALC
    events = logged(calc_repo, run.json["session_id"])
    assert any(e["type"] == "approval_resolved" and e["decision"] == "deny" and e["by"] == "policy" for e in events)


def test_path_outside_workspace_is_refused(calc_repo, tmp_path):
    outside = tmp_path / "outside.txt"
    run = run_script(calc_repo, tmp_path, [
        {"tool_calls": [{"name": "write_file", "arguments": {"path": "../outside.txt", "content": "x"}}]},
        {"tool_calls": [{"name": "write_file", "arguments": {"path": ".git/config", "content": "x"}}],
         "expect": ["outside the workspace"]},
        {"content": "ok", "expect": ["inside .git"]}])
    assert run.code == 0, run.stderr
    assert not outside.exists()


def test_a_weakened_test_is_flagged_in_the_result_and_on_stderr(calc_repo, tmp_path):
    weaken = {"name": "edit_file", "arguments": {"path": "test_calc.py", "old": "assert", "new": "assert True or"}}
    run = run_script(calc_repo, tmp_path, [{"tool_calls": [weaken]}, DONE])
    assert run.code == 0 and run.json["tests_changed"] == ["test_calc.py"]
    assert "wren: note: test files changed: test_calc.py" in run.stderr


class _Refuses(BaseHTTPRequestHandler):
    """An OpenAI-compatible server that answers every request 400 with a body in its own shape."""
    body: object = {}

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        data = json.dumps(self.body).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.mark.parametrize("body", [{"detail": "model m takes at most 512 input tokens"},
                                  {"message": "model m takes at most 512 input tokens"},
                                  {"error": {"message": "model m takes at most 512 input tokens"}}])
def test_what_the_server_said_reaches_the_error_message(calc_repo, body):
    _Refuses.body = body
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refuses)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        run = wren("run", "hello", "--model", "openai/m", "--api-base",
                   f"http://127.0.0.1:{server.server_address[1]}/v1", "--output-format", "json", cwd=calc_repo)
    finally:
        server.shutdown()
    assert run.code == 3, run.stderr
    assert run.json["error"]["kind"] == "bad_request"
    assert "takes at most 512 input tokens" in run.json["error"]["message"]


def test_ctrl_c_during_a_retrys_backoff_stops_the_run_there(calc_repo, tmp_path):
    # Ctrl+C used to wait out every retry and its backoff, then end "error (exit 3)".
    import signal
    import subprocess

    from conftest import WREN, clean_env

    model = write_script(tmp_path / "script.json", [{"error": "server_error"}] * 6 + [DONE])
    proc = subprocess.Popen([str(WREN), "run", "fix calc", "--model", model, "--output-format", "json"], cwd=calc_repo,
                            env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:  # the first retry's warning: the run is now waiting to retry
        if "retrying in" in line:
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)  # a hang guard
    assert proc.returncode == 130, err
    result = json.loads(out.splitlines()[-1])
    assert (result["status"], result["exit_code"]) == ("interrupted", 130)
    retries = [e for e in logged(calc_repo, result["session_id"]) if e["type"] == "error" and not e["fatal"]]
    assert len(retries) == 1, retries  # no attempt after the interrupt


def test_a_nul_character_in_arguments_goes_back_to_the_model(calc_repo, tmp_path):
    # It was a crash of the session (ValueError: embedded null byte, exit 1) in approval or in the tool.
    run = run_script(calc_repo, tmp_path, [
        {"tool_calls": [{"name": "read_file", "arguments": {"path": "calc\u0000.py"}}]},
        {"tool_calls": [{"name": "shell", "arguments": {"command": "echo a\u0000b"}}], "expect": ["NUL character"]},
        {"tool_calls": [EDIT], "expect": ["NUL character"]}, DONE])
    assert run.code == 0, run.stderr
    assert (calc_repo / "calc.py").read_text() == CALC.replace("a - b", "a + b")


def test_a_missing_openai_key_is_an_auth_error_not_retried(calc_repo):
    # The OpenAI client refuses before any request; litellm raises that as a server error, retried 4 times.
    from conftest import clean_env

    env = {**clean_env(), "OPENAI_API_KEY": ""}
    run = wren("run", "hi", "--model", "openai/gpt-4o", "--output-format", "json", cwd=calc_repo, env=env)
    assert (run.code, run.json["error"]["kind"]) == (3, "auth"), run.stderr
    assert "set OPENAI_API_KEY" in run.json["error"]["message"] and "retrying" not in run.stderr


def test_a_provider_that_takes_the_request_and_never_answers_is_cut_by_the_time_limit_and_by_ctrl_c(calc_repo):
    # Read in the session's thread, such a server held the run for litellm's 600 s timeout, through --timeout,
    # Ctrl+C and SIGTERM, and was then retried.
    import signal
    import socket
    import subprocess

    from conftest import WREN, clean_env

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list = []
    def take() -> None:
        try:
            while True:
                held.append(server.accept())
        except OSError:  # the server closed at the test's end
            pass

    threading.Thread(target=take, daemon=True).start()
    base = f"http://127.0.0.1:{server.getsockname()[1]}/v1"
    env = {**clean_env(), "OPENAI_API_KEY": "sk-test"}
    try:
        run = wren("run", "hi", "--model", "openai/gpt-4o", "--api-base", base, "--timeout", "3", "--output-format", "json",
                   cwd=calc_repo, env=env)  # wren's own 120 s guard fails the test where the call is not cut
        assert (run.code, run.json["status"], run.json["summary"]) == (5, "limit", "time limit reached (3s)"), run.stderr
        before = len(held)
        proc = subprocess.Popen([str(WREN), "run", "hi", "--model", "openai/gpt-4o", "--api-base", base,
                                 "--output-format", "json"], cwd=calc_repo, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        for line in proc.stderr:  # the session has started: its request is on its way
            if line.startswith("wren: session"):
                break
        while len(held) == before and proc.poll() is None:  # this run's request has reached the server
            threading.Event().wait(0.1)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 130, err
        assert json.loads(out.splitlines()[-1])["status"] == "interrupted"
    finally:
        server.close()


def test_a_second_ctrl_c_quits_at_once_and_still_prints_the_result(calc_repo, tmp_path):
    """The first Ctrl+C stops the turn; a second one, while the command is still being stopped (it ignores
    SIGTERM, so Wren waits its grace period before SIGKILL), quits at once. It printed no result, so a script
    reading the JSON could not tell which session ran."""
    import signal
    import subprocess
    import time

    from conftest import WREN, clean_env

    (calc_repo / "wren.toml").write_text('[sandbox]\nmode = "off"\n')
    model = write_script(tmp_path / "script.json", [
        {"tool_calls": [{"name": "shell", "arguments": {"command": "trap '' TERM; touch started; sleep 60"}}]}, DONE])
    proc = subprocess.Popen([str(WREN), "run", "wait", "--model", model, "--approval", "auto", "--output-format", "json"],
                            cwd=calc_repo, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    while not (calc_repo / "started").exists() and proc.poll() is None:  # the command runs
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    for line in proc.stderr:
        if "interrupting" in line:
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    result = json.loads(out.splitlines()[-1])
    assert (result["status"], result["exit_code"]) == ("interrupted", 130) and result["session_id"]
    assert "quit at once" in result["summary"] and f"wren sessions show {result['session_id']}" in err


def test_file_tools_refuse_a_fifo_instead_of_waiting_on_it(calc_repo, tmp_path):
    """read_file, edit_file and write_file opened a FIFO in the workspace and waited for a writer forever,
    past SIGTERM (the approval preview of write_file opened it too)."""
    import os

    os.mkfifo(calc_repo / "fifo.py")
    run = run_script(calc_repo, tmp_path, [
        {"tool_calls": [{"name": "read_file", "arguments": {"path": "fifo.py"}}]},
        {"tool_calls": [{"name": "edit_file", "arguments": {"path": "fifo.py", "old": "a", "new": "b"}}],
         "expect": ["is a FIFO, not a regular file"]},
        {"tool_calls": [{"name": "write_file", "arguments": {"path": "fifo.py", "content": "x = 1\n"}}],
         "expect": ["is a FIFO, not a regular file"]},
        {"content": "stopped", "expect": ["is a FIFO, not a regular file"]}])
    assert run.code == 0, run.stderr
