"""What a tool call will do, shown before the user approves it: the tool's own preview (an edit's
diff, a shell's command), rendered; the TUI never reads tool arguments itself."""
from __future__ import annotations

import json
from typing import Any

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text

from wren.core.events import CommandPreview, FileChange


def diff_view(diff: str) -> Syntax:
    # ANSI theme: the terminal's own palette, so diffs read well in light and dark themes.
    return Syntax(diff.rstrip("\n"), "diff", theme="ansi_dark", background_color="default", word_wrap=True)


def preview(change: FileChange | CommandPreview | None, args: dict[str, Any], raw_args: str) -> RenderableType:
    """The call's preview; the parsed `args` (else the raw text) for tools that have none."""
    if isinstance(change, FileChange):
        if change.error:
            return Group(Text(f"The edit does not apply as it stands: {change.error}", style="bold"),
                         Text(json.dumps(args, indent=2)))
        return diff_view(change.diff) if change.diff else Text("(no change)")
    if isinstance(change, CommandPreview):
        timeout = f" · timeout {change.timeout_s:g}s" if change.timeout_s else ""
        return Group(Text.assemble(("$ ", "bold"), change.command), Text(f"in {change.cwd}{timeout}"))
    return Text(json.dumps(args, indent=2) if args else raw_args)
