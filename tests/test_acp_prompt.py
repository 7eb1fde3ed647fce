"""Turns over ACP: streaming, tool call lifecycle, permissions, cancel, session/load."""
from __future__ import annotations

from acp_client import AcpClient, running
from conftest import CALC, processes_with, wait_until, write_script

FIXED = CALC.replace("a - b", "a + b")
EDIT = {"name": "edit_file", "arguments": {"path": "calc.py", "old": "return a - b", "new": "return a + b"}}
PLAN = {"name": "update_plan", "arguments": {"steps": [{"content": "fix add", "status": "in_progress"},
                                                       {"content": "run tests", "status": "pending"}]}}


def _response_index(client: AcpClient, id_) -> int:
    return next(i for i, m in enumerate(client.messages) if m.get("id") == id_ and "method" not in m)


def test_prompt_streams_tool_calls_and_ends_the_turn(calc_repo, tmp_path):
    model = write_script(tmp_path / "s.json", [
        {"content": "Planning. ", "tool_calls": [PLAN]},
        {"content": "Fixing calc.py.", "tool_calls": [EDIT]},
        {"content": "Done: add() adds 🐦.", "expect": ["Edited calc.py"]},
    ])
    with running("--model", model, "--approval", "auto", cwd=calc_repo) as client:
        client.initialize()
        sid = client.new_session(calc_repo)
        id_ = client.start_prompt(sid, "fix add")
        reply = client.wait(id_)
        assert reply["result"]["stopReason"] == "end_turn", reply
        assert (calc_repo / "calc.py").read_text() == FIXED

        said = "".join(u["content"]["text"] for u in client.updates(sid, "agent_message_chunk"))
        assert said == "Planning. Fixing calc.py.Done: add() adds 🐦."
        plan = client.updates(sid, "plan")[0]["entries"]
        assert [(e["content"], e["status"]) for e in plan] == [("fix add", "in_progress"), ("run tests", "pending")]

        start = next(u for u in client.updates(sid, "tool_call") if u["kind"] == "edit")
        assert start["status"] == "pending"
        assert start["locations"] == [{"path": str(calc_repo / "calc.py")}]
        # The whole file before and after, as ACP's diff content means (the edit tool's own preview).
        assert start["content"][0] == {"type": "diff", "path": str(calc_repo / "calc.py"),
                                       "oldText": CALC,
                                       "newText": FIXED}
        progress = [u for u in client.updates(sid, "tool_call_update") if u["toolCallId"] == start["toolCallId"]]
        assert [u.get("status") for u in progress] == ["in_progress", "completed"]
        diff = next(c for c in progress[-1]["content"] if c["type"] == "diff")
        assert "return a - b" in diff["oldText"] and "return a + b" in diff["newText"]
        assert diff["path"] == str(calc_repo / "calc.py")

        usage = client.updates(sid, "usage_update")
        assert len(usage) == 3 and all(u["used"] > 0 for u in usage)
        client.drain(0.5)
        after = [m for m in client.messages[_response_index(client, id_) + 1:] if m.get("method") == "session/update"]
        assert after == [], "no update may follow the prompt's response"
        assert client.close() == 0 and not client.shutdown_warnings()


