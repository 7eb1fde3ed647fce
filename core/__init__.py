"""The contract every part of Wren shares, and nothing else: events, ops, messages, errors, the
config schema, the ModelBackend protocol, the session log's JSONL, redaction, file names as text,
atomic file writes and path globs. It imports nothing else of Wren (tests/test_layers.py)."""

__version__ = "0.1.0"  # as pyproject.toml's version
