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


def redact_data(value: Any) -> Any:
    """Every string inside dicts and lists redacted; what is not a string is left as it is."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_data(v) for v in value]
    return value
