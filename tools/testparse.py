"""Read a test run's output: how many passed, failed and errored, and the first failures.

One parser per runner (pytest, unittest, go test -v, cargo test, jest and node's runner);
each returns None when the output is not its runner's, so a configured command is
read by whichever recognises it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from wren.tools.pytest_failures import DIFF_LINE, WHERE, plain_assert, plain_origins, plain_raise

MAX_FAILURES = 5


@dataclass
class Failure:
    test_id: str
    message: str = ""
    location: str = ""  # file:line where it failed (the test's line, then where it raised, if elsewhere)


@dataclass
class TestOutcome:
    runner: str
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    failures: list[Failure] = field(default_factory=list)
    # The runner's own report of each failure (its traceback), in order, where the parser can cut it out.
    reports: list[str] = field(default_factory=list)

    def summary(self, room: int | None = None) -> str:
        """The counts, then a line per failure, at most MAX_FAILURES of them and, given `room` (characters),
        only as many as fit in it (always the first)."""
        counts = f"{self.passed} passed, {self.failed} failed, {self.errors} errors"
        lines = [f"Tests ({self.runner}): {counts}" + (f", {self.skipped} skipped" if self.skipped else "") + "."]
        used = len(lines[0])
        for n, f in enumerate(self.failures[:MAX_FAILURES]):
            where = f" at {f.location}" if f.location else ""
            line = f"- {f.test_id}{where}: {f.message or '(see output)'}"
            if n and room is not None and used + len(line) + 1 > room:
                break
            lines.append(line)
            used += len(line) + 1
        if len(self.failures) > len(lines) - 1:
            lines.append(f"- ... and {len(self.failures) - (len(lines) - 1)} more (see output)")
        return "\n".join(lines)


def _count(pattern: str, text: str) -> int:
    return sum(int(n) for n in re.findall(pattern, text, re.M))


def _where(locations: list[str]) -> str:
    if not locations:
        return ""
    return locations[0] if locations[0] == locations[-1] else f"{locations[0]} (raised at {locations[-1]})"


PYTEST_FINAL = re.compile(r"^=*\s*((?:\d+ \w+(?:, )?)+) in [\d.]+s", re.M)
PYTEST_ID = re.compile(r"^(FAILED|ERROR) (\S+)(?: - (.*))?$", re.M)
PYTEST_HEADER = re.compile(r"^_{3,} (.+?) _{3,}$", re.M)


def _pytest_sections(text: str) -> dict[str, str]:
    """Traceback section per test name as pytest heads it ('test_x', 'TestK.test_p[2]')."""
    heads = list(PYTEST_HEADER.finditer(text))
    sections = {}
    for i, head in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        body = text[head.end(): end].split("\n=====", 1)[0]
        sections[re.sub(r"^ERROR at \w+ of ", "", head.group(1))] = body
    return sections


def parse_pytest(text: str) -> TestOutcome | None:
    final = PYTEST_FINAL.findall(text)
    if not final:
        return None
    counts: dict[str, int] = dict((kind, int(n)) for n, kind in re.findall(r"(\d+) (\w+)", final[-1]))
    out = TestOutcome("pytest", counts.get("passed", 0), counts.get("failed", 0),
                      counts.get("errors", counts.get("error", 0)), counts.get("skipped", 0))
    sections = _pytest_sections(text)
    for kind, test_id, reason in PYTEST_ID.findall(text):
        name = test_id.split("::", 1)[-1].replace("::", ".")
        body = sections.get(name, "")
        errors = [line[1:].strip() for line in body.splitlines() if line.startswith("E ") and line[1:].strip()]
        said = plain_assert(body)
        plain = said or plain_raise(body)
        origins = plain_origins(body, plain) if plain else ""
        plain += f"; {origins}" if origins else ""
        # pytest's `+  where A = f(x)` lines say what `plain` says already; after a failed equality said in
        # words, so do the lines of its diff of the two values (`- Hello, Ann?`, `?  ^`), not `At index 7 diff`.
        extra = [e for e in errors[1:] if not WHERE.match(e) and not (said and DIFF_LINE.match(e))][:2]
        message = " / ".join([plain] + extra if plain else errors[:3]) or reason
        places = [f"{f}:{n}" for f, n in re.findall(r"^(\S+?):(\d+): in ", body, re.M)]
        out.failures.append(Failure(test_id, message, _where(places)))
        if body.strip():
            out.reports.append(f"{test_id}\n{body.strip(chr(10))}")
    return out


UNITTEST_SECTION = re.compile(r"^(FAIL|ERROR): (\S+) \((.+?)\)\n-+\n(.*?)(?=^=====|^-----)", re.M | re.S)


def parse_unittest(text: str) -> TestOutcome | None:
    ran = re.search(r"^Ran (\d+) tests? in", text, re.M)
    if not ran:
        return None
    status = re.search(r"^(?:FAILED|OK) ?\((.*)\)$", text, re.M)
    counts = dict(kv.split("=") for kv in status.group(1).split(", ")) if status else {}
    failed, errors, skipped = (int(counts.get(k, 0)) for k in ("failures", "errors", "skipped"))
    failed += int(counts.get("unexpected successes", 0))
    out = TestOutcome("unittest", int(ran.group(1)) - failed - errors - skipped, failed, errors, skipped)
    for kind, name, test_id, body in UNITTEST_SECTION.findall(text):
        places = [f"{f}:{n}" for f, n in re.findall(r'File "(.+?)", line (\d+)', body)]
        lines = [line for line in body.strip().splitlines() if line.strip()]
        out.failures.append(Failure(test_id, lines[-1].strip() if lines else "", _where(places)))
    return out


def parse_go(text: str) -> TestOutcome | None:
    if not re.search(r"^(?:ok|FAIL|---)\s", text, re.M):
        return None
    out = TestOutcome("go", _count_lines(r"^\s*--- PASS", text), _count_lines(r"^\s*--- FAIL", text),
                      len(re.findall(r"^FAIL\s+\S+\s+\[(?:build|setup) failed\]", text, re.M)),
                      _count_lines(r"^\s*--- SKIP", text))
    notes: dict[str, list[tuple[str, str]]] = {}
    current = ""
    for line in text.splitlines():
        if run := re.match(r"^=== (?:RUN|CONT)\s+(\S+)", line):
            current = run.group(1)
        elif note := re.match(r"^\s+(\S+\.go:\d+): (.*)", line):
            notes.setdefault(current, []).append((note.group(1), note.group(2)))
        elif fail := re.match(r"^\s*--- FAIL: (\S+)", line):
            said = notes.get(fail.group(1), [])
            out.failures.append(Failure(fail.group(1), said[0][1] if said else "", said[0][0] if said else ""))
    for place, message in re.findall(r"^(\S+\.go:\d+:\d+): (.*)", text, re.M):
        out.failures.append(Failure("(build)", message, place))
    return out


def _count_lines(pattern: str, text: str) -> int:
    return len(re.findall(pattern, text, re.M))


CARGO_PANIC = re.compile(r"^thread '(.+?)'(?: \(\d+\))? panicked at (?:'(.*?)', )?(\S+?:\d+):\d+:?\n?(.*)$", re.M)


def parse_cargo(text: str) -> TestOutcome | None:
    results = re.findall(r"^test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored", text, re.M)
    build = re.findall(r"^error(?:\[\w+\])?: (.*)\n\s*--> (\S+?:\d+):\d+", text, re.M)
    if not results and not build:
        return None
    out = TestOutcome("cargo", sum(int(r[0]) for r in results), sum(int(r[1]) for r in results), len(build),
                      sum(int(r[2]) for r in results))
    for test_id, old_style, place, new_style in CARGO_PANIC.findall(text):
        out.failures.append(Failure(test_id, (old_style or new_style).strip(), place))
    out.failures += [Failure("(build)", message, place) for message, place in build]
    return out


def parse_node(text: str) -> TestOutcome | None:
    jest = re.search(r"^Tests:\s+(.*?)\d+ total", text, re.M)
    tap = re.search(r"^# pass (\d+)", text, re.M)
    if not jest and not tap:
        return None
    if jest:
        counts = dict((kind, int(n)) for n, kind in re.findall(r"(\d+) (\w+)", jest.group(1)))
        out = TestOutcome("jest", counts.get("passed", 0), counts.get("failed", 0), 0, counts.get("skipped", 0))
        for name, body in re.findall(r"^\s*● (.+?)\n\n(.*?)(?=^\s*●|\Z)", text, re.M | re.S):
            where = re.search(r"\(([^()\s]+?:\d+):\d+\)", body)
            first = next((line.strip() for line in body.splitlines() if line.strip()), "")
            out.failures.append(Failure(name.strip(), first, where.group(1) if where else ""))
        return out
    assert tap is not None  # neither jest's summary nor TAP's returned None above
    out = TestOutcome("node", int(tap.group(1)), _count(r"^# fail (\d+)", text), 0, _count(r"^# skipped (\d+)", text))
    for name, body in re.findall(r"^\s*not ok \d+ - ([^\n]*)\n(.*?)^\s*\.\.\.$", text, re.M | re.S):
        where = re.search(r"location: '(.+?:\d+):\d+'", body)
        said = re.search(r"error: \|-?\n\s*(.+)", body) or re.search(r"error: '?(.+?)'?$", body, re.M)
        message = said.group(1).strip() if said else ""
        out.failures.append(Failure(name.strip(), message, where.group(1) if where else ""))
    return out


PARSERS = {"pytest": parse_pytest, "unittest": parse_unittest, "go": parse_go, "cargo": parse_cargo,
           "npm": parse_node}


def parse(text: str, runner: str) -> TestOutcome | None:
    """The outcome by the runner's own parser first, then by any that recognises the output."""
    order = [PARSERS[runner]] if runner in PARSERS else []
    for parser in order + [p for p in PARSERS.values() if p not in order]:
        if (outcome := parser(text)) is not None:
            return outcome
    return None
