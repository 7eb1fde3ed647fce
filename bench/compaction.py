"""Needles through compaction: plant facts across a long scripted session on a small window,
compact repeatedly, then ask `recall` for each fact. Prints recall@3 per retrieval mode.

    python bench/compaction.py [--needles 40] [--window 6000]
"""
from __future__ import annotations

import argparse
import json
import random
import subprocess
import tempfile
import time
from pathlib import Path

from wren.agent.approval import Policy
from wren.agent.limits import Limits
from wren.agent.models.scripted import ScriptedBackend
from wren.core.ops import Shutdown, UserInput
from wren.agent.session import Session, SessionConfig
from wren.tools.base import default_registry

SERVICES = ["billing", "search", "ingest", "auth", "reports", "mailer", "cache", "exports", "sync", "audit"]
WORDS = ["amber", "falcon", "quartz", "willow", "copper", "nimbus", "saffron", "tundra", "harbor", "juniper",
         "onyx", "meadow", "cobalt", "ember", "lotus", "granite"]


def plant(repo: Path, n: int, rng: random.Random) -> list[tuple[str, str]]:
    """n files of filler, each with one fact; returns (question, answer) pairs."""
    facts = []
    for i in range(n):
        service = f"{SERVICES[i % len(SERVICES)]}-{i}"
        answer = f"{rng.choice(WORDS).upper()}-{rng.choice(WORDS).upper()}-{rng.randint(10, 99)}"
        filler = [f"log {k}: request handled in {rng.randint(1, 900)} ms by worker {rng.randint(1, 64)}"
                  for k in range(60)]
        filler.insert(rng.randint(5, 55), f"The rollback codename for the {service} service is {answer}.")
        (repo / f"log_{i}.txt").write_text("\n".join(filler) + "\n")
        facts.append((f"What is the rollback codename for the {service} service?",
                      f"Which name do we use to revert {service}?", answer))
    return facts


def run_session(repo: Path, n: int, window: int, embeddings: str) -> tuple[Session, int]:
    turns = [{"tool_calls": [{"name": "read_file", "arguments": {"path": f"log_{i}.txt"}}]} for i in range(n)]
    script = repo / "script.json"
    script.write_text(json.dumps({"window": window, "turns": turns + [{"content": "done"}]}))
    (repo / "wren.toml").write_text(f'embeddings = "{embeddings}"\n')
    session = Session(SessionConfig(root=repo, backend=ScriptedBackend(script), registry=default_registry(),
                                    policy=Policy(mode="auto"), limits=Limits(max_steps=n + 5)))
    session.submit(UserInput(text="Read every log file."))
    session.submit(Shutdown())
    compactions = sum(e.type == "context_compacted" for e in session.events())
    return session, compactions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--needles", type=int, default=40)
    parser.add_argument("--window", type=int, default=6000)
    args = parser.parse_args()
    rows = []
    for mode in ("default", "none"):
        with tempfile.TemporaryDirectory() as tmp:
            repo = Path(tmp)
            subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
            facts = plant(repo, args.needles, random.Random(7))
            session, compactions = run_session(repo, args.needles, args.window, mode)
            memory = session.context.memory
            label = "hybrid (MiniLM + BM25)" if mode == "default" else "lexical only (BM25)"
            for kind, pick in (("same words", 0), ("paraphrased", 1)):
                started = time.perf_counter()
                hits = sum(any(fact[2] in r.chunk.text for r in memory.search(fact[pick], 3)) for fact in facts)
                took = (time.perf_counter() - started) / len(facts)
                rows.append((label, kind, compactions, len(memory), hits, len(facts), took))
    print("| retrieval | questions | compactions | chunks | recall@3 | query ms |\n|---|---|---:|---:|---:|---:|")
    for label, kind, compactions, chunks, hits, total, took in rows:
        print(f"| {label} | {kind} | {compactions} | {chunks} | {hits}/{total} = {100 * hits / total:.0f}% "
              f"| {took * 1000:.1f} |")


if __name__ == "__main__":
    main()
