"""With a Chroma server (`wren batch --chroma URL`), the code index of each commit the tasks use is
built on the server once, before the tasks start, in a clone of its own; every task on that commit
then reads it (its collection is named by repository and commit, context/chroma.py) and embeds
nothing of its own. A commit whose index is already there costs a lexical scan."""
from __future__ import annotations

import time
from typing import TextIO

from wren.cli.batch import BatchTask, Job, prepare_workspace


def build_shared_indexes(tasks: list[BatchTask], job: Job, err: TextIO) -> None:
    """One index per (repo, commit) of `tasks` on job.chroma; a line on `err` for each. A commit
    that cannot be cloned or indexed is reported and left to its tasks (they say why, or embed
    what they search)."""
    from wren.context.index import open_index
    from wren.core.config import load_config

    seen: set[tuple[str, str | None]] = set()
    for task in tasks:
        key = (task.repo, task.commit)
        if key in seen:
            continue
        seen.add(key)
        work = job.out / "index" / f"{len(seen)}"
        started = time.monotonic()
        try:
            clone = prepare_workspace(task, job.base, work)
            warnings: list[str] = []
            index = open_index(clone, load_config(clone).embeddings, warnings.append, job.chroma)
            try:
                stats = index.update()
            finally:
                index.close()
        except Exception as exc:  # noqa: BLE001 - reported; chromadb raises many types, and the tasks still run
            err.write(f"wren batch: no shared index for {task.repo} at {task.commit or 'HEAD'}: {exc}\n")
            continue
        where = f"collection {index.store.collection.name}" if index.store is not None else \
            f"lexical only ({'; '.join(warnings) or 'no embedder'})"
        err.write(f"wren batch: shared index of {task.repo} at {task.commit or 'HEAD'}: {where}, "
                  f"{stats.embedded} chunks embedded now, {stats.pending} waiting ({time.monotonic() - started:.1f}s)\n")
