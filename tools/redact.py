"""Keep secret values out of what the model and the log see."""
from __future__ import annotations

import os
import re

# Names of variables that hold credentials: *_API_KEY, *_ACCESS_KEY, *_TOKEN, *_SECRET, *PASSWORD ...
SECRET_NAME = re.compile(r"(?:^|_)(?:[A-Z]*KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?|AUTH)$", re.I)
MIN_SECRET_LEN = 8  # shorter values ("1", "true") would redact ordinary text


def secret_values(env: dict[str, str] | None = None) -> dict[str, str]:
    env = os.environ if env is None else env
    return {name: value for name, value in env.items()
            if SECRET_NAME.search(name) and len(value) >= MIN_SECRET_LEN}


def redact(text: str, env: dict[str, str] | None = None) -> str:
    # Longest first, so a value that contains another is replaced whole.
    for name, value in sorted(secret_values(env).items(), key=lambda kv: -len(kv[1])):
        text = text.replace(value, f"[redacted ${name}]")
    return text
