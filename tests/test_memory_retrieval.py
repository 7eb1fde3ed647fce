"""Session memory search: a paraphrase that shares no rare word with a fact is found through the
embedder (per-line windows, BM25 scaled by the query's own weight), and exact words still win."""
from __future__ import annotations

from conftest import needs_embedding_model
from wren.context.embeddings import MiniLMEmbedder, chroma_model_dir
from wren.context.memory import MemoryChunk, SessionMemory, windows

needs_model = needs_embedding_model(chroma_model_dir(), "the embedding model is not here (see shared/models/README.md)")


def test_windows_cut_at_line_ends_and_cut_long_lines():
    text = "".join(f"line {i}\n" for i in range(40)) + "x" * 300
    pieces = windows(text, 60)
    assert "".join(pieces) == text
    assert all(len(p) <= 60 for p in pieces)
    assert all(p.endswith("\n") for p in pieces[:-6])  # whole lines, until the long one


def _log(fact: str, seed: int) -> str:
    lines = [f"log {k}: request handled in {(k * seed) % 900} ms by worker {k % 64}" for k in range(30)]
    lines.insert(12, fact)
    return "\n".join(lines)


@needs_model
def test_a_paraphrase_finds_its_fact_and_exact_words_still_win(tmp_path):
    facts = ["The rollback codename for the billing-3 service is AMBER-OTTER-12.",
             "The rollback codename for the search-4 service is COBALT-FALCON-40.",
             "The rollback codename for the mailer-5 service is LOTUS-EMBER-77."]
    memory = SessionMemory(tmp_path, "s", MiniLMEmbedder(chroma_model_dir()))
    memory.add([MemoryChunk(id=f"c1-m{i}-p0", text=_log(f, i + 2), role="tool", compaction=1)
                for i, f in enumerate(facts)])
    lexical = memory.search("Which name do we use to revert the email sender?", 1, "lexical")
    assert not lexical or "LOTUS-EMBER-77" not in lexical[0].chunk.text  # no word to go on
    assert "LOTUS-EMBER-77" in memory.search("Which name do we use to revert the email sender?", 1)[0].chunk.text
    assert "AMBER-OTTER-12" in memory.search("rollback codename billing-3", 1)[0].chunk.text
    assert memory.retrieval == "hybrid (all-MiniLM-L6-v2 + BM25)"
    assert SessionMemory(tmp_path, "t", None, missing="the embedding model is missing").retrieval == \
        "lexical (BM25): the embedding model is missing"
