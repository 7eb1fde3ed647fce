"""Errors the user must see. Each carries the exit code of ARCHITECTURE.md.

Errors the model can fix never become exceptions here: tools turn them into
observations (see tools/base.py).
"""
from __future__ import annotations

from typing import Literal


class ExitCode:
    FINISHED = 0
    NOT_FINISHED = 1
    USAGE = 2
    MODEL = 3
    DENIED = 4
    LIMIT = 5
    INTERRUPTED = 130
    TERMINATED = 143  # 128 + SIGTERM, as a shell reports a process that SIGTERM ended


class StreamStopped(BaseException):
    """Raised by a reply's delta callback to stop the reply mid-stream: the user interrupted, or the
    run's time limit passed. A BaseException, so that a backend's mapping of provider errors
    (`except Exception`) lets it through; backends close the stream on the way out.

    `status` is the turn's ending: "interrupted" or "limit"."""

    def __init__(self, status: Literal["interrupted", "limit"], reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


class SummaryFull(BaseException):
    """Raised by a compaction summary's delta callback once the summary is longer than it may be
    (context/compaction.py): the summariser stops writing, and `text`, what it streamed so far, is
    the summary. A BaseException for the same reason as StreamStopped."""

    def __init__(self, text: str) -> None:
        super().__init__("the summary reached its length bound")
        self.text = text


class WrenError(Exception):
    """A fatal error with a kind, a message for people and an exit code."""

    exit_code = ExitCode.NOT_FINISHED
    kind = "error"

    def __init__(self, message: str, kind: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if kind is not None:
            self.kind = kind


class ConfigError(WrenError):
    """Bad input, bad config, a missing file: the user must change something (exit 2)."""

    exit_code = ExitCode.USAGE
    kind = "config"


class ModelError(WrenError):
    """The model or its provider failed (exit 3). `retryable` drives backoff."""

    exit_code = ExitCode.MODEL
    kind = "model"

    def __init__(self, message: str, kind: str = "model", retryable: bool = False) -> None:
        super().__init__(message, kind)
        self.retryable = retryable


class ToolError(Exception):
    """A mistake the model can fix, raised by a tool: the message goes back to the model as the
    observation, with a concrete hint. Never shown to the user as a failure of the run."""
