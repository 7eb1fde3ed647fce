"""Keep secret values out of what the model and the log see."""
from __future__ import annotations

import os
import re

SECRET_NAME = re.compile(r"(API_?KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?|PRIVATE_KEY)$", re.I)


def secret_values(env: dict[str, str] | None = None) -> dict[str, str]:
    env = os.environ if env is None else env
    return {name: value for name, value in env.items() if SECRET_NAME.search(name) and len(value) >= 8}


def redact(text: str, env: dict[str, str] | None = None) -> str:
    # Longest first, so a value that contains another is replaced whole.
    for name, value in sorted(secret_values(env).items(), key=lambda kv: -len(kv[1])):
        text = text.replace(value, f"[redacted ${name}]")
    return text
