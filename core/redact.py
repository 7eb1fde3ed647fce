"""Keep secret values out of what the model, the log and the stream see.

Three kinds of secrets are replaced: the values of environment variables whose names say they
hold credentials; tokens whose format gives them away wherever they come from (a key pasted in
a prompt, one committed in a file, one a command prints), by the formats below and gitleaks'
rule set (core/secret_rules.py); and the value of a line that assigns to a secret's name
(`DB_PASSWORD=...`, `api_token: "..."`). What a write puts back is in `restore`.
"""
from __future__ import annotations

import os
import re
from functools import lru_cache
from typing import Any, Mapping

from wren.core import secret_rules

# Names of variables that hold credentials: *_API_KEY, *_ACCESS_KEY, *_TOKEN, *_SECRET, *PASSWORD ...
SECRET_NAME = re.compile(r"(?:^|_)(?:[A-Z]*KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?|AUTH)$", re.I)
MIN_SECRET_LEN = 8  # shorter values ("1", "true") would redact ordinary text

# Formats distinctive enough to redact on sight; generic "password = ..." text is left alone,
# because rewriting ordinary code would break the model's edits of it.
KEY_FORMATS: dict[str, re.Pattern[str]] = {name: re.compile(pattern, re.S) for name, pattern in {
    "private key": r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----.*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|\Z)",
    # AWS documents AKIAIOSFODNN7EXAMPLE; keys ending in EXAMPLE are its placeholders.
    "AWS access key": r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)(?![0-9A-Z]{9}EXAMPLE)[0-9A-Z]{16}\b",
    "GitHub token": r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})\b",
    "GitLab token": r"\bglpat-[A-Za-z0-9_\-]{20,}",
    "Anthropic key": r"\bsk-ant-[A-Za-z0-9_\-]{20,}",
    "OpenAI key": r"\bsk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{32,}",
    "Stripe key": r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{20,}",  # pk_: publishable, meant to be public
    "Slack token": r"\bxox[abposr]-[A-Za-z0-9\-]{10,}",
    "Google API key": r"\bAIza[0-9A-Za-z_\-]{35}",
    "Hugging Face token": r"\bhf_[A-Za-z0-9]{34,}",
    "JSON web token": r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",
    # Not in gitleaks' set (2026-07): Stripe's webhook signing secrets.
    "Stripe webhook secret": r"\bwhsec_[A-Za-z0-9+/=]{24,}",
}.items()}

# A line that assigns a value to a name: env files, shell exports, YAML, TOML, INI, JSON members.
ASSIGNMENT = re.compile(r"""^[ \t]*(?:export[ \t]+)?["']?([A-Za-z][A-Za-z0-9_.-]*)["']?[ \t]*[=:][ \t]*"""
                        r"""(["']?)([^\s"'#,;]{8,})\2[ \t]*,?[ \t]*\r?$""", re.M)
# Values that name a secret rather than hold one: $VAR, ${VAR}, {{ template }}, %VAR%, <placeholder>.
REFERENCE = re.compile(r"^(?:\$|%|<|\{\{|\[redacted )|^(?:true|false|null|none|changeme|redacted)$"
                       r"|example|placeholder|dummy|x{6}", re.I)
CODE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*(?:\(\))?$")


def _assigned_secret(name: str, quote: str, value: str) -> bool:
    """A value after a secret's name that is a secret: not a reference, and when unquoted, not
    code (`token = access_token`, `key = KEYS.get(name)`, `key: list[int]`) unless an identifier
    has a digit."""
    if not SECRET_NAME.search(name.replace("-", "_").replace(".", "_")) or REFERENCE.search(value):
        return False
    if quote:
        return True
    return not any(c in value for c in "()[]{}") and (not CODE_NAME.match(value) or any(c.isdigit() for c in value))


def secret_spans(text: str) -> list[tuple[int, int, str]]:
    """Non-overlapping (start, end, kind) of every secret found in `text` by format or by name,
    in order; where findings overlap the one that starts first (then the longest) wins."""
    spans = [(m.start(), m.end(), kind) for kind, pattern in KEY_FORMATS.items() for m in pattern.finditer(text)]
    spans += [(m.start(3), m.end(3), "secret value") for m in ASSIGNMENT.finditer(text)
              if _assigned_secret(m.group(1), m.group(2), m.group(3))]
    spans += secret_rules.find(text)
    chosen: list[tuple[int, int, str]] = []
    for start, end, kind in sorted(spans, key=lambda s: (s[0], -(s[1] - s[0]))):
        if not chosen or start >= chosen[-1][1]:
            chosen.append((start, end, kind))
    return chosen


@lru_cache(maxsize=4096)  # a prompt's messages are redacted again at every step
def _redact_found(text: str) -> str:
    out, at = [], 0
    for start, end, kind in secret_spans(text):
        out += [text[at:start], f"[redacted {kind}]"]
        at = end
    return "".join(out) + text[at:]


def secret_values(env: Mapping[str, str] | None = None) -> dict[str, str]:
    env = os.environ if env is None else env
    return {name: value for name, value in env.items()
            if SECRET_NAME.search(name) and len(value) >= MIN_SECRET_LEN}


def redact(text: str, env: Mapping[str, str] | None = None) -> str:
    # Longest first, so a value that contains another is replaced whole.
    for name, value in sorted(secret_values(env).items(), key=lambda kv: -len(kv[1])):
        text = text.replace(value, f"[redacted ${name}]")
    return _redact_found(text)


PLACEHOLDER = re.compile(r"\[redacted (?:\$[A-Za-z_][A-Za-z0-9_]*|[A-Za-z][A-Za-z0-9 -]*)\]")


class PlaceholderError(ValueError):
    """A placeholder in text to be written that cannot be put back to one secret value."""


def restore(text: str, source: str, env: Mapping[str, str] | None = None) -> str:
    """`text`, written by a model that was shown `source` redacted, with each placeholder put back to
    the secret value it stands for in `source`, so a placeholder is never written over a secret.

    Raises PlaceholderError when a placeholder stands for no value in `source` (the model copied it
    from elsewhere) or for several different ones (which one it meant cannot be told)."""
    if not PLACEHOLDER.search(text):
        return text
    meaning: dict[str, set[str]] = {}
    for name, value in secret_values(env).items():
        if value in source:
            meaning.setdefault(f"[redacted ${name}]", set()).add(value)
    for start, end, kind in secret_spans(source):
        meaning.setdefault(f"[redacted {kind}]", set()).add(source[start:end])

    def put_back(match: re.Match[str]) -> str:
        values = meaning.get(match.group(0), set())
        if len(values) != 1:
            where = "several different values" if values else "no value"
            raise PlaceholderError(
                f"{match.group(0)} is a placeholder Wren showed instead of a secret, and here it stands for {where} "
                "of the file, so it cannot be written: leave the lines holding it out of the edit (change the "
                "lines around them), or leave the value for the user to fill in")
        return next(iter(values))

    return PLACEHOLDER.sub(put_back, text)


def redact_data(value: Any) -> Any:
    """Every string inside dicts and lists redacted; what is not a string is left as it is."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_data(v) for v in value]
    return value
