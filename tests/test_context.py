"""Context that lasts: a long scripted session on a small window, compaction, recall and resume."""
from __future__ import annotations

import json

from conftest import wren

DIRECTIVE = "Directive: never modify anything under notes/, and answer in English."
NEEDLE = "The deploy password hint is PURPLE-OTTER-42."
WINDOW = 6000


def make_repo(repo):
    (repo / "notes").mkdir()
    (repo / "notes" / "needle.txt").write_text(f"Meeting notes.\n{NEEDLE}\nNothing else.\n")
    for i in range(60):
        lines = [f"line {n} of big file {i}: " + "lorem ipsum dolor sit amet " * 3 for n in range(40)]
        (repo / f"big_{i}.txt").write_text("\n".join(lines) + "\n")


def read(path):
    return {"tool_calls": [{"name": "read_file", "arguments": {"path": path}}], "expect": [DIRECTIVE]}


def logged(repo, session_id):
    path = repo / ".wren" / "sessions" / f"{session_id}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_long_session_compacts_recalls_and_keeps_directives(calc_repo, tmp_path):
    make_repo(calc_repo)
    turns = [read("notes/needle.txt")]
    turns += [read(f"big_{i}.txt") for i in range(45)]
    turns += [{"tool_calls": [{"name": "recall", "arguments": {"query": "deploy password hint"}}],
               "expect": [DIRECTIVE]},
              {"tool_calls": [{"name": "read_file", "arguments": {"path": "big_50.txt"}}],
               "expect": [DIRECTIVE, "PURPLE-OTTER-42"]}]
    turns += [read(f"big_{i}.txt") for i in range(51, 60)]
    turns += [{"content": "Audit done.", "expect": [DIRECTIVE]}]
    first = tmp_path / "first.json"
    first.write_text(json.dumps({"window": WINDOW, "turns": turns}))
    run = wren("run", f"Audit every file. {DIRECTIVE}", "--model", f"scripted:{first}", "--approval", "auto",
               "--output-format", "json", "--max-steps", "100", cwd=calc_repo, timeout=300)
    assert run.code == 0, run.stderr
    assert run.json["steps"] >= 58
    events = logged(calc_repo, run.json["session_id"])
    compactions = [e for e in events if e["type"] == "context_compacted"]
    assert len(compactions) >= 5
    assert all(c["reason"] == "auto" for c in compactions)  # never an overflow: the budget held
    assert all(c["tokens_after"] < c["tokens_before"] for c in compactions)
    sizes = [e["step"]["prompt_tokens"] for e in events if e["type"] == "usage"]
    assert max(sizes) <= WINDOW
    recall_at = next(i for i, e in enumerate(events) if e["type"] == "tool_result" and e["name"] == "recall")
    assert "PURPLE-OTTER-42" in events[recall_at]["output"]
    # The needle had been compacted away before the recall: only memory could bring it back.
    evicted_at = next(i for i, e in enumerate(events) if e["type"] == "context_compacted"
                      and any("PURPLE-OTTER-42" in item["preview"] for item in e["items"]))
    assert evicted_at < recall_at

    second = tmp_path / "second.json"
    second.write_text(json.dumps({"window": WINDOW, "turns": [
        {"content": "The hint was PURPLE-OTTER-42.", "expect": [DIRECTIVE, "PURPLE-OTTER-42", "Recalled from"]}]}))
    again = wren("run", "--resume", run.json["session_id"], "What was the deploy password hint?",
                 "--model", f"scripted:{second}", "--output-format", "json", cwd=calc_repo, timeout=300)
    assert again.code == 0, again.stderr
    user = [e for e in logged(calc_repo, run.json["session_id"]) if e["type"] == "user_message"][-1]
    assert "PURPLE-OTTER-42" in user["recalled"]


def test_compaction_that_cannot_free_room_stops(calc_repo, tmp_path):
    script = tmp_path / "s.json"
    script.write_text(json.dumps({"window": 2000, "turns": [{"content": "never reached"}]}))
    run = wren("run", "x " * 6000, "--model", f"scripted:{script}", "--output-format", "json", cwd=calc_repo)
    assert run.code == 3
    assert run.json["error"]["kind"] == "context_window"
    events = logged(calc_repo, run.json["session_id"])
    assert sum(e["type"] == "context_compacted" for e in events) <= 1


def test_sessions_show_compactions(calc_repo, tmp_path):
    make_repo(calc_repo)
    turns = [read(f"big_{i}.txt") for i in range(12)] + [{"content": "done"}]
    script = tmp_path / "s.json"
    summary = f"Read the first big files. Task: Read files. {DIRECTIVE}"  # a summary keeps the task
    script.write_text(json.dumps({"window": WINDOW, "turns": turns, "summaries": [summary]}))
    run = wren("run", f"Read files. {DIRECTIVE}", "--model", f"scripted:{script}", "--approval", "auto",
               "--output-format", "json", cwd=calc_repo)
    assert run.code == 0, run.stderr
    shown = wren("sessions", "show", run.json["session_id"], "--compactions", cwd=calc_repo)
    assert shown.code == 0, shown.stderr
    assert "Read the first big files." in shown.stdout
    assert "big_0.txt" in shown.stdout and "tokens" in shown.stdout
    assert "--- memory search: hybrid (all-MiniLM-L6-v2 + BM25)" in shown.stdout or \
        "--- memory search: lexical (BM25)" in shown.stdout


def test_agents_md_is_pinned_in_every_prompt(calc_repo, tmp_path):
    (calc_repo / "AGENTS.md").write_text("Always run the tests with -q.\n")
    script = tmp_path / "s.json"
    script.write_text(json.dumps({"turns": [
        {"tool_calls": [{"name": "list_files", "arguments": {}}], "expect": ["Always run the tests with -q."]},
        {"content": "ok", "expect": ["Always run the tests with -q."]}]}))
    run = wren("run", "look around", "--model", f"scripted:{script}", "--output-format", "json", cwd=calc_repo)
    assert run.code == 0, run.stderr
