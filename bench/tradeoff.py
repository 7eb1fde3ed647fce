"""The speed/success trade-off of Wren's settings, as a picture: x = median seconds per task, y = solved
rate, one point per setting (bench/settings.py), from the rows bench/tasks.py writes (results.jsonl).

    python bench/tradeoff.py RESULTS.jsonl [RESULTS.jsonl ...] --out bench/results/tradeoff.png
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path


def points(rows: list[dict]) -> list[dict]:
    """One point per system: {"system", "tasks", "solved", "rate", "median_s", "median_tokens"}, in the
    order the systems first appear. Tokens are prompt plus completion tokens."""
    by: dict[str, list[dict]] = {}
    for row in rows:
        by.setdefault(row["system"], []).append(row)
    out = []
    for system, mine in by.items():
        solved = sum(bool(r["solved"]) for r in mine)
        out.append({"system": system, "tasks": len(mine), "solved": solved, "rate": solved / len(mine),
                    "median_s": statistics.median(r["wall_s"] for r in mine),
                    "median_tokens": statistics.median(r["prompt_tokens"] + r["completion_tokens"] for r in mine)})
    return out


def plot(found: list[dict], out: Path, title: str) -> Path:
    """Write the scatter plot of `found` (see points) as a PNG at `out`; returns `out`."""
    import matplotlib

    matplotlib.use("Agg")  # no display: a file only
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for i, p in enumerate(found):
        ax.scatter(p["median_s"], p["rate"] * 100, s=40)
        # Labels stepped up and down: settings of one rate sit on one line, often close together.
        ax.annotate(f"{p['system']} ({p['solved']}/{p['tasks']})", (p["median_s"], p["rate"] * 100),
                    textcoords="offset points", xytext=(6, 6 - 14 * (i % 3)), fontsize=8)
    ax.set_xlabel("median wall seconds per task")
    ax.set_ylabel("solved (%)")
    ax.set_ylim(-5, 105)
    ax.set_xlim(0, max((p["median_s"] for p in found), default=1) * 1.5)  # room for the labels
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def table(found: list[dict]) -> str:
    """The points as a Markdown table."""
    lines = ["| setting | solved | rate | median wall s | median tokens |", "|---|---|---|---|---|"]
    lines += [f"| {p['system']} | {p['solved']}/{p['tasks']} | {p['rate']:.0%} | {p['median_s']:.0f} | "
              f"{p['median_tokens']:.0f} |" for p in found]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", nargs="+", type=Path, help="results.jsonl files of bench/tasks.py runs")
    ap.add_argument("--out", type=Path, default=Path("bench/results/tradeoff.png"))
    ap.add_argument("--title", default="Wren on QuixBugs: speed and success per setting")
    args = ap.parse_args()
    rows = [json.loads(line) for path in args.results for line in path.read_text().splitlines() if line.strip()]
    if not rows:
        print("no rows in the results given", file=sys.stderr)
        return 2
    found = points(rows)
    print(table(found))
    print(f"\nplot: {plot(found, args.out, args.title)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
