"""Startup latency: `wren --version`, and `wren run --model scripted:...` until its first model request.

Prints a Markdown table of median wall times over repeated runs. The scripted model
answers at once, so the first event that follows a model call (stream-json) marks
when the first request was made.

    python bench/startup.py [--runs 15]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WREN = str(Path(sys.executable).with_name("wren"))


def time_version() -> float:
    start = time.perf_counter()
    subprocess.run([WREN, "--version"], check=True, capture_output=True)
    return time.perf_counter() - start


def time_first_request(workdir: Path, script: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.Popen([WREN, "run", "hello", "--model", f"scripted:{script}", "--output-format",
                             "stream-json", "--cwd", str(workdir)], stdout=subprocess.PIPE, text=True)
    elapsed = None
    for line in proc.stdout:
        if json.loads(line)["type"] in ("assistant_delta", "usage"):
            elapsed = time.perf_counter() - start
            break
    proc.stdout.read()
    proc.wait()
    if elapsed is None:
        raise SystemExit("the scripted run made no model request")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        script = workdir / "script.json"
        script.write_text(json.dumps({"turns": [{"content": "hi"}]}))
        time_version(), time_first_request(workdir, script)  # warm the OS file cache
        rows = [("wren --version", [time_version() for _ in range(args.runs)], 0.150),
                ("wren run (scripted) to first model request",
                 [time_first_request(workdir, script) for _ in range(args.runs)], 0.500)]
    print(f"| command | median ms | min ms | max ms | target ms | runs |\n|---|---:|---:|---:|---:|---:|")
    for name, samples, target in rows:
        print(f"| {name} | {statistics.median(samples) * 1000:.0f} | {min(samples) * 1000:.0f} | "
              f"{max(samples) * 1000:.0f} | {target * 1000:.0f} | {len(samples)} |")


if __name__ == "__main__":
    main()
