"""A proposed plan as a file the editor's user can change before approving it (ACP plan mode).

ACP's `session/request_permission` offers choices but returns no text, so a plan cannot be edited in
the request itself. The plan is written to `.wren/plans/SESSION.md` in the workspace (the request
names the file as its location, so the editor can open it); when the user approves, the file is read
back, and a changed text is parsed as the plan that runs (agent/plan.py `parse_plan`: numbered steps,
`Files:`, `Verify:`), as the TUI does with its editor.
"""
from __future__ import annotations

from pathlib import Path

from wren.agent.plan import parse_plan
from wren.core.events import ProposedPlan

EDIT_HINT = "To change the plan, edit {} and save it, then approve: the plan in that file is what runs."


def write(root: Path, session_id: str, text: str) -> Path:
    """Write `text` to the session's plan file under `root` and return its path (a later plan of the
    session overwrites it)."""
    path = root / ".wren" / "plans" / f"{session_id}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def rel(path: Path) -> str:
    """The plan file's path as the user sees it in the workspace (`.wren/plans/ID.md`)."""
    return "/".join(path.parts[-3:])


def read_edited(path: Path, shown: str) -> ProposedPlan | None:
    """The plan as the file says now; None when it is as `shown` (the proposed plan runs), or when the
    file is gone or unreadable (then, too, the plan that was approved is the one shown)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return None if text.strip() == shown.strip() or not text.strip() else parse_plan(text, [])
