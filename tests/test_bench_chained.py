"""The chained-task benchmark (bench/chained.py): one session over several tasks, rows per task."""
from __future__ import annotations

import json

from bench import chained
from test_bench_tasks import workspace
from wren.agent.models.scripted import ScriptedBackend

FIX = {"name": "edit_file", "arguments": {"path": "python_programs/gcd.py", "old": "gcd(a % b, b)",
                                           "new": "gcd(b, a % b)"}}
BULKY = [{"name": "shell", "arguments": {"command": f"seq {n}00000 {n}00600"}} for n in (1, 2, 3)]  # ~800 tokens each


def test_a_chain_checks_each_task_after_its_turn_and_counts_compactions(tmp_path):
    repo = workspace(tmp_path)
    # Three bulky results take the prompt past the window's limit: a compaction must happen in task 1
    # (one result alone only crosses the trigger, and the attempt's working set is then left alone).
    turns = [{"tool_calls": [call]} for call in BULKY] + [{"tool_calls": [FIX]}, {"content": "fixed gcd"},
             {"tool_calls": [{"name": "compact", "arguments": {}}]},
             {"content": "gcd passes already"}]
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"turns": turns, "summaries": ["Task: fix gcd. Done: gcd fixed."] * 8}))
    rows = chained.run_chain("tools", ["gcd", "gcd"], repo, ScriptedBackend(script), 4096, 600, tmp_path)
    assert [r["task"] for r in rows] == ["gcd", "gcd"] and all(r["solved"] for r in rows)
    assert [r["status"] for r in rows] == ["success", "success"] and rows[1]["steps"] == 2
    assert rows[0]["steps"] == 5 and rows[0]["compactions"] >= 1 and rows[1]["compactions"] >= 1
    assert max(r["most_compactions_between_steps"] for r in rows) == 1  # no compaction loop
    saved = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert saved == rows
    assert "| tools | 2/2 |" in chained.table(rows, ["tools"])


def test_the_no_tools_variant_lacks_only_the_context_tools():
    with_tools, without = chained.registry("tools").tools, chained.registry("no-tools").tools
    assert set(with_tools) - set(without) == set(chained.CONTEXT_TOOLS)
    assert "recall" in without and "edit_file" in without
