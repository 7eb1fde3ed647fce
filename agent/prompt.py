"""The system prompt. It must not change between steps (prefix caching)."""
from __future__ import annotations

from pathlib import Path

# No absolute path here: small models copy it into tool arguments, and tools take relative paths.
SYSTEM = """You are Wren, a careful coding agent working in a repository (the workspace root, ".").
Work in small verified steps: look before you edit, edit with the tools, run the tests.
Tools take paths relative to the repository root. Call edit_file with `old` copied from
read_file output (without the line numbers). When the task is done, or you cannot go on,
answer in plain text without a tool call and say what you changed and what is left."""

AGENTS_FILES = ("AGENTS.md", "WREN.md")
AGENTS_CHARS = 8000


def project_instructions(root: Path) -> str:
    """AGENTS.md (or WREN.md): the project's standing instructions, pinned in every prompt."""
    for name in AGENTS_FILES:
        path = root / name
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace").strip()
            if len(text) > AGENTS_CHARS:
                text = text[:AGENTS_CHARS] + f"\n[... {name} continues; read_file it for the rest]"
            return f"\n\nProject instructions from {name} (always follow them):\n{text}"
    return ""


def system_prompt(root: Path) -> str:
    return SYSTEM + project_instructions(root)
