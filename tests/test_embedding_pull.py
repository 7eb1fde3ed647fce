"""`wren models pull all-minilm-l6-v2 --from DIR`: the embedding model installed only after each file
matches its pinned SHA256; a wrong or missing file is refused (exit 2) and nothing is copied."""
from __future__ import annotations

from conftest import clean_env, needs_embedding_model, wren
from wren.context.embeddings import chroma_model_dir, model_present

needs_model = needs_embedding_model(chroma_model_dir(), "the embedding model is not here (see shared/models/README.md)")


@needs_model
def test_pull_from_a_folder_verifies_and_installs_then_search_is_hybrid(calc_repo, tmp_path):
    dest = tmp_path / "models" / "onnx"
    env = clean_env(WREN_EMBEDDING_MODEL_DIR=str(dest), WREN_OFFLINE="1")
    assert "embeddings     missing" in wren("doctor", cwd=calc_repo, env=env).stdout
    run = wren("models", "pull", "all-minilm-l6-v2", "--from", str(chroma_model_dir()), "--quiet", env=env)
    assert run.code == 0, run.stderr
    assert "SHA256 of each file verified" in run.stdout
    assert model_present(dest) and not list(dest.glob(".*.part"))
    assert "search is hybrid" in wren("doctor", cwd=calc_repo, env=env).stdout


def test_a_file_with_other_bytes_or_a_missing_file_is_refused(tmp_path):
    from wren.local_models.embedding_model import FILES

    source = tmp_path / "source"
    source.mkdir()
    for name in FILES:
        (source / name).write_text("not the model\n")
    dest = tmp_path / "dest"
    env = clean_env(WREN_EMBEDDING_MODEL_DIR=str(dest), WREN_OFFLINE="1")
    run = wren("models", "pull", "all-minilm-l6-v2", "--from", str(source), "--quiet", env=env)
    assert run.code == 2 and "config.json" in run.stderr and "expected" in run.stderr, run.stderr
    assert not dest.exists()
    (source / "config.json").unlink()
    run = wren("models", "pull", "all-minilm-l6-v2", "--from", str(source), "--quiet", env=env)
    assert run.code == 2 and "config.json is missing" in run.stderr, run.stderr
    assert not dest.exists()
    run = wren("models", "pull", "qwen2.5-coder-1.5b", "--from", str(source), env=env)
    assert run.code == 2 and "--from is for the embedding model" in run.stderr
