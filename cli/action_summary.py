"""The Markdown job summary of a `wren run` in GitHub Actions: what changed, tests run, cost."""
from __future__ import annotations

from dataclasses import dataclass, field

DIFF_CHARS = 60_000  # GitHub caps a step summary at 1 MiB; the diff file has all of it
TEST_OUTPUT_LINES = 15


@dataclass
class TestRun:
    command: str
    ok: bool
    output: str


@dataclass
class Outcome:
    exit_code: int
    result: dict = field(default_factory=dict)
    tests: list[TestRun] = field(default_factory=list)

    @property
    def summary(self) -> str:
        return str(self.result.get("summary") or "")

    @property
    def diff(self) -> str:
        return str(self.result.get("diff") or "")

    @classmethod
    def from_events(cls, events: list[dict], exit_code: int) -> "Outcome":
        """The result (the last `result` event) and the test runs among the tool calls (not those denied)."""
        calls: dict[str, dict] = {}
        tests: list[TestRun] = []
        result: dict = {}
        for event in events:
            kind = event.get("type")
            if kind == "tool_call":
                calls[event["call_id"]] = event
            elif kind == "approval_resolved" and event.get("decision") == "deny":
                calls.pop(event["call_id"], None)
            elif kind == "tool_result" and _is_test(calls.get(event["call_id"], {})):
                tests.append(TestRun(_describe(calls[event["call_id"]]), event["ok"], event["output"]))
            elif kind == "result":
                result = event
        return cls(exit_code=exit_code, result=result, tests=tests)


def _command(call: dict) -> str:
    """The command a tool_call event's preview names ("" for calls that run none)."""
    preview = call.get("preview") or {}
    return str(preview.get("command", "")) if preview.get("type") == "command" else ""


def _is_test(call: dict) -> bool:
    return "test" in _command(call)


def _describe(call: dict) -> str:
    return _command(call)


def markdown(outcome: Outcome) -> str:
    r = outcome.result
    status = r.get("status", "error")
    parts = [f"## Wren: {status} (exit {outcome.exit_code})\n", _quote(outcome.summary or "(no summary)")]
    parts.append(_changes(r.get("files_changed") or [], outcome.diff))
    parts.append(_tests(outcome.tests))
    usage = r.get("usage") or {}
    parts.append("### Cost\n\n| steps | prompt tokens | completion tokens | cost | time |\n|---|---|---|---|---|\n"
                 f"| {r.get('steps', 0)} | {usage.get('prompt_tokens', 0)} | {usage.get('completion_tokens', 0)} "
                 f"| ${usage.get('cost_usd', 0.0):.4f} | {r.get('duration_s', 0.0):.1f}s |\n")
    if error := r.get("error"):
        parts.append(f"### Error\n\n`{error.get('kind')}`: {error.get('message')}\n")
    return "\n".join(parts) + "\n"


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" for line in text.splitlines()) + "\n"


def _changes(files: list[str], diff: str) -> str:
    if not files:
        return "### What changed\n\nNo files changed.\n"
    listing = "\n".join(f"- `{name}`" for name in files)
    shown = diff if len(diff) <= DIFF_CHARS else diff[:DIFF_CHARS] + "\n… (cut; see the diff file)\n"
    fence = "````" if "```" in shown else "```"
    return (f"### What changed\n\n{listing}\n\n<details><summary>Diff</summary>\n\n"
            f"{fence}diff\n{shown.rstrip()}\n{fence}\n\n</details>\n")


def _tests(tests: list[TestRun]) -> str:
    if not tests:
        return "### Tests run\n\nNone.\n"
    rows = []
    for test in tests:
        tail = "\n".join(test.output.rstrip().splitlines()[-TEST_OUTPUT_LINES:])
        rows.append(f"- {'✅' if test.ok else '❌'} `{test.command}`\n\n  ```\n"
                    + "\n".join(f"  {line}" for line in tail.splitlines()) + "\n  ```\n")
    return "### Tests run\n\n" + "\n".join(rows)
