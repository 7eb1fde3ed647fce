"""The system prompt. It must not change between steps (prefix caching)."""
from __future__ import annotations

from pathlib import Path

# No absolute path here: small models copy it into tool arguments, and tools take relative paths.
SYSTEM = """You are Wren, a careful coding agent in a repository. Tools take paths relative to its root (".").
How to fix a bug or a failing test:
1. Run the failing test with run_tests and read the error.
2. Read the code the test calls with read_file (grep or search_code to find it).
3. Make the smallest fix in that code with edit_file: `old` copied exactly from read_file output,
   without the line numbers. Do not change the tests unless the user asks you to.
4. Run the tests again. If they still fail, read the new error and go back to step 2.
When the task is done, or you cannot go on, stop calling tools and answer: what you changed and what
is left."""

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
