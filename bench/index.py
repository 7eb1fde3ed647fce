"""Indexing cost on a real repository: full index, dense throughput, incremental update of one file.

Indexes a fresh clone of PATH (its own index, if any, is left alone), then changes one
source file and updates again. Embedding throughput is compared, on the same sample of
chunk texts and in the same run, with Chroma's default embedding function
(ONNXMiniLM_L6_V2, which pads every input to 256 tokens). Prints Markdown tables.

    python bench/index.py PATH [--sample 512]
"""
from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from wren.context.chunking import Chunk, chunk_file
from wren.context.embeddings import MiniLMEmbedder, chroma_model_dir
from wren.context.index import DENSE_TOKENS, EMBED_BATCH, PROSE, CodeIndex, open_index

WREN = str(Path(sys.executable).with_name("wren"))
EDIT = "\n\ndef wren_bench_added(value):\n    \"\"\"Added by bench/index.py.\"\"\"\n    return value\n"
ROUNDS = 3  # embedder rounds, and edits timed


def fresh_copy(source: Path, into: Path) -> Path:
    target = into / "repo"
    cloned = subprocess.run(["git", "clone", "-q", "--shared", str(source), str(target)], capture_output=True)
    if cloned.returncode != 0:  # not a git repository: a plain copy
        shutil.copytree(source, target, ignore=shutil.ignore_patterns(".wren"))
    return target


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return time.perf_counter() - start, value


def sample_chunks(index: CodeIndex, n: int) -> list[Chunk]:
    """n code chunks picked at random across the repository."""
    index.load()
    rng = random.Random(0)
    paths = sorted({r.path for r in index.records.values() if r.kind != PROSE})
    chunks: list[Chunk] = []
    for rel in rng.sample(paths, len(paths)):
        chunks += [c for c in chunk_file(rel, (index.root / rel).read_text(errors="replace")) if c.kind != PROSE]
        if len(chunks) >= 4 * n:
            break
    return rng.sample(chunks, min(n, len(chunks)))


def throughput(chunks: list[Chunk], rounds: int = ROUNDS) -> list[tuple[str, float]]:
    """Chunks per second: the index's embedder on what it embeds, and Chroma's default on the chunk text.

    The embedders take turns, round after round, and each one's median round counts: on a
    shared machine the load changes while they run."""
    from chromadb.utils.embedding_functions import ONNXMiniLM_L6_V2

    chroma = ONNXMiniLM_L6_V2()
    chroma.DOWNLOAD_PATH = chroma_model_dir().parent  # the same files, no download
    ours = MiniLMEmbedder(chroma_model_dir(), max_tokens=DENSE_TOKENS)
    padded_less = MiniLMEmbedder(chroma_model_dir())
    words, texts = [c.words for c in chunks], [c.text for c in chunks]
    chroma(texts[:8]), ours.embed(words[:8]), padded_less.embed(texts[:8])  # load and warm up

    def as_the_index(inputs: list[str]) -> None:  # the index hands the embedder EMBED_BATCH chunks at a time
        for at in range(0, len(inputs), EMBED_BATCH):
            ours.embed(inputs[at:at + EMBED_BATCH])

    runs = ((f"Wren index: word view, {DENSE_TOKENS} tokens, batches by tokens", as_the_index, words),
            ("Wren MiniLMEmbedder: chunk text, 256 tokens, batches by tokens (Chroma's vectors)", padded_less.embed,
             texts),
            ("Chroma default ONNXMiniLM_L6_V2 on the word view (256 tokens, padded)", chroma, words),
            ("Chroma default ONNXMiniLM_L6_V2 on the chunk text (256 tokens, padded)", chroma, texts))
    rates: dict[str, list[float]] = {name: [] for name, _, _ in runs}
    for _ in range(rounds):
        for name, fn, inputs in runs:
            rates[name].append(len(inputs) / timed(fn, inputs)[0])
    return [(name, statistics.median(r)) for name, r in rates.items()]


def pick_file(index: CodeIndex) -> str:
    """A mid-sized source file: the typical edit."""
    index.load()
    sizes = sorted((len(ids), path) for path, ids in index.by_path.items()
                   if path.endswith(".py") and "test" not in path)
    return sizes[len(sizes) // 2][1] if sizes else next(iter(index.by_path))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--sample", type=int, default=512, help="chunks for the embedder comparison")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        repo = fresh_copy(args.path.resolve(), Path(tmp))
        head = subprocess.run(["git", "log", "-1", "--format=%h %cs"], cwd=repo, capture_output=True, text=True)
        at = f" at {head.stdout.strip()}" if head.returncode == 0 and head.stdout.strip() else ""
        index = open_index(repo, warn=lambda m: sys.exit(f"bench/index.py needs the embedding model: {m}"))
        lexical_s, lexical = timed(index.update, dense=False)
        dense_s, embedded = timed(index.embed_pending)
        edited = pick_file(index)
        edits = []  # (seconds, stats) of each edit's update
        for n in range(ROUNDS + 1):
            with (repo / edited).open("a") as f:
                f.write(EDIT.replace("wren_bench_added", f"wren_bench_added_{n}"))
            if n < ROUNDS:
                edits.append(timed(index.update))
        noop_s, _ = timed(index.update)
        index.close()
        cli_s, _ = timed(subprocess.run, [WREN, "index", "--cwd", str(repo), "--quiet"], check=True,
                         capture_output=True)
        rates = throughput(sample_chunks(open_index(repo), args.sample))
    print(f"Repository: {args.path}{at} ({lexical.files} files, {lexical.chunks} chunks, {embedded} embedded)\n")
    print("| step | time | target |\n|---|---:|---:|")
    print(f"| full index: chunks, tags and BM25 terms | {lexical_s:.1f} s | |")
    print(f"| full index: embeddings | {dense_s:.1f} s ({embedded / dense_s:.1f} chunks/s) | |")
    times = sorted(seconds for seconds, _ in edits)
    embedded_per_edit = edits[0][1].embedded
    print(f"| incremental update after changing `{edited}` ({embedded_per_edit} "
          f"chunk{'' if embedded_per_edit == 1 else 's'} embedded; "
          f"median of {ROUNDS} edits, slowest {times[-1] * 1000:.0f} ms) | "
          f"{statistics.median(times) * 1000:.0f} ms | < 1000 ms |")
    print(f"| update with nothing changed | {noop_s * 1000:.0f} ms | |")
    print(f"| one more such edit with `wren index` in a new process (start-up included) | {cli_s * 1000:.0f} ms | |")
    print(f"\n| embedder, same {args.sample} chunks | chunks/s | vs Chroma default |\n|---|---:|---:|")
    base = rates[-1][1]
    for name, rate in rates:
        print(f"| {name} | {rate:.1f} | {rate / base:.2f}x |")


if __name__ == "__main__":
    main()
