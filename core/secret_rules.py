"""Secrets by their format: gitleaks' default rule set (core/data/gitleaks.toml, MIT), run in Python.

Each rule is a regex with an optional secret group, keywords (the rule runs only on text that
holds one: this is what keeps 200 rules cheap), a minimum Shannon entropy for the secret and
allowlists (regexes and stopwords on the secret, the match or the line). Semantics follow
gitleaks' detect/detect.go: the secret is the rule's `secretGroup`, else the first non-empty
group, else the whole match. Rules and allowlists about file paths are skipped: Wren scans
text, not files. Go regex syntax is translated where Python's differs (POSIX classes, `\\z`,
a case-insensitive flag after the start).
"""
from __future__ import annotations

import math
import re
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

RULES_FILE = Path(__file__).parent / "data" / "gitleaks.toml"
_POSIX = {"[:alnum:]": "a-zA-Z0-9", "[:alpha:]": "a-zA-Z", "[:digit:]": "0-9", "[:upper:]": "A-Z",
          "[:lower:]": "a-z", "[:space:]": r"\s", "[:xdigit:]": "0-9a-fA-F", "[:word:]": r"\w"}


def python_regex(go: str) -> re.Pattern[str]:
    """A gitleaks (Go RE2) pattern compiled as Python `re`; re.error when it cannot be."""
    for posix, chars in _POSIX.items():
        go = go.replace(posix, chars)
    go = go.replace(r"\z", r"\Z")
    if "(?i)" in go[1:]:  # Python takes global flags only at the start; a wider match is safe here
        go = "(?i)" + go.replace("(?i)", "")
    return re.compile(go)


def entropy(text: str) -> float:
    """Shannon entropy in bits per character, as gitleaks computes it."""
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values()) if text else 0.0


@dataclass
class Allowlist:
    target: str  # "secret", "match" or "line"
    regexes: list[re.Pattern[str]] = field(default_factory=list)
    stopwords: list[str] = field(default_factory=list)
    all_of: bool = False  # condition AND: every kind given must hold

    def allows(self, secret: str, match: str, line: str) -> bool:
        text = {"match": match, "line": line}.get(self.target, secret)
        checks = []
        if self.regexes:
            checks.append(any(r.search(text) for r in self.regexes))
        if self.stopwords:
            checks.append(any(w in secret.lower() for w in self.stopwords))
        return bool(checks) and (all(checks) if self.all_of else any(checks))


@dataclass
class Rule:
    id: str
    regex: re.Pattern[str]
    group: int = 0
    min_entropy: float = 0.0
    keywords: tuple[str, ...] = ()
    allowlists: list[Allowlist] = field(default_factory=list)


def _allowlist(spec: dict) -> Allowlist | None:
    if spec.get("paths") and spec.get("condition") == "AND":
        return None  # it needs a path to hold, and there is none
    regexes = [python_regex(r) for r in spec.get("regexes", [])]
    stopwords = [w.lower() for w in spec.get("stopwords", [])]
    if not regexes and not stopwords:
        return None
    return Allowlist(spec.get("regexTarget", "secret"), regexes, stopwords, spec.get("condition") == "AND")


@lru_cache(maxsize=1)
def rules() -> tuple[list[Rule], Allowlist]:
    """The rules that scan text, and the global allowlist. Rules whose regex Python cannot take are left out."""
    config = tomllib.loads(RULES_FILE.read_text(encoding="utf-8"))
    found = []
    for spec in config["rules"]:
        if "regex" not in spec:  # a rule about file names only
            continue
        try:
            regex = python_regex(spec["regex"])
            lists = [a for a in map(_allowlist, spec.get("allowlists", [])) if a is not None]
        except re.error:
            continue
        found.append(Rule(spec["id"], regex, spec.get("secretGroup", 0), spec.get("entropy", 0.0),
                          tuple(k.lower() for k in spec.get("keywords", [])), lists))
    glob = config.get("allowlist", {})
    return found, Allowlist("secret", [python_regex(r) for r in glob.get("regexes", [])],
                            [w.lower() for w in glob.get("stopwords", [])])


def find(text: str) -> list[tuple[int, int, str]]:
    """Spans (start, end, rule id) of the secrets in `text`, by gitleaks' rules; may overlap."""
    lower = text.lower()
    found, everywhere = rules()
    spans = []
    for rule in found:
        if rule.keywords and not any(k in lower for k in rule.keywords):
            continue
        for m in rule.regex.finditer(text):
            group = rule.group or next((i for i in range(1, (m.re.groups or 0) + 1) if m.group(i)), 0)
            secret, (start, end) = m.group(group), m.span(group)
            if not secret or (rule.min_entropy and entropy(secret) < rule.min_entropy):
                continue
            line = text[text.rfind("\n", 0, start) + 1: (text.find("\n", end) + 1 or len(text) + 1) - 1]
            if everywhere.allows(secret, m.group(0), line) or \
                    any(a.allows(secret, m.group(0), line) for a in rule.allowlists):
                continue
            spans.append((start, end, rule.id))
    return spans
