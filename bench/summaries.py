"""Compaction summaries written by a real model: what a session still knows after 1, 3 and 10 of them.

    python bench/summaries.py [--summariser local:qwen2.5-coder-1.5b --summariser local:smollm2]
                              [--judge local:qwen2.5-coder-1.5b] [--rounds 10] [--dump DIR]

A scripted main model reads two log files a round (each holds one fact: a service's rollback
codename, among 20 lines of filler), and after each round the session compacts (a Compact op, as
`/compact` does) with the summary written by the summariser (the `fast` role). The task message
carries a user directive: answer in French. After rounds 1, 3 and 10 (and before any compaction):

- in context: the share of the codenames read so far that the prompt still holds (the summaries);
- recall@3: the share found among the top 3 of session memory for their same-word question (what
  ran is labelled; the store keeps every evicted message whatever the summary says);
- directive kept: the directive is in the prompt verbatim (Wren rejects a summary that drops the
  task's opening, asks again once, then adds it verbatim);
- directive followed: the judge (a real model, as the main model would) answers "What have you done
  so far?" from the session's prompt; counted when the answer reads as French (more French than
  English function words).
Prints a Markdown table.
"""
from __future__ import annotations

import argparse
import datetime
import json
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root: `bench` is a namespace package

from bench.compaction import plant  # noqa: E402
from wren.agent.approval import Policy  # noqa: E402
from wren.agent.limits import Limits  # noqa: E402
from wren.agent.models import resolve_backend  # noqa: E402
from wren.agent.session import Session, SessionConfig  # noqa: E402
from wren.core.messages import Message  # noqa: E402
from wren.core.ops import Compact, Shutdown, UserInput  # noqa: E402
from wren.tools.base import default_registry  # noqa: E402

DIRECTIVE = "Always answer me in French, whatever happens later in this session."
TASK = f"Read the log files, two at a time, each time I ask. {DIRECTIVE}"
QUESTION = "What have you done so far in this session? Two sentences."
CHECKPOINTS = (0, 1, 3, 10)
READS_PER_ROUND = 2
FILLER_LINES = 20
FRENCH = {"le", "la", "les", "des", "du", "est", "et", "une", "un", "dans", "pour", "avec", "sont", "lu", "ai",
          "j'ai", "fichiers", "fichier", "journaux", "nous", "vous", "je", "pas", "ce", "cette", "qui", "que", "sur"}
ENGLISH = {"the", "and", "is", "are", "have", "has", "i", "files", "file", "in", "of", "for", "with", "we", "you",
           "read", "this", "that", "so", "far", "to", "on", "logs", "log"}


def reads_french(text: str) -> bool:
    """More French than English function words (a rough test, enough to tell the two apart)."""
    words = re.findall(r"[a-zà-ÿ']+", text.lower())
    return sum(w in FRENCH for w in words) > sum(w in ENGLISH for w in words)


def script(repo: Path, rounds: int) -> Path:
    """The main model's steps: per round, READS_PER_ROUND reads and a one-word answer."""
    turns = []
    for r in range(rounds):
        turns += [{"tool_calls": [{"name": "read_file", "arguments": {"path": f"log_{r * READS_PER_ROUND + i}.txt"}}]}
                  for i in range(READS_PER_ROUND)]
        turns.append({"content": "Lu."})
    path = repo / "script.json"
    path.write_text(json.dumps({"window": 8000, "turns": turns}))
    return path


def measure(session: Session, facts: list[tuple[str, str, str]], judge, read: int, dump: Path | None = None) -> dict:
    """The checkpoint's numbers for the first `read` facts; the judge's prompt written to `dump` (JSON)."""
    prompt = session.context.manager.prompt()
    if dump is not None:
        dump.write_text(json.dumps([m.model_dump() for m in [*prompt, Message(role="user", content=QUESTION)]],
                                   indent=1))
    text = "\n".join(m.content for m in prompt)
    memory = session.context.memory
    seen = facts[:read]
    in_context = sum(answer in text for _, _, answer in seen)
    found = sum(any(answer in r.chunk.text for r in memory.search(question, 3, "hybrid"))
                for question, _, answer in seen) if seen else 0
    started = time.perf_counter()
    reply = judge.complete([*prompt, Message(role="user", content=QUESTION)], [], lambda _: None)
    return {"read": len(seen), "in_context": in_context, "recall3": found, "retrieval": memory.retrieval,
            "kept": DIRECTIVE.lower() in " ".join(text.lower().split()), "french": reads_french(reply.content),
            "answer": reply.content.strip()[:160], "judge_s": round(time.perf_counter() - started, 1)}


