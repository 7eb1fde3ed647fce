"""`wren sessions list|show`: what happened in a session, compactions included."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Iterator

from wren.cli.render import progress_line
from wren.core.errors import ConfigError
from wren.core.events import (AssistantMessage, ContextCompacted, ErrorEvent, Event, Result, SessionTitled,
                              ToolResultEvent, UserMessage)
from wren.core.log import find_session, read_events, sessions_dir


def _root(args: argparse.Namespace) -> Path:
    from wren.agent.start import workspace_root

    return workspace_root(args.cwd)  # ConfigError (exit 2) for a --cwd that is not a directory


def cmd_list(args: argparse.Namespace) -> int:
    folder = sessions_dir(_root(args))
    logs = sorted((p for p in folder.glob("*.jsonl") if p.is_file()), key=lambda p: p.stat().st_mtime) \
        if folder.is_dir() else []
    if not logs:
        print(f"no sessions in {folder}")
        return 0
    for path in logs:
        try:
            events = read_events(path)
        except (ConfigError, OSError) as exc:  # one damaged or unreadable log must not hide the others
            why = exc.message if isinstance(exc, ConfigError) else f"cannot read {path}: {exc.strerror or exc}"
            print(f"{path.stem}  {'':16}  {'damaged':<11} ({why})")
            continue
        # The fast model's title where it wrote one, else the first prompt.
        first = next((e.title for e in events if isinstance(e, SessionTitled)),
                     next((e.text for e in events if isinstance(e, UserMessage)), ""))
        last = next((e for e in reversed(events) if isinstance(e, Result)), None)
        status = last.status if last else "unfinished"
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(path.stat().st_mtime))
        print(f"{path.stem}  {when}  {status:<11} {' '.join(first.split())[:70]}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    events = read_events(find_session(_root(args), args.id))
    compactions = [e for e in events if isinstance(e, ContextCompacted)]
    if not args.compactions:
        for line in transcript(events, args.full):
            print(line)
        print(f"{len(compactions)} compaction(s); --compactions shows them")
        return 0
    if not compactions:
        print("no compactions in this session")
    for c in compactions:
        print(f"=== compaction {c.number} ({c.reason}): {c.tokens_before} -> {c.tokens_after} tokens, "
              f"{c.evicted} messages evicted")
        if c.retrieval:
            print(f"--- memory search: {c.retrieval}")
        print(f"--- summary\n{c.summary}\n--- evicted")
        for item in c.items:
            print(f"  [{item.role}{' ' + item.name if item.name else ''}] ({item.chars} chars) {item.preview}")
        print()
    return 0


def transcript(events: list[Event], full: bool = False) -> Iterator[str]:
    """A session as lines: the user's messages (`>`), the model's text (`<`), each tool call and the first line
    of its result as `wren run` shows them on stderr (whole with `full`), errors, and each turn's result."""
    said = ""  # the model's last text or fatal error: a result whose summary repeats it is not printed twice
    for e in events:
        if isinstance(e, UserMessage):
            yield f"> {e.text}" if e.by == "user" else f"> [wren] {e.text.splitlines()[0] if e.text else ''}"
        elif isinstance(e, AssistantMessage):
            if said := e.content.strip():
                yield f"< {said if full else ' '.join(said.split())[:300]}"
        elif isinstance(e, ErrorEvent) and e.fatal:
            said = e.message.strip()
            yield f"wren: error: {e.message}"
        elif isinstance(e, ToolResultEvent) and full:
            body = (e.output or "").rstrip("\n").replace("\n", "\n    ")
            yield f"  {'✓' if e.ok else '✗'} {body}"
        elif isinstance(e, Result):
            if e.summary.strip() != said:
                yield f"< [{e.status}] {e.summary}"
            yield f"{progress_line(e)}\n"
        elif line := progress_line(e):
            yield line


def run(args: argparse.Namespace) -> int:
    try:
        return cmd_show(args) if args.sessions_command == "show" else cmd_list(args)
    except ConfigError as exc:
        sys.stderr.write(f"wren: {exc.message}\n")
        return exc.exit_code
