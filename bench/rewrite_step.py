"""How often a model writes a QuixBugs function correctly when asked for the whole function: from its
documentation alone, or with the buggy code in view (agent/rewrite.py's two kinds of rewrite attempt).

    python bench/rewrite_step.py --quixbugs PATH --tasks lis,gcd [--samples 2] [--prompts spec,code]
        [--model PATH.gguf] [--out SAMPLES.jsonl]

Each sample is one chat request on its own, Wren's rewrite request (agent/rewrite.py: SYSTEM, then SPEC or
CODE; no agent, no tools): `spec` gives the function's `def` line and the program's documentation (QuixBugs'
description after the code) and asks for the function; `code` gives the program's code up to its last function
and its documentation, says its tests fail, and asks for the code again. The reply's first
fenced block replaces the program (agent/rewrite.definition's reading: the function the task's failing test
calls), and the task's test file runs on a fresh copy of the task (bench/quixbugs.check). Qwen2.5-Coder's
recommended sampling, a seed per sample. Prints a Markdown table: per task and prompt, samples correct and
median seconds a sample.

Tune only on the development set; the other 20 programs are held out (bench/quixbugs.DEV).
"""
from __future__ import annotations

import argparse
import ast
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root: `bench` is a namespace package

from bench import quixbugs  # noqa: E402
from bench.tasks import DEFAULT_MODEL  # noqa: E402
from wren.agent.rewrite import BLOCK, CODE, SYSTEM, outside_names, spec  # noqa: E402
from wren.local_models.catalog import sampling_for  # noqa: E402

def parts(source: str) -> tuple[str, str, str, tuple[str, ...]]:
    """(the code before the documentation string, the last function's `def` line, the documentation, the names
    the last function uses from outside itself)."""
    tree = ast.parse(source)
    doc = next((n.value.value for n in tree.body if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)
                and isinstance(n.value.value, str)), "")
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    end = max(f.end_lineno or f.lineno for f in functions)
    lines = source.splitlines(True)
    return "".join(lines[:end]), lines[functions[-1].lineno - 1].strip(), doc.strip(), outside_names(functions[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quixbugs", type=Path, required=True, help="a git directory of jkoppel/QuixBugs")
    parser.add_argument("--tasks", required=True, help="comma-separated development-set programs")
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--prompts", default="spec,code")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--out", type=Path, help="a JSON line per sample (its code) to this file")
    args = parser.parse_args()
    tasks = args.tasks.split(",")
    if held := [t for t in tasks if t not in quixbugs.DEV]:
        raise SystemExit(f"not in the development set: {', '.join(held)}")
    from llama_cpp import Llama

    llm = Llama(str(args.model), n_ctx=4096, verbose=False)
    sampling = sampling_for(args.model)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for task in tasks:
            for kind in args.prompts.split(","):
                correct, seconds = 0, []
                for i in range(args.samples):
                    ws = quixbugs.make_workspace(args.quixbugs, task, Path(tmp) / f"{task}-{kind}-{i}")
                    program = ws / "python_programs" / f"{task}.py"
                    code, sig, doc, uses = parts(program.read_text())
                    message = (spec(sig, doc, uses) if kind == "spec"
                               else CODE.format(code=code.rstrip("\n"), doc=doc))
                    started = time.perf_counter()
                    reply = llm.create_chat_completion(
                        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": message}],
                        max_tokens=700, seed=100 + i,
                        temperature=sampling.temperature, top_p=sampling.top_p, top_k=sampling.top_k)
                    seconds.append(time.perf_counter() - started)
                    text = reply["choices"][0]["message"]["content"]
                    blocks = BLOCK.findall(text)
                    program.write_text(blocks[0] if blocks else text)
                    result = quixbugs.check(ws, task)
                    correct += result.solved
                    print(f"{task} {kind} sample {i + 1}: {'correct' if result.solved else 'wrong'}", file=sys.stderr)
                    if args.out:
                        with args.out.open("a") as out:
                            out.write(json.dumps({"task": task, "prompt": kind, "sample": i, "correct": result.solved,
                                                  "reply": text}) + "\n")
                rows.append((task, kind, correct, args.samples, statistics.median(seconds)))
    print("| task | prompt | correct | median s a sample |\n|---|---|---:|---:|")
    for task, kind, correct, n, s in rows:
        print(f"| {task} | {kind} | {correct}/{n} | {s:.0f} |")


if __name__ == "__main__":
    main()