def run(summariser: str, judge_name: str, rounds: int, dump: Path | None = None) -> list[dict]:
    """One session with `summariser` writing every summary; a row per checkpoint. With `dump` (a folder),
    each checkpoint's judge prompt is written there as `<summariser>-<compactions>.json`."""
    def dumped(n: int) -> Path | None:
        return dump / f"{summariser.replace(':', '_')}-{n}.json" if dump else None

    judge = resolve_backend(judge_name)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp)
        subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
        facts = plant(repo, rounds * READS_PER_ROUND, random.Random(7), lines=FILLER_LINES)
        (repo / "wren.toml").write_text(f'embeddings = "default"\n\n[models]\nfast = "{summariser}"\n')
        session = Session(SessionConfig(root=repo, backend=resolve_backend(f"scripted:{script(repo, rounds)}"),
                                        registry=default_registry(), policy=Policy(mode="auto"),
                                        limits=Limits(max_steps=READS_PER_ROUND + 2)))
        session.submit(UserInput(text=TASK))
        done_rounds, compactions, started, summary_s = 0, 0, time.perf_counter(), 0.0
        compact_started = started
        for event in session.events():
            if event.type == "turn_ended":
                done_rounds += 1
                if done_rounds == 1 and 0 in CHECKPOINTS:  # the task in the prompt as the user wrote it
                    rows.append({"summariser": summariser, "compactions": 0, "summary_s": 0.0,
                                 **measure(session, facts, judge, READS_PER_ROUND, dumped(0))})
                    print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
                compact_started = time.perf_counter()
                session.submit(Compact())
            elif event.type == "context_compacted":
                compactions += 1
                summary_s += time.perf_counter() - compact_started
                if compactions in CHECKPOINTS:
                    row = measure(session, facts, judge, done_rounds * READS_PER_ROUND, dumped(compactions))
                    rows.append({"summariser": summariser, "compactions": compactions,
                                 "summary_s": round(summary_s / compactions, 1), **row})
                    print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
                session.submit(UserInput(text="Next two, please.") if done_rounds < rounds else Shutdown())
            elif event.type == "error":
                print(f"wren: {'error' if event.fatal else 'warning'}: {event.message}", file=sys.stderr, flush=True)
        print(f"{summariser}: {compactions} compactions in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--summariser", action="append", help="a model for the fast role (repeatable); "
                        "default: local:qwen2.5-coder-1.5b and local:smollm2")
    parser.add_argument("--judge", default="local:qwen2.5-coder-1.5b", help="the model that answers from the prompt")
    parser.add_argument("--rounds", type=int, default=max(CHECKPOINTS))
    parser.add_argument("--dump", type=Path, help="a folder to write each checkpoint's judge prompt to (JSON)")
    args = parser.parse_args()
    if args.dump:
        args.dump.mkdir(parents=True, exist_ok=True)
    rows = [row for name in args.summariser or ["local:qwen2.5-coder-1.5b", "local:smollm2"]
            for row in run(name, args.judge, args.rounds, args.dump)]
    print(f"{datetime.date.today()}, {args.rounds} rounds of {READS_PER_ROUND} reads, judge {args.judge}\n")
    print("| summariser | compactions | facts read | in context | recall@3 (retrieval) | directive kept | "
          "answer in French | s per summary |\n|---|---:|---:|---:|---:|---|---|---:|")
    for r in rows:
        print(f"| {r['summariser']} | {r['compactions']} | {r['read']} | {r['in_context']}/{r['read']} | "
              f"{r['recall3']}/{r['read']} ({r['retrieval']}) | {'yes' if r['kept'] else 'no'} | "
              f"{'yes' if r['french'] else 'no'}: {r['answer'][:60]!r} | {r['summary_s']} |")


if __name__ == "__main__":
    main()
