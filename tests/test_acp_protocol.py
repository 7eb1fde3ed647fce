"""`wren acp` as a JSON-RPC peer: framing, errors, initialize, sessions, exit on EOF."""
from __future__ import annotations

from pathlib import Path

import pytest

from acp_client import running
from conftest import alive, descendants, processes_with, wait_until, write_script


@pytest.fixture
def agent(calc_repo, tmp_path):
    model = write_script(tmp_path / "script.json", [{"content": "unused"}])
    with running("--model", model, cwd=calc_repo) as client:
        yield client


def test_bad_lines_get_errors_and_the_server_keeps_serving(agent, calc_repo):
    agent.send_raw(b"{bad\n")
    agent.until(lambda: any(m.get("error", {}).get("code") == -32700 for m in agent.messages))
    parse_error = next(m for m in agent.messages if m.get("error", {}).get("code") == -32700)
    assert parse_error["id"] is None

    init = agent.request("initialize", {"protocolVersion": 65535, "clientCapabilities": {}}, id_="init-1")
    assert init["id"] == "init-1"
    result = init["result"]
    assert result["protocolVersion"] == 1
    assert result["agentCapabilities"]["loadSession"] is True
    assert result["agentCapabilities"]["promptCapabilities"]["embeddedContext"] is True
    # Spec-following editors send HTTP MCP servers only to agents that say they take them.
    assert result["agentCapabilities"]["mcpCapabilities"] == {"http": True, "sse": False}
    assert result["agentInfo"]["name"] == "wren"

    agent.send({"jsonrpc": "2.0", "id": 41})
    assert agent.wait(41)["error"]["code"] == -32600
    agent.send({"jsonrpc": "2.0", "id": 42, "method": 7})
    assert agent.wait(42)["error"]["code"] == -32600
    assert agent.request("no/such/method", {}, id_=43)["error"]["code"] == -32601
    agent.notify("no/such/notification", {"x": 1})
    agent.notify("session/cancel", {})  # no sessionId: a one-line warning (the SDK logged a pydantic traceback)
    agent.until(lambda: any("session/cancel without a sessionId" in line for line in agent.stderr))

    first, second = agent.new_session(calc_repo), agent.new_session(calc_repo)
    assert first != second
    relative = agent.request("session/new", {"cwd": "repo", "mcpServers": []})
    assert relative["error"]["code"] == -32602 and "absolute" in relative["error"]["message"]
    unknown = agent.request("session/prompt", {"sessionId": "nope", "prompt": [{"type": "text", "text": "hi"}]})
    assert unknown["error"]["code"] == -32002  # ACP: resource not found
    # Only the parse error went back without an id: the unknown notification got no reply at all.
    answered = [m["id"] for m in agent.messages if "id" in m and "method" not in m]
    assert answered.count(None) == 1
    assert agent.close() == 0 and not agent.shutdown_warnings()
    assert not any("Traceback" in line for line in agent.stderr)


def test_new_session_offers_modes_options_and_commands(agent, calc_repo):
    agent.initialize()
    reply = agent.request("session/new", {"cwd": str(calc_repo), "mcpServers": []})["result"]
    sid = reply["sessionId"]
    assert reply["modes"]["currentModeId"] == "ask"
    assert [m["id"] for m in reply["modes"]["availableModes"]] == ["read-only", "ask", "auto-edit", "auto", "plan"]
    by_category = {o["category"]: o for o in reply["configOptions"]}
    assert by_category["mode"]["currentValue"] == "ask"
    assert [o["value"] for o in by_category["thought_level"]["options"]] == ["low", "medium", "high", "max"]
    assert by_category["model"]["currentValue"].startswith("scripted:")
    agent.until(lambda: agent.updates(sid, "available_commands_update"))
    names = [c["name"] for c in agent.updates(sid, "available_commands_update")[0]["availableCommands"]]
    assert {"mode", "model", "effort", "status"} <= set(names)
    response_at = next(i for i, m in enumerate(agent.messages) if m.get("result", {}).get("sessionId") == sid)
    commands_at = next(i for i, m in enumerate(agent.messages) if m.get("method") == "session/update")
    assert response_at < commands_at, "the editor must know the session before it gets updates for it"

    changed = agent.request("session/set_config_option", {"sessionId": sid, "configId": "mode", "value": "auto"})
    assert {o["id"]: o["currentValue"] for o in changed["result"]["configOptions"]}["mode"] == "auto"
    agent.until(lambda: agent.updates(sid, "current_mode_update"))
    assert agent.request("session/set_mode", {"sessionId": sid, "modeId": "read-only"})["result"] == {}
    bad = agent.request("session/set_mode", {"sessionId": sid, "modeId": "yolo"})
    assert bad["error"]["code"] == -32602
    status = agent.prompt(sid, "/status")
    assert status["result"]["stopReason"] == "end_turn"
    empty = agent.request("session/prompt", {"sessionId": sid, "prompt": []})  # ran a turn on nothing
    assert empty["error"]["code"] == -32602 and "empty" in empty["error"]["message"]
    said = "".join(u["content"]["text"] for u in agent.updates(sid, "agent_message_chunk"))
    assert "approval read-only" in said and sid in said