def test_permission_reject_allow_once_and_allow_always(calc_repo, tmp_path):
    model = write_script(tmp_path / "s.json", [
        {"tool_calls": [EDIT]},
        {"content": "You said no.", "expect": ["Denied: the user rejected this call"]},
        {"tool_calls": [EDIT]},
        {"tool_calls": [{"name": "write_file", "arguments": {"path": "notes.txt", "content": "one\n"}}]},
        {"content": "Both written."},
        {"tool_calls": [{"name": "write_file", "arguments": {"path": "a.txt", "content": "a\n"}}]},
        {"tool_calls": [{"name": "write_file", "arguments": {"path": "b.txt", "content": "b\n"}}]},
        {"content": "All done."},
    ])
    answers = iter(["reject_once", "allow_once", "allow_once", "allow_always"])
    disk_when_asked: list[str] = []

    def permission(params: dict) -> str:
        disk_when_asked.append((calc_repo / "calc.py").read_text())
        return next(answers)

    with running("--model", model, cwd=calc_repo, permission=permission) as client:
        client.initialize()
        sid = client.new_session(calc_repo)
        assert client.prompt(sid, "fix it")["result"]["stopReason"] == "end_turn"
        assert (calc_repo / "calc.py").read_text() == CALC
        ask = client.permission_requests[0]
        assert {o["kind"] for o in ask["options"]} == {"allow_once", "allow_always", "reject_once", "reject_always"}
        assert ask["toolCall"]["content"][0]["type"] == "diff"
        failed = [u for u in client.updates(sid, "tool_call_update") if u.get("status") == "failed"]
        assert len(failed) == 1 and failed[0]["toolCallId"] == ask["toolCall"]["toolCallId"]

        assert client.prompt(sid, "try again")["result"]["stopReason"] == "end_turn"
        assert (calc_repo / "calc.py").read_text() == FIXED
        assert (calc_repo / "notes.txt").read_text() == "one\n"
        assert len(client.permission_requests) == 3, "allow_once asks again next time"
        assert disk_when_asked[:2] == [CALC, CALC], "nothing is written before the answer"

        assert client.prompt(sid, "more files")["result"]["stopReason"] == "end_turn"
        assert (calc_repo / "a.txt").read_text() == "a\n" and (calc_repo / "b.txt").read_text() == "b\n"
        assert len(client.permission_requests) == 4, "allow_always stops asking for that tool"
        client.close()


def test_reject_always_stops_asking_and_denies(calc_repo, tmp_path):
    model = write_script(tmp_path / "s.json", [
        {"tool_calls": [EDIT]},
        {"tool_calls": [EDIT]},
        {"content": "Gave up.", "expect": ["rejected edit_file for this session"]},
    ])
    with running("--model", model, cwd=calc_repo, permission=lambda params: "reject_always") as client:
        client.initialize()
        sid = client.new_session(calc_repo)
        assert client.prompt(sid, "fix it")["result"]["stopReason"] == "end_turn"
        assert len(client.permission_requests) == 1
        assert (calc_repo / "calc.py").read_text() == CALC
        client.close()


def test_cancel_mid_command_answers_cancelled_and_kills_it(calc_repo, tmp_path):
    # A day-long sleep: only a kill ends it, so the answer cannot come from the command finishing.
    model = write_script(tmp_path / "s.json", [
        {"tool_calls": [{"name": "shell", "arguments": {"command": "sleep 86411"}}]},
        {"content": "next turn", "expect": ["killed: interrupted"]},
    ])
    with running("--model", model, "--approval", "auto", cwd=calc_repo) as client:
        client.initialize()
        sid = client.new_session(calc_repo)
        id_ = client.start_prompt(sid, "wait")
        client.until(lambda: processes_with("sleep 86411", below=client.proc.pid))
        client.notify("session/cancel", {"sessionId": sid})
        assert client.wait(id_)["result"]["stopReason"] == "cancelled"
        wait_until(lambda: not processes_with("sleep 86411", below=client.proc.pid))
        # The session goes on: the next prompt sees the killed command.
        assert client.prompt(sid, "again")["result"]["stopReason"] == "end_turn"
        client.close()


def test_cancel_while_asking_writes_nothing(calc_repo, tmp_path):
    model = write_script(tmp_path / "s.json", [{"tool_calls": [EDIT]}])
    with running("--model", model, cwd=calc_repo, permission=lambda params: None) as client:
        client.initialize()
        sid = client.new_session(calc_repo)
        id_ = client.start_prompt(sid, "fix")
        client.until(lambda: client.permission_requests)
        client.notify("session/cancel", {"sessionId": sid})
        # The permission request is never answered, so only the cancel can end the turn.
        assert client.wait(id_)["result"]["stopReason"] == "cancelled"
        assert (calc_repo / "calc.py").read_text() == CALC
        client.close()


