"""`wren index`, and search_code inside `wren run` (scripted model), as real subprocesses."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import clean_env, free_port, git, wren, write_script
from test_index import CART, USERS, commit_all, needs_model


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "shop").mkdir(parents=True)
    (root / "shop/cart.py").write_text(CART)
    (root / "shop/users.py").write_text(USERS)
    git(root, "init", "-q")
    commit_all(root)
    return root


def offline_env(tmp_path: Path) -> dict[str, str]:
    empty = tmp_path / "no-model"
    empty.mkdir(exist_ok=True)
    return clean_env(WREN_EMBEDDING_MODEL_DIR=str(empty), WREN_OFFLINE="1")


@needs_model
def test_wren_index_builds_then_updates(repo: Path):
    first = wren("index", "--cwd", str(repo))
    assert first.code == 0, first.stderr
    assert first.stdout.startswith("indexed 2 files: 2 changed, 0 removed")
    assert "wren index: chunking 2/2" in first.stderr and "wren index: embedding" in first.stderr
    assert (repo / ".wren/index/catalog.sqlite").is_file() and (repo / ".wren/index/chroma").is_dir()
    (repo / "shop/users.py").write_text(USERS + "\n\ndef logout(user):\n    return None\n")
    second = wren("index", "--cwd", str(repo))
    assert second.code == 0, second.stderr
    assert "2 files: 1 changed, 0 removed" in second.stdout and "1 chunks embedded, 0 waiting" in second.stdout


def unreachable_env(tmp_path: Path) -> dict[str, str]:
    """No model, and a download that fails at once: every proxy is a closed port on loopback."""
    env = offline_env(tmp_path)
    del env["WREN_OFFLINE"]
    closed = f"http://127.0.0.1:{free_port()}"
    env.update(HTTPS_PROXY=closed, HTTP_PROXY=closed, ALL_PROXY=closed, https_proxy=closed, http_proxy=closed,
               all_proxy=closed)
    for name in ("NO_PROXY", "no_proxy"):
        env.pop(name, None)
    return env


def test_wren_index_lexical_only_and_bad_cwd(repo: Path, tmp_path: Path):
    run = wren("index", "--cwd", str(repo), "--lexical-only")
    assert run.code == 0, run.stderr
    assert "embedding" not in run.stderr and "warning" not in run.stderr and "waiting" in run.stdout
    missing = wren("index", "--cwd", str(tmp_path / "nope"))
    assert missing.code == 2 and "not an existing directory" in missing.stderr


def test_wren_index_lexical_only_fetches_no_model(repo: Path, tmp_path: Path):
    run = wren("index", "--cwd", str(repo), "--lexical-only", env=unreachable_env(tmp_path))
    assert run.code == 0, run.stderr
    assert run.stderr == "wren index: chunking 2/2\n"  # no download tried, so nothing to warn about
    assert run.stdout.startswith("indexed 2 files: 2 changed") and "0 chunks embedded, 8 waiting" in run.stdout


def test_a_failed_model_download_is_one_warning_line(repo: Path, tmp_path: Path):
    run = wren("index", "--cwd", str(repo), env=unreachable_env(tmp_path))
    assert run.code == 0, run.stderr
    assert "Traceback" not in run.stderr
    [warning] = [line for line in run.stderr.splitlines() if line != "wren index: chunking 2/2"]
    assert warning.startswith("wren: warning: embedding model all-MiniLM-L6-v2 not found in "
                              f"{tmp_path / 'no-model'} (the download failed: ")
    assert "wren models pull all-minilm-l6-v2" in warning  # and how to fix it
    assert "no embeddings (lexical only)" in run.stdout


def test_wren_index_without_a_model_warns_once_and_indexes_lexically(repo: Path, tmp_path: Path):
    run = wren("index", "--cwd", str(repo), env=offline_env(tmp_path))
    assert run.code == 0, run.stderr
    warnings = [line for line in run.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "search is lexical only" in warnings[0]
    assert "no embeddings (lexical only)" in run.stdout


def search_then_answer(tmp_path: Path, query: str, expect: str) -> str:
    return write_script(tmp_path / "search.json", [
        {"tool_calls": [{"name": "search_code", "arguments": {"query": query, "k": 3}}]},
        {"content": "authenticate_user in shop/users.py checks passwords.", "expect": [expect]}])


def test_run_with_search_code_succeeds_without_a_model(repo: Path, tmp_path: Path):
    model = search_then_answer(tmp_path, "where is the password checked", "shop/users.py:4-6 authenticate_user")
    run = wren("run", "find the password check", "--model", model, "--output-format", "stream-json",
               cwd=repo, env=offline_env(tmp_path))
    assert run.code == 0, run.stderr
    result = next(e for e in run.lines if e["type"] == "tool_result")
    assert result["ok"]
    assert result["output"].startswith("note: embedding model all-MiniLM-L6-v2 not found")
    assert "1. shop/users.py:4-6 authenticate_user (function)" in result["output"]
    assert run.lines[-1]["status"] == "success"


@needs_model
def test_run_with_search_code_fills_vectors_in_and_exits_cleanly(repo: Path, tmp_path: Path):
    model = search_then_answer(tmp_path, "verify login credentials", "authenticate_user")
    run = wren("run", "find the login check", "--model", model, "--output-format", "json", cwd=repo)
    assert run.code == 0, run.stderr
    assert run.json["status"] == "success"
    assert (repo / ".wren/index/catalog.sqlite").is_file()


@needs_model
def test_chroma_server_from_config(repo: Path, tmp_path: Path):
    port = free_port()
    server = subprocess.Popen([str(Path(sys.executable).with_name("chroma")), "run", "--path",
                               str(tmp_path / "server-data"), "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import chromadb

        client = None
        for _ in range(100):
            try:
                client = chromadb.HttpClient(host="127.0.0.1", port=port)
                client.heartbeat()
                break
            except Exception:  # not listening yet
                time.sleep(0.1)
        (repo / "wren.toml").write_text(f'[chroma]\nhost = "127.0.0.1"\nport = {port}\n')
        run = wren("index", "--cwd", str(repo))
        assert run.code == 0, run.stderr
        assert not (repo / ".wren/index/chroma").exists()
        [collection] = client.list_collections()
        assert collection.count() > 0 and "0 waiting" in run.stdout
    finally:
        server.terminate()
        server.wait(10)


def test_bad_chroma_config_is_a_usage_error(repo: Path):
    (repo / "wren.toml").write_text("[chroma]\nport = 0\n")
    run = wren("index", "--cwd", str(repo))
    assert run.code == 2 and "chroma.port" in run.stderr
