"""One rate-limit budget per provider for every Wren process of a batch.

When a provider answers 429 (kind `rate_limit`), the session that got it records "no calls to this
provider before T" in a file that the other workers read before each call, so a rate limit slows
every worker down instead of each one finding it on its own (and all of them retrying at once).
`wren batch` points its tasks at one folder (`WREN_RATE_LIMIT_DIR`, under the batch's --out); on
several machines the folder is per host unless it is on a shared filesystem. Without the variable
the gate does nothing.
"""
from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Callable

try:
    import fcntl
except ImportError:  # Windows: no lock; a lost update only shortens a wait
    fcntl = None  # type: ignore[assignment]  # the module is optional here

ENV = "WREN_RATE_LIMIT_DIR"
SLICE_S = 0.25  # a wait wakes this often to honour an interrupt or the time limit


def provider(model: str) -> str:
    """The provider part of a model name (`anthropic/claude-...` -> `anthropic`; `local:x` -> `local`),
    made safe as a file name."""
    head = re.split(r"[/:]", model, maxsplit=1)[0] or "default"
    return re.sub(r"[^A-Za-z0-9_.-]", "_", head)


class RateGate:
    """The shared "not before" time of each provider, in `folder` (None: a gate that never waits)."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder

    @classmethod
    def from_env(cls) -> "RateGate":
        """The gate of the batch this process runs in (WREN_RATE_LIMIT_DIR), else an open one."""
        value = os.environ.get(ENV)
        return cls(Path(value) if value else None)

    def _path(self, model: str) -> Path | None:
        return None if self.folder is None else self.folder / provider(model)

    def not_before(self, model: str) -> float:
        """The wall-clock time (time.time()) before which no worker should call `model`'s provider; 0 when none."""
        path = self._path(model)
        try:
            return float(path.read_text()) if path is not None else 0.0
        except (OSError, ValueError):
            return 0.0

    def hold(self, model: str, delay_s: float) -> None:
        """A 429 from `model`'s provider: no worker calls it for `delay_s` seconds (longer holds win)."""
        path = self._path(model)
        if path is None:
            return
        try:
            self._write(path, delay_s)
        except OSError:
            pass  # best effort: a folder that cannot be written leaves each worker to its own backoff

    @staticmethod
    def _write(path: Path, delay_s: float) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a+") as fh:
            if fcntl is not None:
                fcntl.flock(fh, fcntl.LOCK_EX)
            fh.seek(0)
            try:
                current = float(fh.read() or 0)
            except ValueError:
                current = 0.0
            until = max(current, time.time() + delay_s)
            fh.seek(0)
            fh.truncate()
            fh.write(f"{until:.3f}")

    def wait(self, model: str, check: Callable[[], None], say: Callable[[str], None]) -> float:
        """Sleep until the provider's hold ends (if another worker set one), calling `check` (which
        raises to stop) between slices and `say` once; returns the seconds waited."""
        remaining = self.not_before(model) - time.time()
        if remaining <= 0:
            return 0.0
        say(f"the provider of {model} is rate limiting this batch (another worker got a 429); "
            f"waiting {remaining:.1f}s before calling it")
        started = time.monotonic()
        while (remaining := self.not_before(model) - time.time()) > 0:
            check()
            time.sleep(min(SLICE_S, remaining))
        return time.monotonic() - started