def test_load_replays_the_previous_turn_before_answering(calc_repo, tmp_path):
    first = write_script(tmp_path / "first.json", [{"tool_calls": [EDIT]}, {"content": "Fixed add()."}])
    with running("--model", first, "--approval", "auto", cwd=calc_repo) as client:
        client.initialize()
        sid = client.new_session(calc_repo)
        assert client.prompt(sid, "please fix add")["result"]["stopReason"] == "end_turn"
        client.close()

    second = write_script(tmp_path / "second.json", [
        {"content": "It returned a - b.", "expect": ["please fix add", "Fixed add()."]}])
    with running("--model", second, "--approval", "auto", cwd=calc_repo) as client:
        client.initialize()
        id_ = client.start("session/load", {"sessionId": sid, "cwd": str(calc_repo), "mcpServers": []})
        reply = client.wait(id_)
        assert reply["result"]["modes"]["currentModeId"] == "auto"
        before = [m["params"]["update"] for m in client.messages[:_response_index(client, id_)]
                  if m.get("method") == "session/update"]
        kinds = [u["sessionUpdate"] for u in before]
        assert kinds[:4] == ["user_message_chunk", "tool_call", "tool_call_update", "agent_message_chunk"]
        assert before[0]["content"]["text"] == "please fix add"
        assert before[2]["status"] == "completed"
        assert before[3]["content"]["text"] == "Fixed add()."
        assert client.prompt(sid, "what was wrong?")["result"]["stopReason"] == "end_turn"
        missing = client.request("session/load", {"sessionId": "20000101-000000-000000", "cwd": str(calc_repo),
                                                  "mcpServers": []})
        assert missing["error"]["code"] == -32002  # ACP: resource not found
        damaged = calc_repo / ".wren" / "sessions" / "20000101-000000-badbad.jsonl"
        damaged.write_text('{"type": "user_message", "text": "hi"}\ngarbage\n{"type": "user_message", "text": "x"}\n')
        broken = client.request("session/load", {"sessionId": damaged.stem, "cwd": str(calc_repo), "mcpServers": []})
        assert broken["error"]["code"] == -32603 and "damaged at line 2" in broken["error"]["message"]  # there, unreadable
        client.close()


def test_stop_reasons_for_limits_refusals_and_model_errors(calc_repo, tmp_path):
    # Calls that neither fail nor repeat (a stuck model would get a step to answer instead), up to the
    # default limit of 100 model calls.
    greps = [{"tool_calls": [{"name": "grep", "arguments": {"pattern": f"nowhere{n}"}}]} for n in range(100)]
    model = write_script(tmp_path / "s.json", [*greps, {"error": "content_policy"}])
    with running("--model", model, cwd=calc_repo) as client:
        client.initialize()
        sid = client.new_session(calc_repo)
        assert client.prompt(sid, "loop")["result"]["stopReason"] == "max_turn_requests"
        assert client.prompt(sid, "something bad")["result"]["stopReason"] == "refusal"
        exhausted = client.prompt(sid, "more")
        assert exhausted["error"]["code"] == -32603
        assert "ran out of turns" in exhausted["error"]["message"]
        client.close()


def test_model_config_option_switches_the_model(calc_repo, tmp_path):
    first = write_script(tmp_path / "first.json", [{"content": "from the first model"}])
    second = write_script(tmp_path / "second.json", [{"content": "from the second model"}])
    with running("--model", first, cwd=calc_repo) as client:
        client.initialize()
        sid = client.new_session(calc_repo)
        changed = client.request("session/set_config_option", {"sessionId": sid, "configId": "model", "value": second})
        model_option = next(o for o in changed["result"]["configOptions"] if o["category"] == "model")
        assert model_option["currentValue"] == second
        assert second in [o["value"] for o in model_option["options"]]
        assert client.prompt(sid, "hello")["result"]["stopReason"] == "end_turn"
        said = "".join(u["content"]["text"] for u in client.updates(sid, "agent_message_chunk"))
        assert said == "from the second model"
        bad = client.request("session/set_config_option",
                             {"sessionId": sid, "configId": "model", "value": f"scripted:{tmp_path / 'nope.json'}"})
        assert bad["error"]["code"] == -32602 and "cannot read scripted model file" in bad["error"]["message"]
        client.close()
