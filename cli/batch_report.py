"""What `wren batch` shows: the progress line on stderr, and the totals (a table or JSON) at the end."""
from __future__ import annotations

from typing import TextIO


class Progress:
    """`wren batch: [#####.....] 5/10 · solved 3 · failed 1 · errors 1` on one stderr line."""

    def __init__(self, total: int, out: TextIO) -> None:
        self.total, self.out, self.counts = total, out, {"solved": 0, "failed": 0, "errors": 0}

    def add(self, record: dict) -> None:
        kind = "errors" if record["status"] == "error" else "solved" if record["solved"] else "failed"
        self.counts[kind] += 1
        done = sum(self.counts.values())
        bar = "#" * (20 * done // max(self.total, 1))
        line = (f"wren batch: [{bar:<20}] {done}/{self.total} · solved {self.counts['solved']} · "
                f"failed {self.counts['failed']} · errors {self.counts['errors']} · last {record['id']}")
        end = "\n" if done == self.total or not self.out.isatty() else ""
        self.out.write(("\r\x1b[K" if self.out.isatty() else "") + line + end)
        self.out.flush()


def _outcome(record: dict) -> str:
    return "error" if record["status"] == "error" else "solved" if record["solved"] else "failed"


def summary(records: list[dict], overall: list[dict], wall_s: float) -> dict:
    """Totals: `solved`, `failed` and `errors` over every task of the tasks file (those run now and
    those done before); tokens, cost and time of the tasks run now."""
    usage = [r["result"]["usage"] for r in records if r.get("result")]
    outcomes = [_outcome(r) for r in overall]
    return {"tasks": len(overall), "ran": len(records), "skipped": len(overall) - len(records),
            "solved": outcomes.count("solved"), "failed": outcomes.count("failed"), "errors": outcomes.count("error"),
            "prompt_tokens": sum(u["prompt_tokens"] for u in usage),
            "completion_tokens": sum(u["completion_tokens"] for u in usage),
            "cost_usd": round(sum(u["cost_usd"] for u in usage), 6), "wall_s": round(wall_s, 3)}


def table(records: list[dict], totals: dict) -> str:
    rows = [f"{'task':<24} {'outcome':<8} {'agent':<12} {'check':<6} {'steps':>5} {'seconds':>8}"]
    for r in sorted(records, key=lambda r: r["id"]):
        check = "-" if not r["check"] else "pass" if r["check"]["passed"] else "fail"
        steps = r["result"]["steps"] if r.get("result") else 0
        rows.append(f"{r['id'][:24]:<24} {_outcome(r):<8} {r['status']:<12} {check:<6} {steps:>5} "
                    f"{r['duration_s']:>8.1f}")
    rows += [f"  {r['id']}: {r['error']}" for r in sorted(records, key=lambda r: r["id"]) if r.get("error")]
    skipped = f" ({totals['skipped']} done before)" if totals["skipped"] else ""
    rows.append(f"{totals['tasks']} tasks{skipped}: solved {totals['solved']}, failed {totals['failed']}, "
                f"errors {totals['errors']} · this run: {totals['prompt_tokens']}+{totals['completion_tokens']} "
                f"tokens · ${totals['cost_usd']:.4f} · {totals['wall_s']:.1f}s")
    return "\n".join(rows)
