"""`wren models pull all-minilm-l6-v2` from the hub: the six files served by a stand-in hub on loopback
(tests/hub_server.py) from the seeded model folder; installed only when every file matches its pin, refused
(exit 2, nothing installed) when one does not, and a clear exit 3 with no network at all."""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from conftest import needs_embedding_model, wren
from hub_server import HostedFile, closed_port, hub_with, pull_env  # noqa: F401 (hub_with is a fixture)
from wren.context.embeddings import chroma_model_dir, model_present
from wren.local_models.embedding_model import FILES, HUB

SEED = chroma_model_dir()
needs_model = needs_embedding_model(SEED, "the embedding model is not here (see shared/models/README.md)")


def hosted(replace: dict[str, HostedFile] | None = None) -> dict[str, HostedFile]:
    """The six seeded files at their hub paths, with `replace` (installed name -> file) swapped in."""
    files = {name: HostedFile((SEED / name).read_bytes()) for name in FILES}
    files.update(replace or {})
    return {f"{HUB.repo}/{HUB.paths[name]}": file for name, file in files.items()}


def embed_env(tmp_path: Path, endpoint: str, **extra: str) -> dict[str, str]:
    return pull_env(tmp_path, endpoint, WREN_EMBEDDING_MODEL_DIR=str(tmp_path / "installed" / "onnx"), **extra)


def no_network(tmp_path: Path) -> dict[str, str]:
    """The hub and Chroma's download both refused at once: the hub on a closed port, HTTPS through a dead proxy."""
    dead = f"http://127.0.0.1:{closed_port()}"
    return embed_env(tmp_path, dead, HTTPS_PROXY=dead, https_proxy=dead, ALL_PROXY=dead, all_proxy=dead)


@needs_model
def test_pull_from_the_hub_verifies_installs_and_search_is_hybrid(tmp_path, hub_with, calc_repo):
    hub = hub_with(hosted())
    env = embed_env(tmp_path, hub.endpoint)
    dest = Path(env["WREN_EMBEDDING_MODEL_DIR"])
    run = wren("models", "pull", "all-minilm-l6-v2", env=env)
    assert run.code == 0, run.stderr
    assert f"from {HUB.repo} at main; SHA256 of each file verified" in run.stdout
    assert ("hub", "HEAD", f"/{HUB.repo}/resolve/main/onnx/model.onnx", None) in hub.requests
    assert "downloading all-minilm-l6-v2 model.onnx 100%" in run.stderr
    assert "verifying all-minilm-l6-v2 model.onnx 100%" in run.stderr
    for name, (_, sha256) in FILES.items():
        assert hashlib.sha256((dest / name).read_bytes()).hexdigest() == sha256
    assert not list(dest.glob(".*.part"))
    assert "search is hybrid" in wren("doctor", cwd=calc_repo, env={**env, "WREN_OFFLINE": "1"}).stdout
    again = wren("models", "pull", "all-minilm-l6-v2", "--quiet", env=env)
    assert again.code == 0 and "already there" in again.stdout, again.stderr
    shutil.rmtree(dest)  # with the hub out of reach, the verified copies in its cache are installed
    offline = wren("models", "pull", "all-minilm-l6-v2", "--quiet", env={**env, "HF_HUB_OFFLINE": "1"})
    assert offline.code == 0 and "using the copy of model.onnx in the hub cache" in offline.stderr, offline.stderr
    assert model_present(dest) and len([r for r in hub.requests if r[0] == "cdn"]) == len(FILES)


@needs_model
def test_a_hub_file_with_other_bytes_is_refused_and_nothing_is_installed(tmp_path, hub_with):
    model = bytearray((SEED / "model.onnx").read_bytes())
    model[-1] ^= 0xFF  # damaged bytes served under the right etag: caught by hashing what came
    pin = FILES["model.onnx"][1]
    hub = hub_with(hosted({"model.onnx": HostedFile(bytes(model), claimed_sha256=pin)}))
    env = embed_env(tmp_path, hub.endpoint)
    dest = Path(env["WREN_EMBEDDING_MODEL_DIR"])
    run = wren("models", "pull", "all-minilm-l6-v2", "--quiet", env=env)
    assert run.code == 2, run.stderr
    got = hashlib.sha256(model).hexdigest()
    assert f"model.onnx from the hub has SHA256 {got}, expected {pin}; refused" in run.stderr
    assert "nothing installed" in run.stderr and "--from-chroma" in run.stderr and "--from DIR" in run.stderr
    assert "Traceback" not in run.stderr and not dest.exists()
    assert not [p for p in (tmp_path / "hf").rglob("*") if p.is_file() and p.stat().st_size == len(model)]

    # Another export on the hub (its etag says so): refused from the etag, before its bytes are fetched.
    other = HostedFile(b'{"other": "tokenizer config"}')
    hub = hub_with(hosted({"tokenizer_config.json": other}))
    run = wren("models", "pull", "all-minilm-l6-v2", "--quiet", env=embed_env(tmp_path / "2", hub.endpoint))
    assert run.code == 2, run.stderr
    assert (f"{HUB.repo}/tokenizer_config.json at main has SHA256 {other.sha256}, the catalog expects "
            f"{FILES['tokenizer_config.json'][1]}; refused") in run.stderr
    assert f"/blobs/{other.sha256}" not in [path for role, _, path, _ in hub.requests if role == "cdn"]
    assert not Path(embed_env(tmp_path / "2", hub.endpoint)["WREN_EMBEDDING_MODEL_DIR"]).exists()


def test_no_network_tries_the_hub_then_chroma_and_says_to_use_from_dir(tmp_path):
    env = no_network(tmp_path)
    for extra, hub_says in (((), f"hub: {HUB.repo}/config.json: cannot reach {env['HF_ENDPOINT']}"),
                            (("--from-chroma",), "hub: not tried (--from-chroma)")):
        run = wren("models", "pull", "all-minilm-l6-v2", "--quiet", *extra, env=env)
        assert run.code == 3, run.stderr
        last = run.stderr.splitlines()[-1]
        assert hub_says in last and "Chroma: the download failed" in last and "--from DIR" in last, run.stderr
        assert "Traceback" not in run.stderr
        assert not model_present(Path(env["WREN_EMBEDDING_MODEL_DIR"]))
    run = wren("models", "pull", "qwen2.5-coder-1.5b", "--from-chroma", env=env)
    assert run.code == 2 and "--from-chroma is for the embedding model" in run.stderr, run.stderr
