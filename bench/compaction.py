"""Needles through compaction: plant facts across a long scripted session on a small window,
compact repeatedly, then search session memory for each fact, with dense, lexical and hybrid
retrieval in one run. Questions come in two kinds, reported apart: ones that use the fact's own
words, and ones that share no rare word with it (a description: "the payments backend" for a
fact about `billing-3`). Every row says what actually ran.

    python bench/compaction.py [--needles 60] [--window 8000]
"""
from __future__ import annotations

import argparse
import datetime
import json
import random
import re
import subprocess
import tempfile
import time
from pathlib import Path

from wren.agent.approval import Policy
from wren.agent.limits import Limits
from wren.agent.models.scripted import ScriptedBackend
from wren.context.memory import SessionMemory
from wren.core.ops import Shutdown, UserInput
from wren.agent.session import Session, SessionConfig
from wren.tools.base import default_registry

# Each service and a description of it that shares no rare word with its name.
SERVICES = [
    ("billing", "the payments backend"), ("search", "the query engine"), ("ingest", "the data import pipeline"),
    ("auth", "the login gateway"), ("reports", "the analytics dashboards"), ("mailer", "the email sender"),
    ("cache", "the in-memory key value store"), ("exports", "the spreadsheet download feature"),
    ("sync", "the replication job between regions"), ("audit", "the compliance trail"),
    ("thumbnails", "the picture resizer"), ("ledger", "the accounting journal"),
    ("geocoder", "the address to coordinates lookup"), ("scheduler", "the cron job runner"),
    ("notifier", "the push alerts sent to phones"), ("checkout", "the shopping cart purchase flow"),
    ("inventory", "the warehouse stock counts"), ("pricing", "the discount and tariff calculator"),
    ("recommend", "the suggestions of products you might like"), ("translate", "the language localisation helper"),
    ("upload", "the file transfer intake"), ("chat", "the customer messaging widget"),
    ("invoices", "the bills sent to clients"), ("payroll", "the salary disbursement"),
    ("shipping", "the parcel delivery tracker"), ("fraud", "the suspicious transaction detector"),
    ("metrics", "the telemetry collector"), ("gateway", "the API front door"),
    ("ratelimit", "the traffic throttling guard"), ("captcha", "the bot challenge puzzle"),
    ("sessions", "the logged-in user state keeper"), ("profiles", "the user account details"),
    ("avatars", "the user pictures"), ("comments", "the reader remarks under articles"),
    ("moderation", "the abusive content filter"), ("feeds", "the timeline of posts"),
    ("backup", "the nightly snapshot copies"), ("dns", "the domain name resolver"),
    ("cdn", "the edge content delivery network"), ("queue", "the message broker"),
    ("webhooks", "the outbound HTTP callbacks"), ("calendar", "the meeting booking planner"),
    ("video", "the movie streaming transcoder"), ("voice", "the phone call bridge"),
    ("maps", "the street tiles renderer"), ("weather", "the forecast provider"),
    ("loyalty", "the reward points program"), ("coupons", "the promo vouchers"),
    ("reviews", "the star ratings from buyers"), ("wishlist", "the saved items for later"),
    ("returns", "the refunds for sent back goods"), ("tax", "the VAT computation"),
    ("kyc", "the identity verification checks"), ("ocr", "the scanned text reader"),
    ("pdf", "the printable document generator"), ("sitemap", "the crawler page list"),
    ("healthcheck", "the liveness probe"), ("flags", "the feature toggles"),
    ("secrets", "the credential vault"), ("tickets", "the support helpdesk inbox"),
]
WORDS = ["amber", "falcon", "quartz", "willow", "copper", "nimbus", "saffron", "tundra", "harbor", "juniper",
         "onyx", "meadow", "cobalt", "ember", "lotus", "granite"]
COMMON = {"the", "what", "which", "name", "for", "use", "and", "you", "from", "sent", "under", "between", "later"}
MODES = {"dense": "dense only", "lexical": "lexical only (BM25)", "hybrid": "hybrid"}