def test_big_prompt_and_utf8_survive(calc_repo, tmp_path):
    text = "emoji 🐦 and\nnewlines\n" + "x" * (5 * 1024 * 1024)
    model = write_script(tmp_path / "s.json", [
        {"content": "Réponse 🐦\nligne deux\n\n", "expect": ["emoji 🐦 and\nnewlines"]}])
    with running("--model", model, cwd=calc_repo) as client:
        client.initialize()
        sid = client.new_session(calc_repo)
        reply = client.prompt(sid, text, timeout=60)
        assert reply["result"]["stopReason"] == "end_turn", reply
        said = "".join(u["content"]["text"] for u in client.updates(sid, "agent_message_chunk"))
        assert said == "Réponse 🐦\nligne deux\n\n"
        assert client.close() == 0 and not client.shutdown_warnings()


def test_closing_stdin_exits_and_leaves_no_children(calc_repo, tmp_path):
    model = write_script(tmp_path / "s.json", [
        {"tool_calls": [{"name": "shell", "arguments": {"command": "sleep 86413"}}]}])  # only a kill ends it
    with running("--model", model, "--approval", "auto", cwd=calc_repo) as client:
        client.initialize()
        sid = client.new_session(calc_repo)
        prompt = client.start_prompt(sid, "wait")
        client.until(lambda: processes_with("sleep 86413", below=client.proc.pid))
        children = descendants(client.proc.pid)
        assert client.close() == 0 and not client.shutdown_warnings()
        # Nothing can approve or cancel the turn any more, so it is cancelled, and the prompt answered.
        assert client.answered(prompt)["result"]["stopReason"] == "cancelled"
        wait_until(lambda: not [pid for pid in children if alive(pid)])  # a child left running hangs here


def test_requests_in_flight_when_stdin_closes_are_answered(calc_repo, tmp_path):
    """`printf REQUESTS | wren acp`: every request gets its answer before the agent exits."""
    model = write_script(tmp_path / "s.json", [{"content": "unused"}])
    with running("--model", model, cwd=calc_repo) as client:
        first = client.start("initialize", {"protocolVersion": 1, "clientCapabilities": {}})
        new = client.start("session/new", {"cwd": str(calc_repo), "mcpServers": []})
        unknown = client.start_prompt("nope", "hi")
        assert client.close() == 0
        assert client.answered(first)["result"]["protocolVersion"] == 1
        assert client.answered(new)["result"]["sessionId"]
        assert client.answered(unknown)["error"]["code"] == -32002


def test_answers_to_the_agents_requests_are_not_awaited_at_exit(calc_repo, tmp_path):
    """The client's answer to session/request_permission was counted as a request of its own in flight, so
    closing stdin after any approval waited 30 s for an answer to it and logged that it got none."""
    model = write_script(tmp_path / "s.json", [
        {"tool_calls": [{"name": "edit_file", "arguments": {"path": "calc.py", "old": "a - b", "new": "a + b"}}]},
        {"content": "fixed"}])
    with running("--model", model, "--approval", "ask", cwd=calc_repo) as client:
        client.initialize()
        sid = client.new_session(calc_repo)
        assert client.prompt(sid, "fix add")["result"]["stopReason"] == "end_turn"
        assert client.permission_requests
        assert client.close() == 0
    assert not [line for line in client.stderr if "did not get an answer" in line], client.stderr
