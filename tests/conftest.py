"""Shared fixtures: real temp git repos and the real `wren` command in a subprocess."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

SCENARIOS = Path(__file__).parent / "scenarios"
WREN = Path(sys.executable).with_name("wren")

CALC = "def add(a, b):\n    return a - b\n"
TEST_CALC = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"


def needs_embedding_model(folder: Path, reason: str) -> Callable:
    """Skip a test where Chroma's embedding model is not in `folder`, and mark it `embedding_model`:
    `.ci/run` runs these in its own checkout (where `.ci/setup` seeds the model from ../shared) and
    leaves every other test to the newcomer's fresh clone, which lacks the model and skips these."""
    from wren.context.embeddings import model_present

    skip = pytest.mark.skipif(not model_present(folder), reason=reason)
    return lambda test: pytest.mark.embedding_model(skip(test))


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def backend():
    """The bundled SmolLM2 on llama.cpp in process (one per test module: its sampling seed advances per step)."""
    from wren.agent.models import resolve_backend

    return resolve_backend("local:smollm2")  # not the default: that may be a bigger pulled model


@pytest.fixture
def calc_repo(tmp_path: Path) -> Path:
    """A git repo with one failing pytest test."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "calc.py").write_text(CALC)
    (repo / "test_calc.py").write_text(TEST_CALC)
    git(repo, "init", "-q")
    git(repo, "-c", "user.email=t@example.com", "-c", "user.name=t", "add", ".")
    git(repo, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "init")
    return repo


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> dict:
        return json.loads(self.stdout)

    @property
    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


def clean_env(**extra: str) -> dict[str, str]:
    """No provider keys or WREN_MODEL leak in from the machine running the tests."""
    env = {k: v for k, v in os.environ.items()
           if not k.endswith("_API_KEY") and k not in ("WREN_MODEL",)}
    env["XDG_CONFIG_HOME"] = str(Path(env.get("TMPDIR", "/tmp")) / "wren-tests-no-config")
    env.update(extra)
    return env


def wren(*args: str, cwd: Path | None = None, stdin: str | None = None, env: dict | None = None,
         timeout: float = 120) -> Run:
    proc = subprocess.run([str(WREN), *args], cwd=cwd, input=stdin, capture_output=True, text=True,
                          env=env or clean_env(), timeout=timeout)
    return Run(proc.returncode, proc.stdout, proc.stderr)


def scripted(name_or_path: str | Path) -> str:
    path = Path(name_or_path)
    return f"scripted:{path if path.is_absolute() else SCENARIOS / path}"


def logged_events(repo: Path, session_id: str) -> list[dict]:
    """The events of session `session_id` as its log in `repo` holds them (JSON objects, in order)."""
    path = repo / ".wren" / "sessions" / f"{session_id}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def write_script(path: Path, turns: list[dict]) -> str:
    path.write_text(json.dumps({"turns": turns}))
    return f"scripted:{path}"


def smollm2_path() -> Path:
    from wren.local_models.catalog import bundled_path

    return bundled_path()


def sandbox_missing() -> str:
    """Why commands cannot be sandboxed on this machine; "" when they can."""
    from wren.tools.sandbox import probe

    return probe().reason


def needs_sandbox():
    reason = sandbox_missing()
    return pytest.mark.skipif(bool(reason), reason=f"no command sandbox here: {reason}")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory):
    """llama-cpp-python's OpenAI-compatible server on loopback serving SmolLM2 as `smollm2` (n_ctx 4096; a second request waits for the first, it does not cut it off);
    its base URL, for `--model openai/smollm2 --api-base URL`."""
    port = free_port()
    log = (tmp_path_factory.mktemp("server") / "server.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_path()),
                             "--host", "127.0.0.1", "--port", str(port), "--model_alias", "smollm2",
                             "--n_ctx", "4096", "--interrupt_requests", "False"], stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{base}/models", timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"llama.cpp server did not start: {open(log.name).read()[-2000:]}")
            time.sleep(0.5)
    yield base
    proc.terminate()
    proc.wait(timeout=30)


def alive(pid: int) -> bool:
    """Running, as opposed to gone or a zombie waiting for a parent that is not us."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def descendants(pid: int) -> set[int]:
    """Every process below `pid`, read from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def processes_with(marker: str, below: int | None = None) -> list[int]:
    """Live processes (below `below`, else anywhere) whose command line holds `marker`.

    Found by name, since a sandboxed command's own idea of its PID is that of its namespace;
    `below` keeps another test run on the same machine from counting.
    """
    pids = descendants(below) if below is not None else [int(e.name) for e in Path("/proc").glob("[0-9]*")]
    found = []
    for pid in pids:
        try:
            if marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes() and alive(pid):
                found.append(pid)
        except OSError:
            continue
    return sorted(found)


def ancestor_running(pid: int, marker: bytes) -> int:
    """The nearest ancestor of pid whose command line holds marker."""
    while pid > 1:
        pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        if marker in Path(f"/proc/{pid}/cmdline").read_bytes():
            return pid
    raise AssertionError(f"no ancestor runs {marker!r}")


def wait_until(condition: Callable[[], bool]) -> None:
    """Poll until `condition()` holds, however long a loaded machine takes.

    No deadline of its own: tests assert what happened, never how fast; pytest-timeout
    (pyproject.toml) ends a test whose condition never comes, which is the failure.
    """
    while not condition():
        time.sleep(0.05)
