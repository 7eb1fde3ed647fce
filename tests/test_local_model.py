"""The bundled SmolLM2 GGUF on llama.cpp: constrained steps, KV reuse, bad model files."""
from __future__ import annotations

import json
import shutil

import pytest

from conftest import smollm2_path, wren

pytestmark = pytest.mark.slow

VALID_TOOLS = {"read_file", "list_files", "grep", "edit_file", "write_file", "shell", "run_tests", "update_plan"}
BAD_STEP = ("not valid JSON", "invalid arguments", "unknown tool", "must be a JSON object")
PROMPTS = [
    "List the files in this repository.",
    "Read calc.py and tell me what add does.",
    "Search for the word add in the Python files.",
    "Make a plan to fix the failing test, then run the tests.",
]


def session_events(repo, session_id):
    path = repo / ".wren" / "sessions" / f"{session_id}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_every_constrained_step_parses(calc_repo):
    steps = valid = 0
    for prompt in PROMPTS:
        run = wren("run", prompt, "--model", "local", "--approval", "read-only", "--max-steps", "6",
                   "--output-format", "json", cwd=calc_repo, timeout=600)
        assert run.json["error"] is None, run.stderr
        events = session_events(calc_repo, run.json["session_id"])
        results = {e["call_id"]: e for e in events if e["type"] == "tool_result"}
        for msg in (e for e in events if e["type"] == "assistant_message"):
            steps += 1
            if not msg["tool_calls"]:
                valid += bool(msg["content"].strip())
                continue
            (call,) = msg["tool_calls"]
            output = results[call["id"]]["output"]
            valid += call["name"] in VALID_TOOLS and not any(bad in output for bad in BAD_STEP)
    assert steps >= 20, f"only {steps} steps ran"
    assert valid == steps, f"{steps - valid} of {steps} steps did not parse into a valid call or reply"


def test_kv_cache_is_reused_between_steps(calc_repo):
    run = wren("run", "Read calc.py, then read test_calc.py, then list the files, then grep for add.",
               "--model", "local", "--approval", "read-only", "--max-steps", "5", "--output-format", "json",
               cwd=calc_repo, timeout=600)
    assert run.json["error"] is None, run.stderr
    usage = [e["step"] for e in session_events(calc_repo, run.json["session_id"]) if e["type"] == "usage"]
    assert len(usage) >= 3, "the model answered too early to measure reuse"
    later = usage[1:5]
    sent = sum(u["prompt_tokens"] for u in later)
    evaluated = sum(u["prompt_tokens"] - u["cached_tokens"] for u in later)
    assert evaluated < 0.4 * sent, f"evaluated {evaluated} of {sent} prompt tokens in steps 2+"


def test_missing_gguf_exits_2(calc_repo, tmp_path):
    run = wren("run", "hi", "--model", f"local:{tmp_path / 'nope.gguf'}", cwd=calc_repo)
    assert run.code == 2 and "does not exist" in run.stderr


def test_truncated_gguf_exits_2(calc_repo, tmp_path):
    cut = tmp_path / "cut.gguf"
    with smollm2_path().open("rb") as src, cut.open("wb") as dst:
        dst.write(src.read(smollm2_path().stat().st_size // 2))
    run = wren("run", "hi", "--model", f"local:{cut}", cwd=calc_repo)
    assert run.code == 2, run.stderr
    assert "truncated" in run.stderr or "is the file complete" in run.stderr


def test_header_only_gguf_exits_2(calc_repo, tmp_path):
    cut = tmp_path / "header.gguf"
    cut.write_bytes(smollm2_path().read_bytes()[:5000])
    run = wren("run", "hi", "--model", f"local:{cut}", cwd=calc_repo)
    assert run.code == 2 and "truncated" in run.stderr


def test_not_a_gguf_exits_2(calc_repo, tmp_path):
    fake = tmp_path / "model.gguf"
    fake.write_text("definitely not a model\n" * 100)
    run = wren("run", "hi", "--model", f"local:{fake}", cwd=calc_repo)
    assert run.code == 2 and "not a GGUF model file" in run.stderr


def test_prompt_that_cannot_fit_the_window_exits_3(calc_repo):
    (calc_repo / "wren.toml").write_text("[local]\nn_ctx = 1024\n")
    run = wren("run", "word " * 3000, "--model", "local", "--output-format", "json", cwd=calc_repo, timeout=300)
    assert run.code == 3
    assert run.json["error"]["kind"] == "context_window"
    assert "1024" in run.json["error"]["message"]


def test_named_model_from_config(calc_repo, tmp_path):
    copy = tmp_path / "mine.gguf"
    shutil.copy(smollm2_path(), copy)
    (calc_repo / "wren.toml").write_text(f'[local]\nmodels = {{ mine = "{copy}" }}\n')
    run = wren("run", "Say hi.", "--model", "local:mine", "--max-steps", "2", "--approval", "read-only",
               "--output-format", "json", cwd=calc_repo, timeout=300)
    assert run.json["error"] is None, run.stderr
    assert run.json["steps"] >= 1
