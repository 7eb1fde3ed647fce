"""The GitHub Action's entry point: `python -m wren.cli.action`.

action.yml passes its inputs as INPUT_* environment variables. This runs `wren run` on them
(stream-json, with the diff), writes the step outputs to $GITHUB_OUTPUT and a Markdown job
summary to $GITHUB_STEP_SUMMARY, and exits with wren's exit code.
"""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from wren.cli.action_summary import Outcome, markdown


@dataclass
class Inputs:
    prompt: str
    model: str = ""
    approval: str = "auto-edit"
    max_steps: str = ""
    max_cost: str = ""
    timeout: str = ""
    extra_args: str = ""
    working_directory: str = "."
    diff_file: str = ""

    @classmethod
    def from_env(cls, env: dict[str, str]) -> "Inputs":
        def get(name: str, default: str = "") -> str:
            return env.get(f"INPUT_{name.upper()}", "").strip() or default

        return cls(prompt=get("prompt"), model=get("model"), approval=get("approval", cls.approval),
                   max_steps=get("max_steps"), max_cost=get("max_cost"), timeout=get("timeout"),
                   extra_args=get("extra_args"), working_directory=get("working_directory", "."),
                   diff_file=get("diff_file"))


def wren_command(inputs: Inputs) -> list[str]:
    """The prompt goes on stdin (`-`): no length limit, and a task that starts with `-` is not a flag."""
    cmd = [sys.executable, "-m", "wren.cli.main", "run", "-", "--output-format", "stream-json", "--include-diff",
           "--approval", inputs.approval, "--cwd", inputs.working_directory]
    for flag, value in (("--model", inputs.model), ("--max-steps", inputs.max_steps),
                        ("--max-cost", inputs.max_cost), ("--timeout", inputs.timeout)):
        if value:
            cmd += [flag, value]
    return cmd + shlex.split(inputs.extra_args)


def run_wren(inputs: Inputs) -> Outcome:
    # stderr (progress) goes straight to the job log; stdout is the event stream.
    proc = subprocess.run(wren_command(inputs), input=inputs.prompt, stdout=subprocess.PIPE, text=True)
    events = []
    for line in proc.stdout.splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            sys.stderr.write(f"wren-action: not JSON on wren's stdout: {line[:200]}\n")
    return Outcome.from_events(events, proc.returncode)


def write_outputs(path: Path, outputs: dict[str, str]) -> None:
    """GitHub's multiline syntax for every value: NAME<<DELIMITER, the value, DELIMITER."""
    with path.open("a", encoding="utf-8") as fh:
        for name, value in outputs.items():
            delimiter = f"wren_{uuid.uuid4().hex}"
            fh.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")


def diff_path(inputs: Inputs, env: dict[str, str]) -> Path:
    if inputs.diff_file:
        return Path(inputs.diff_file).resolve()
    return Path(env.get("RUNNER_TEMP") or tempfile.gettempdir()) / "wren.diff"


def main(env: dict[str, str] | None = None) -> int:
    env = dict(os.environ if env is None else env)
    inputs = Inputs.from_env(env)
    if not inputs.prompt:
        sys.stderr.write("wren-action: the `prompt` input is required\n")
        return 2
    outcome = run_wren(inputs)
    diff_file = diff_path(inputs, env)
    diff_file.write_text(outcome.diff, encoding="utf-8")
    outputs = {"result": json.dumps(outcome.result), "summary": outcome.summary,
               "exit-code": str(outcome.exit_code), "diff-file": str(diff_file)}
    if env.get("GITHUB_OUTPUT"):
        write_outputs(Path(env["GITHUB_OUTPUT"]), outputs)
    if env.get("GITHUB_STEP_SUMMARY"):
        with Path(env["GITHUB_STEP_SUMMARY"]).open("a", encoding="utf-8") as fh:
            fh.write(markdown(outcome))
    return outcome.exit_code


if __name__ == "__main__":
    sys.exit(main())
