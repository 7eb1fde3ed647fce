"""Keep secret values out of what the model, the log and the stream see.

Two kinds of secrets are replaced: the values of environment variables whose names say they
hold credentials, and tokens whose format gives them away wherever they come from (a key
pasted in a prompt, one committed in a file, one a command prints).
"""
from __future__ import annotations

import os
import re
from typing import Any

# Names of variables that hold credentials: *_API_KEY, *_ACCESS_KEY, *_TOKEN, *_SECRET, *PASSWORD ...
SECRET_NAME = re.compile(r"(?:^|_)(?:[A-Z]*KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?|AUTH)$", re.I)
MIN_SECRET_LEN = 8  # shorter values ("1", "true") would redact ordinary text

# Formats distinctive enough to redact on sight; generic "password = ..." text is left alone,
# because rewriting ordinary code would break the model's edits of it.
KEY_FORMATS: dict[str, re.Pattern[str]] = {name: re.compile(pattern, re.S) for name, pattern in {
    "private key": r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----.*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|\Z)",
    "AWS access key": r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}\b",
    "GitHub token": r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})\b",
    "GitLab token": r"\bglpat-[A-Za-z0-9_\-]{20,}",
    "Anthropic key": r"\bsk-ant-[A-Za-z0-9_\-]{20,}",
    "OpenAI key": r"\bsk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{32,}",
    "Stripe key": r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{20,}",
    "Slack token": r"\bxox[abposr]-[A-Za-z0-9\-]{10,}",
    "Google API key": r"\bAIza[0-9A-Za-z_\-]{35}",
    "Hugging Face token": r"\bhf_[A-Za-z0-9]{34,}",
    "JSON web token": r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",
}.items()}


def secret_values(env: dict[str, str] | None = None) -> dict[str, str]:
    env = os.environ if env is None else env
    return {name: value for name, value in env.items()
            if SECRET_NAME.search(name) and len(value) >= MIN_SECRET_LEN}


def redact(text: str, env: dict[str, str] | None = None) -> str:
    # Longest first, so a value that contains another is replaced whole.
    for name, value in sorted(secret_values(env).items(), key=lambda kv: -len(kv[1])):
        text = text.replace(value, f"[redacted ${name}]")
    for kind, pattern in KEY_FORMATS.items():
        text = pattern.sub(f"[redacted {kind}]", text)
    return text


PLACEHOLDER = re.compile(r"\[redacted (?:\$[A-Za-z_][A-Za-z0-9_]*|[A-Za-z][A-Za-z0-9 ]*)\]")


class PlaceholderError(ValueError):
    """A placeholder in text to be written that cannot be put back to one secret value."""


def restore(text: str, source: str, env: dict[str, str] | None = None) -> str:
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
    for kind, pattern in KEY_FORMATS.items():
        for found in pattern.finditer(source):
            meaning.setdefault(f"[redacted {kind}]", set()).add(found.group(0))

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
