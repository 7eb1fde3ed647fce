"""The litellm path for real: llama-cpp-python's OpenAI-compatible server on loopback with SmolLM2."""
from __future__ import annotations

import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import free_port, smollm2_path, wren

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    port = free_port()
    log = (tmp_path_factory.mktemp("server") / "server.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_path()),
                             "--host", "127.0.0.1", "--port", str(port), "--model_alias", "smollm2",
                             "--n_ctx", "4096"], stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{base}/models", timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"llama.cpp server did not start: {open(log.name).read()[-2000:]}")
            time.sleep(0.5)
    yield base
    proc.terminate()
    proc.wait(timeout=30)


def test_wren_run_through_litellm_against_llama_server(calc_repo, llama_server):
    run = wren("run", "Say hello in one short sentence.", "--model", "openai/smollm2", "--api-base", llama_server,
               "--output-format", "json", "--approval", "read-only", "--max-steps", "3", cwd=calc_repo, timeout=300)
    result = run.json
    assert result["error"] is None, run.stderr
    assert result["status"] in ("success", "limit", "denied"), run.stderr
    assert result["usage"]["prompt_tokens"] > 100  # the system prompt and tool schemas alone are longer
    assert result["usage"]["completion_tokens"] > 0
    assert result["steps"] >= 1


def test_server_down_is_a_provider_error(calc_repo):
    port = free_port()  # nothing listens here
    run = wren("run", "hello", "--model", "openai/smollm2", "--api-base", f"http://127.0.0.1:{port}/v1",
               "--output-format", "json", cwd=calc_repo, timeout=300)
    assert run.code == 3
    assert run.json["error"]["kind"] in ("connection", "server_error")
