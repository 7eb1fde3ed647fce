"""Which Chroma the stores use, and what their collections are called: the one place that decides.

The embedded store (a PersistentClient under `.wren/`) is the default. A server
(`chromadb.HttpClient`) is used when `[chroma] url` (or host) is configured, or when
`WREN_CHROMA_URL` is set: `wren batch --chroma URL` sets it for each task's process, so a
batch points every task at one server without writing config into their clones.

On a server, the code index's collection is named by repository and commit (the
repository by its first commit, so every clone of it, wherever it was cloned from, names
it alike): built once, read by every task on that commit. Session memory's collection is
named by session.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from wren.core.config import ChromaConfig
from wren.core.errors import ConfigError

URL_ENV = "WREN_CHROMA_URL"
PING_TIMEOUT_S = 5.0


def server_config(config: ChromaConfig | None) -> ChromaConfig | None:
    """The Chroma server to use (`WREN_CHROMA_URL` over the config's url or host, the config's
    headers kept), or None for the embedded store. ConfigError for a bad `WREN_CHROMA_URL`."""
    url = os.environ.get(URL_ENV)
    if url:
        headers = config.headers if config is not None else {}
        try:
            return ChromaConfig(url=url, headers=headers)
        except ValueError as exc:
            raise ConfigError(f"{URL_ENV}: {_reason(exc)}") from None
    return config if config is not None and config.host else None


def parse_url(url: str, headers: dict[str, str] | None = None) -> ChromaConfig:
    """A server from `--chroma URL` (with the config's headers); ConfigError saying what a good one looks like."""
    try:
        return ChromaConfig(url=url, headers=headers or {})
    except ValueError as exc:
        raise ConfigError(f"--chroma: {_reason(exc)}") from None


def _reason(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    return errors()[0]["msg"].removeprefix("Value error, ") if errors else str(exc)


def describe(server: ChromaConfig) -> str:
    return f"{'https' if server.ssl else 'http'}://{server.host}:{server.port}"


def ping(server: ChromaConfig, timeout: float = PING_TIMEOUT_S) -> None:
    """Raise ConnectionError, saying why, unless the server answers its heartbeat within `timeout`
    seconds. Plain HTTP with a deadline: chromadb's own client waits without one."""
    request = urllib.request.Request(f"{describe(server)}/api/v2/heartbeat", headers=server.headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            reply.read()
    except urllib.error.HTTPError as exc:
        hint = " (check [chroma] headers)" if exc.code in (401, 403) else ""
        raise ConnectionError(f"Chroma server {describe(server)} answered HTTP {exc.code}{hint}") from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ConnectionError(f"Chroma server {describe(server)} is not reachable ({reason})") from None


def chroma_client(folder: Path, config: ChromaConfig | None = None):
    """A chromadb client: on the configured server (see server_config), else the embedded store at folder."""
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False)  # no network calls of Chroma's own
    server = server_config(config)
    if server is not None and server.host:  # a server config always has its host (see server_config)
        return chromadb.HttpClient(host=server.host, port=server.port, ssl=server.ssl,
                                   headers=dict(server.headers) or None, settings=settings)
    folder.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(folder), settings=settings)


def forget_clients() -> None:
    """Close the embedded stores chromadb keeps open for the rest of the process (one per folder):
    for a process that runs sessions one after another in different workspaces (`wren batch`'s
    worker). Only between sessions: a client still in use would lose its store."""
    if "chromadb" in sys.modules:  # never opened: nothing to close, and no import to pay for
        from chromadb.api.client import SharedSystemClient

        SharedSystemClient.clear_system_cache()


def _git(root: Path, *args: str) -> str | None:
    try:
        proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=30,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else None


def repository_commit(root: Path) -> tuple[str, str] | None:
    """(the repository's first commit, HEAD) of a git workspace; None outside git or before a commit."""
    head = _git(root, "rev-parse", "HEAD")
    roots = _git(root, "rev-list", "--max-parents=0", "HEAD")
    return (sorted(roots.split())[0], head) if head and roots else None


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._")


def index_collection(root: Path, embedder_name: str, view: str, on_server: bool) -> str:
    """The code index's collection: `code-REPO-COMMIT-MODEL-VIEW` on a server (REPO and COMMIT the
    first 12 hex digits of the first commit and of HEAD), `code-MODEL-VIEW` in the embedded store
    (one workspace: vectors keyed by content hash follow its edits)."""
    model = _safe(embedder_name)
    where = repository_commit(root) if on_server else None
    if where is None:
        return f"code-{model}-{view}"
    return f"code-{where[0][:12]}-{where[1][:12]}-{model}-{view}"


def memory_collection(session_id: str) -> str:
    """Session memory's collection: one per session."""
    return f"mem-{_safe(session_id)}"
