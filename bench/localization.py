"""File localization on SWE-bench instances: Wren's hybrid search against plain BM25 over whole files.

For each instance, check out `base_commit` of its repository (a clone of
`MIRRORS/<owner>+<name>/repo`), update Wren's index of it (one index per repository,
updated incrementally from commit to commit, in date order from the end nearer
the commit a kept checkout is at), rank files for the
`problem_statement`, and compare with `gold_files` only afterwards. Prints Acc@1/5/10
(all gold files within the top k) per repository and overall, as Markdown.

    python bench/localization.py --instances FILE.jsonl --mirrors DIR [--limit N] [--out results.json]

With --signals DIR, each instance's rankings (lexical, dense, symbol, mention; and the
baseline's) are recorded there as JSON; an instance already recorded is ranked again from
its record, without checkout or indexing, so fusion weights can be studied quickly.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import subprocess
import sys
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from wren.context.embeddings import Embedder
from wren.context.index import CodeIndex, open_index
from wren.context.lexical import BM25, tokens
from wren.context.search import Signals, files_of, fuse, signals

TOP = 50
KS = (1, 5, 10)


class VectorCache:
    """An embedder's vectors kept by the hash of the text embedded, across commits and runs.

    The index drops the vectors of code that leaves the checkout; walking a repository's
    history (and running the bench again) would embed the same chunks over and over."""

    def __init__(self, embedder: Embedder, path: Path) -> None:
        self.inner, self.name = embedder, embedder.name
        self.db = sqlite3.connect(path)
        self.db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB)")

    def embed(self, texts: list[str]) -> list[list[float]]:
        keys = [hashlib.sha1(t.encode("utf-8", "surrogatepass")).hexdigest() for t in texts]
        known: dict[str, list[float]] = {}
        for at in range(0, len(keys), 500):
            part = keys[at:at + 500]
            rows = self.db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(part))})", part)
            known.update((key, array("f", blob).tolist()) for key, blob in rows)
        todo = list(dict.fromkeys(k for k in keys if k not in known))
        if todo:
            text_of = dict(zip(keys, texts))
            fresh = self.inner.embed([text_of[k] for k in todo])
            known.update(zip(todo, fresh))
            self.db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                                [(k, array("f", v).tobytes()) for k, v in zip(todo, fresh)])
            self.db.commit()
        return [known[k] for k in keys]


@dataclass
class FileBM25:
    """The baseline: one BM25 document per file, the same files the index holds."""
    bm25: BM25 = field(default_factory=BM25)
    shas: dict[str, str] = field(default_factory=dict)

    def update(self, root: Path, paths: list[str]) -> None:
        for gone in set(self.shas) - set(paths):
            self.bm25.remove(gone)
            del self.shas[gone]
        for rel in paths:
            data = (root / rel).read_bytes()
            sha = hashlib.sha1(data).hexdigest()
            if self.shas.get(rel) != sha:
                self.shas[rel] = sha
                self.bm25.add_counts(rel, Counter(tokens(rel.replace("/", " ") + "\n" + data.decode("utf-8", "replace"))))

    def rank(self, query: str) -> list[str]:
        return [path for path, _ in self.bm25.search(query, TOP)]


def absent_blobs(work: Path, commit: str) -> list[str]:
    """Paths at commit whose blobs the mirror lacks (snapshots may leave out their largest files)."""
    tree = subprocess.run(["git", "ls-tree", "-r", "-z", commit], cwd=work, capture_output=True, check=True)
    entries = [line.split("\t", 1) for line in tree.stdout.decode("utf-8", "surrogateescape").split("\0") if line]
    blobs = [(meta.split()[2], path) for meta, path in entries if meta.split()[1] == "blob"]
    check = subprocess.run(["git", "cat-file", "--batch-check"], cwd=work, capture_output=True, check=True,
                           input="\n".join(sha for sha, _ in blobs).encode())
    missing = {line.split()[0] for line in check.stdout.decode().splitlines() if line.endswith(" missing")}
    return [path for sha, path in blobs if sha in missing]


def checkout(mirror: Path, work: Path, commit: str) -> None:
    if not (work / ".git").exists():
        work.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "clone", "-q", "--shared", "--no-checkout", str(mirror), str(work)], check=True)
    absent = absent_blobs(work, commit)
    # Leave absent files out of the checkout (they are large data files, never source).
    (work / ".git" / "info").mkdir(exist_ok=True)
    (work / ".git" / "info" / "sparse-checkout").write_text("/*\n" + "".join(f"!/{p}\n" for p in absent))
    subprocess.run(["git", "config", "core.sparseCheckout", "true" if absent else "false"], cwd=work, check=True)
    subprocess.run(["git", "checkout", "-q", "-f", commit], cwd=work, check=True)
    # -x cleans ignored files too; -e keeps the index, which the next instance updates.
    subprocess.run(["git", "clean", "-q", "-ffdx", "-e", ".wren"], cwd=work, check=True)


def position(ranked: list[str], gold: list[str]) -> int | None:
    """1-based rank by which every gold file has appeared, or None past the top TOP."""
    places = [ranked.index(g) + 1 if g in ranked else None for g in gold]
    return None if None in places or not places else max(places)


@dataclass
class Repo:
    """One SWE-bench repository: its checkout, its index (updated from commit to commit), its baseline."""
    name: str
    mirrors: Path
    work: Path
    provider: str
    index: CodeIndex | None = None
    baseline: FileBM25 = field(default_factory=FileBM25)

    @property
    def clone(self) -> Path:
        return self.work / self.name.replace("/", "+")

    def rankings(self, item: dict) -> tuple[Signals, list[str], str]:
        start = time.perf_counter()
        clone = self.clone
        checkout(self.mirrors / clone.name / "repo", clone, item["base_commit"])
        if self.index is None:
            self.index = open_index(clone, self.provider, warn=lambda m: print(f"warning: {m}", file=sys.stderr))
            if self.index.embedder is not None:
                self.index.embedder = VectorCache(self.index.embedder, self.work / f"{clone.name}.vectors.sqlite")
        stats = self.index.update()
        self.index.load()
        self.baseline.update(clone, sorted(self.index.by_path))
        found = signals(self.index, item["problem_statement"])
        note = (f"{stats.changed} files re-indexed, {stats.embedded} chunks embedded, "
                f"{time.perf_counter() - start:.0f}s")
        return found, self.baseline.rank(item["problem_statement"]), note


def walk(clone: Path, items: list[dict]) -> list[dict]:
    """Instances by date, from the end nearer the commit a kept checkout (and its index) is at.

    The index follows the checkout and drops the vectors of code that leaves it: starting
    from the far end would first walk, and re-embed, the whole way back."""
    ordered = sorted(items, key=lambda i: i["created_at"])
    head = subprocess.run(["git", "log", "-1", "--format=%cI", "HEAD"], cwd=clone, capture_output=True,
                          text=True) if (clone / ".git").exists() else None
    if head is None or head.returncode != 0 or not head.stdout.strip():
        return ordered
    at = datetime.fromisoformat(head.stdout.strip())
    first, last = (datetime.fromisoformat(ordered[i]["created_at"]) for i in (0, -1))
    return ordered[::-1] if abs(last - at) < abs(at - first) else ordered


def run_repo(repo: Repo, items: list[dict], record_dir: Path | None) -> list[dict]:
    out = []
    for item in walk(repo.clone, items):
        record = record_dir / f"{item['instance_id']}.json" if record_dir else None
        if record is not None and record.exists():
            saved = json.loads(record.read_text())
            found, bm25_ranked, note = Signals(**saved["signals"]), saved["bm25"], "from its record"
        else:
            found, bm25_ranked, note = repo.rankings(item)
            if record is not None:
                record.write_text(json.dumps({"signals": found.__dict__, "bm25": bm25_ranked}))
        ranked = [hit.path for hit in files_of(fuse(found), TOP)]
        # Only now, with both rankings fixed, are the gold files looked at.
        row = {"instance_id": item["instance_id"], "repo": repo.name, "rank": position(ranked, item["gold_files"]),
               "bm25_rank": position(bm25_ranked, item["gold_files"])}
        out.append(row)
        print(f"{item['instance_id']}: rank {row['rank']} bm25 {row['bm25_rank']} ({note})",
              file=sys.stderr, flush=True)
    if repo.index is not None:
        repo.index.close()
    return out


def accuracy(rows: list[dict], key: str, k: int) -> float:
    return 100.0 * sum(1 for r in rows if r[key] is not None and r[key] <= k) / len(rows)


def summary(rows: list[dict]) -> dict:
    groups = {"overall": rows}
    for repo in sorted({r["repo"] for r in rows}):
        groups[repo] = [r for r in rows if r["repo"] == repo]
    return {name: {"instances": len(group),
                   **{f"wren_acc@{k}": round(accuracy(group, "rank", k), 1) for k in KS},
                   **{f"bm25_acc@{k}": round(accuracy(group, "bm25_rank", k), 1) for k in KS}}
            for name, group in groups.items()}


def table(summ: dict) -> str:
    head = "| repository | n | " + " | ".join(f"Wren Acc@{k}" for k in KS) + " | " + \
           " | ".join(f"BM25 Acc@{k}" for k in KS) + " |"
    lines = [head, "|---|---:|" + "---:|" * (2 * len(KS))]
    for name, s in summ.items():
        cells = [f"{s[f'wren_acc@{k}']:.1f}" for k in KS] + [f"{s[f'bm25_acc@{k}']:.1f}" for k in KS]
        label = f"**{name}**" if name == "overall" else name
        lines.append(f"| {label} | {s['instances']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=Path, required=True)
    parser.add_argument("--mirrors", type=Path, required=True, help="DIR/<owner>+<name>/repo: bare repositories")
    parser.add_argument("--limit", type=int, help="first N instances of the file")
    parser.add_argument("--out", type=Path, help="write per-instance ranks and the summary as JSON")
    parser.add_argument("--repos", help="only these repositories, comma-separated (e.g. psf/requests)")
    parser.add_argument("--work", type=Path, default=Path.home() / ".cache" / "wren" / "bench" / "localization",
                        help="checkouts and their indexes; kept, so a second run only updates them")
    parser.add_argument("--embeddings", default="default", help="default, none, or a litellm embedding model")
    parser.add_argument("--signals", type=Path, help="record each instance's rankings here, or re-rank from them")
    args = parser.parse_args()
    items = [json.loads(line) for line in args.instances.read_text().splitlines() if line.strip()]
    if args.repos:
        items = [i for i in items if i["repo"] in args.repos.split(",")]
    items = items[:args.limit]
    if args.signals:
        args.signals.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in sorted(dict.fromkeys(i["repo"] for i in items), key=lambda r: sum(i["repo"] == r for i in items)):
        repo = Repo(name, args.mirrors, args.work, args.embeddings)
        rows += run_repo(repo, [i for i in items if i["repo"] == name], args.signals)
    summ = summary(rows)
    print(f"{len(rows)} instances, {len(summ) - 1} repositories\n")
    print(table(summ))
    if args.out:
        args.out.write_text(json.dumps({"instances": [{k: r[k] for k in ("instance_id", "rank", "bm25_rank")}
                                                      for r in rows], "summary": summ}, indent=1))


if __name__ == "__main__":
    main()
