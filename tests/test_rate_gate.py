"""One rate-limit budget per provider across a batch's workers (agent/rate_gate.py), through real
`wren run` and `wren batch` processes on scripted models."""
from __future__ import annotations

import json
from pathlib import Path

from conftest import clean_env, wren, write_script
from test_batch import FIX, results, tasks_file

from wren.agent.rate_gate import ENV, RateGate, provider


def test_provider_names_are_file_names():
    assert provider("anthropic/claude-sonnet-4-5") == "anthropic"
    assert provider("local:/models/x.gguf") == "local"
    assert provider("scripted:/tmp/a b.json") == "scripted"
    assert provider("gpt-4o") == "gpt-4o"


def test_a_hold_from_another_worker_makes_a_run_wait_and_say_so(calc_repo, tmp_path):
    gate = RateGate(tmp_path / "limits")
    model = write_script(tmp_path / "fix.json", FIX)
    # As if another worker of the batch had just been answered 429. The hold must outlast the run's
    # start-up (a few seconds, far more on a loaded CI machine: 1.5 s once ran out before the first call).
    gate.hold(model, 20)
    held = gate.not_before(model)
    gate.hold(model, 0.1)  # a shorter hold never cuts a longer one
    assert held > 0 and gate.not_before(model) == held
    run = wren("run", "fix add", "--model", model, "--approval", "auto", "--output-format", "stream-json",
               cwd=calc_repo, env=clean_env(**{ENV: str(tmp_path / "limits")}))
    events = [json.loads(line) for line in run.stdout.splitlines()]
    assert run.code == 0, run.stderr
    waits = [e["message"] for e in events if e["type"] == "error" and "rate limiting this batch" in e["message"]]
    assert len(waits) == 1 and not any(e["fatal"] for e in events if e["type"] == "error")


def test_a_429_in_one_task_holds_the_provider_for_the_whole_batch(calc_repo, tmp_path):
    limited = [{"error": "rate_limit"}, *FIX]
    tasks = tasks_file(tmp_path, [
        {"id": "limited", "repo": str(calc_repo), "prompt": "fix add", "approval": "auto",
         "model": write_script(tmp_path / "limited.json", limited)}])
    out = tmp_path / "out"
    run = wren("batch", str(tasks), "--out", str(out), "--output-format", "json", cwd=tmp_path)
    assert run.code == 0, run.stderr
    assert results(out)["limited"]["status"] == "success"
    held = Path(out / "rate-limits" / "scripted")  # the batch's shared gate now holds the provider's time
    assert held.is_file() and float(held.read_text()) > 0


def test_without_a_batch_the_gate_never_waits(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    gate = RateGate.from_env()
    gate.hold("anthropic/x", 60)
    said: list[str] = []
    assert gate.wait("anthropic/x", lambda: None, said.append) == 0.0 and said == []


def test_a_gate_folder_that_cannot_be_written_leaves_runs_to_their_own_backoff(tmp_path):
    (tmp_path / "limits").write_text("a file where the folder should be")
    gate = RateGate(tmp_path / "limits")
    gate.hold("anthropic/x", 60)  # no error: the gate is best effort
    assert gate.not_before("anthropic/x") == 0.0


def test_a_tasks_file_with_a_byte_order_mark_loads(tmp_path):
    from wren.cli.batch import load_tasks

    path = tmp_path / "tasks.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"id": "a", "repo": ".", "prompt": "p"}).encode() + b"\n")
    assert [t.id for t in load_tasks(path)] == ["a"]