def rare_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", text.lower()) if len(w) > 2 and w not in COMMON}


def plant(repo: Path, n: int, rng: random.Random, lines: int = 60) -> list[tuple[str, str, str]]:
    """n files of `lines` lines of filler, each with one fact; returns (same-words question, no-shared-word
    question, answer)."""
    if n > len(SERVICES):
        raise SystemExit(f"at most {len(SERVICES)} needles")
    facts = []
    for i in range(n):
        name, description = SERVICES[i]
        service = f"{name}-{i}"
        answer = f"{rng.choice(WORDS).upper()}-{rng.choice(WORDS).upper()}-{rng.randint(10, 99)}"
        fact = f"The rollback codename for the {service} service is {answer}."
        filler = [f"log {k}: request handled in {rng.randint(1, 900)} ms by worker {rng.randint(1, 64)}"
                  for k in range(lines)]
        filler.insert(rng.randint(5, lines - 5), fact)
        (repo / f"log_{i}.txt").write_text("\n".join(filler) + "\n")
        other = f"Which name do we use to revert {description}?"
        shared = rare_words(other) & (rare_words(fact) | rare_words(" ".join(filler)))
        assert not shared, f"{other!r} shares {shared} with its fact"
        facts.append((f"What is the rollback codename for the {service} service?", other, answer))
    return facts


def run_session(repo: Path, n: int, window: int) -> tuple[Session, int]:
    turns = [{"tool_calls": [{"name": "read_file", "arguments": {"path": f"log_{i}.txt"}}]} for i in range(n)]
    script = repo / "script.json"
    script.write_text(json.dumps({"window": window, "turns": turns + [{"content": "done"}]}))
    (repo / "wren.toml").write_text('embeddings = "default"\n')
    session = Session(SessionConfig(root=repo, backend=ScriptedBackend(script), registry=default_registry(),
                                    policy=Policy(mode="auto"), limits=Limits(max_steps=n + 5)))
    session.submit(UserInput(text="Read every log file."))
    session.submit(Shutdown())
    events = list(session.events())
    for warning in (e for e in events if e.type == "error"):
        print(f"wren: {'warning' if not warning.fatal else 'error'}: {warning.message}")
    return session, sum(e.type == "context_compacted" for e in events)


def ran(memory: SessionMemory, mode: str) -> str | None:
    """What `mode` really runs on this memory (None: it cannot run: dense without an embedder)."""
    if mode == "lexical":
        return MODES[mode]
    if memory.embedder is None:
        return None if mode == "dense" else f"hybrid asked, ran {memory.retrieval}"
    return f"{MODES[mode]} ({memory.embedder.name})" if mode == "dense" else memory.retrieval


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--needles", type=int, default=60)
    parser.add_argument("--window", type=int, default=8000)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp)
        subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
        facts = plant(repo, args.needles, random.Random(7))
        session, compactions = run_session(repo, args.needles, args.window)
        memory = session.context.memory
        for mode in MODES:
            label = ran(memory, mode)
            for kind, pick in (("same words", 0), ("no shared word", 1)):
                if label is None:
                    rows.append((f"{MODES[mode]}: not run ({memory.missing})", kind, compactions, len(memory),
                                 None, len(facts), 0.0))
                    continue
                started = time.perf_counter()
                hits = sum(any(fact[2] in r.chunk.text for r in memory.search(fact[pick], 3, mode)) for fact in facts)
                took = (time.perf_counter() - started) / len(facts)
                rows.append((label, kind, compactions, len(memory), hits, len(facts), took))
    print(f"{datetime.date.today()}, {args.needles} needles, window {args.window}\n")
    print("| retrieval (what ran) | questions | compactions | chunks | recall@3 | query ms |\n"
          "|---|---|---:|---:|---:|---:|")
    for label, kind, compactions, chunks, hits, total, took in rows:
        score = "-" if hits is None else f"{hits}/{total} = {100 * hits / total:.0f}%"
        print(f"| {label} | {kind} | {compactions} | {chunks} | {score} | {took * 1000:.1f} |")


if __name__ == "__main__":
    main()
