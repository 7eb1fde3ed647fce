"""Without the embedding model (an empty model folder, no network): one clear warning, `wren doctor`
says so, session memory still answers lexically, and the session records which retrieval ran."""
from __future__ import annotations

import json

from conftest import clean_env, wren, write_script
from test_context import DIRECTIVE, WINDOW, logged, make_repo, read


def test_missing_embedding_model_warns_once_and_search_stays_lexical(calc_repo, tmp_path):
    empty = tmp_path / "no-model"
    empty.mkdir()
    env = clean_env(WREN_EMBEDDING_MODEL_DIR=str(empty), WREN_OFFLINE="1")
    make_repo(calc_repo)
    turns = [read("notes/needle.txt")] + [read(f"big_{i}.txt") for i in range(16)]
    turns += [{"tool_calls": [{"name": "recall", "arguments": {"query": "deploy password hint"}}]},
              {"content": "done"}]
    script = tmp_path / "s.json"
    script.write_text(json.dumps({"window": WINDOW, "turns": turns}))
    run = wren("run", f"Audit every file. {DIRECTIVE}", "--model", f"scripted:{script}", "--approval", "auto",
               "--output-format", "json", "--max-steps", "40", cwd=calc_repo, env=env, timeout=300)
    assert run.code == 0, run.stderr
    events = logged(calc_repo, run.json["session_id"])
    warnings = [e["message"] for e in events if e["type"] == "error" and "embedding" in e["message"]]
    assert len(warnings) == 1, warnings
    assert str(empty) in warnings[0] and "wren models pull all-minilm-l6-v2" in warnings[0] and "lexical" in warnings[0]
    assert run.stderr.count("embedding model") == 1, run.stderr
    compactions = [e for e in events if e["type"] == "context_compacted"]
    assert compactions and all(c["retrieval"].startswith("lexical (BM25)") for c in compactions)
    shown = wren("sessions", "show", run.json["session_id"], "--compactions", cwd=calc_repo, env=env)
    assert "--- memory search: lexical (BM25): the embedding model is missing" in shown.stdout, shown.stdout
    recalled = next(e for e in events if e["type"] == "tool_result" and e["name"] == "recall")
    assert "PURPLE-OTTER-42" in recalled["output"]

    doctor = wren("doctor", cwd=calc_repo, env=env)
    assert f"embeddings     missing: all-MiniLM-L6-v2 is not in {empty}" in doctor.stdout, doctor.stdout


def test_a_failed_download_of_the_embedding_model_leaves_no_empty_model_folder(tmp_path, monkeypatch):
    """Chroma makes the model's folder before it downloads; a download that fails (here: Chroma's own
    download code against a port where nothing listens) takes that folder away again."""
    from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2

    from wren.context.embeddings import download_model

    monkeypatch.setattr(ONNXMiniLM_L6_V2, "MODEL_DOWNLOAD_URL", "http://127.0.0.1:9/onnx.tar.gz")
    folder = tmp_path / "onnx_models" / "all-MiniLM-L6-v2" / "onnx"
    why = download_model(folder)
    assert why.startswith("the download failed"), why
    assert (tmp_path / "onnx_models").is_dir() and not folder.parent.exists()
    existing = tmp_path / "kept" / "all-MiniLM-L6-v2"
    existing.mkdir(parents=True)
    assert download_model(existing / "onnx") and existing.is_dir()  # a folder that was there stays


def test_a_hosted_embedder_that_fails_warns_once_and_search_stays_lexical(calc_repo, tmp_path):
    """`embeddings = "openai/..."` with no key: the first search ended the run with an internal error (exit 1)
    and a traceback from the indexing thread. Now one warning, and search_code and recall answer lexically."""
    (calc_repo / "wren.toml").write_text('embeddings = "openai/text-embedding-3-small"\n')
    (calc_repo / "notes.txt").write_text("The deploy password hint is PURPLE-OTTER-42.\n")
    script = write_script(tmp_path / "s.json", [
        {"tool_calls": [{"name": "search_code", "arguments": {"query": "add two numbers"}}]},
        {"tool_calls": [{"name": "read_file", "arguments": {"path": "notes.txt"}}]},
        {"tool_calls": [{"name": "compact", "arguments": {}}]},
        {"tool_calls": [{"name": "recall", "arguments": {"query": "deploy password hint"}}]},
        {"content": "done"}])
    env = clean_env(WREN_OFFLINE="1")
    run = wren("run", "Find add.", "--model", script, "--approval", "auto", "--output-format", "json",
               cwd=calc_repo, env=env, timeout=300)
    assert run.code == 0, run.stderr
    assert run.stderr.count("hosted embeddings openai/text-embedding-3-small failed") == 1, run.stderr
    assert "Traceback" not in run.stderr
    results = {e["name"]: e["output"] for e in logged(calc_repo, run.json["session_id"]) if e["type"] == "tool_result"}
    assert "calc.py" in results["search_code"] and "still filling in" not in results["search_code"]
    assert "PURPLE-OTTER-42" in results["recall"]
    doctor = wren("doctor", cwd=calc_repo, env=env)
    assert "OPENAI_API_KEY is not set, so search is lexical only" in doctor.stdout, doctor.stdout


def test_config_names_a_bad_embedder_and_warns_of_unknown_keys(calc_repo):
    (calc_repo / "wren.toml").write_text('aproval = "auto"\nembeddings = "nonsense"\n')
    run = wren("run", "hi", "--model", "scripted:/dev/null", "--output-format", "json", cwd=calc_repo)
    assert run.code == 2 and run.json["error"]["kind"] == "config"
    assert "bad config value embeddings: 'nonsense' is not \"default\"" in run.stderr, run.stderr
    assert "unknown config key 'aproval'" in run.stderr and "did you mean 'approval'?" in run.stderr
    (calc_repo / "wren.toml").write_text('aproval = "auto"\n')
    doctor = wren("doctor", cwd=calc_repo)
    assert doctor.stderr.count("unknown config key 'aproval'") == 1, doctor.stderr


def test_a_window_too_small_for_the_tools_is_a_config_error(calc_repo):
    """`[context] window = 512` passed the config and every run ended at its first step with exit 3, saying
    "the model's window is 512 tokens, 1024 of them kept for the reply"."""
    (calc_repo / "wren.toml").write_text("[context]\nwindow = 512\n")
    run = wren("run", "hi", "--model", "scripted:/dev/null", cwd=calc_repo)
    assert run.code == 2 and "bad config value context.window" in run.stderr and "2048" in run.stderr, run.stderr
