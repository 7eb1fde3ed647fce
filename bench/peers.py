"""Peer coding agents (mini-swe-agent, aider) on one QuixBugs task, for comparison with Wren.

Both talk to the same llama.cpp OpenAI-compatible server (`LlamaServer`) through a `TokenProxy`
that counts model calls and tokens. Each peer lives in its own venv under
~/.cache/wren/bench/peers/<peer>-<version>/, installed from PyPI on first use, with a private
HOME there (no user config, API keys or global .env is read). Settings shared by both: the task
text is exactly `quixbugs.prompt(name)`, at most 1024 completion tokens per model call, stdin
closed, no provider keys in the environment but a dummy one, a wall-clock limit that kills the
whole process group.

mini-swe-agent 2.4.6: `mini` with its text-based config (mini_textbased.yaml, model class
litellm_textbased: one ```mswea_bash_command block per reply), yolo mode, exits when the agent
submits (--exit-immediately), `agent.step_limit` model calls at most, cost limit off and cost
errors ignored (`model.cost_tracking=ignore_errors`: litellm has no price for the model).

aider 0.86.2: `aider --message PROMPT` (one user message, then exit), whole-file edits, its
repo map (1024 tokens, aider's default), --auto-test with the task's test file, --yes-always,
no auto/dirty commits (a commit would hide changed tests from quixbugs.check, which reads
`git status`), no streaming (llama-cpp-python sends no usage in streams). Aider has no step
limit: after the first reply it re-prompts itself at most `max_reflections` = 3 times
(aider/coders/base_coder.py) for files to add, failed lint, failed tests or malformed edits.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bench import quixbugs
from bench.token_proxy import TokenProxy

PEERS = {"mini-swe-agent": "2.4.6", "aider": "0.86.2"}
PACKAGES = {"mini-swe-agent": "mini-swe-agent", "aider": "aider-chat"}
ROOT = Path.home() / ".cache" / "wren" / "bench"
# Results live in the repository, not under ROOT: a peer task takes minutes of CPU, and a cache in HOME was
# lost with the machine it ran on (the first peer rows, 2026-12-02), so each row is kept once it is run.
RESULTS = Path(__file__).resolve().parent / "results" / "peer-results"
MAX_TOKENS = 1024
SECRET = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|^(OPENAI|ANTHROPIC|GEMINI|AZURE|AIDER|MSWEA|LITELLM|OPENROUTER)_")

__all__ = ["PEERS", "TokenProxy", "LlamaServer", "ensure_installed", "run_peer", "cached", "store"]


def peer_dir(peer: str) -> Path:
    if peer not in PEERS:
        raise ValueError(f"unknown peer {peer!r} (known: {', '.join(PEERS)})")
    return ROOT / "peers" / f"{peer}-{PEERS[peer]}"


def ensure_installed(peer: str) -> Path:
    """The venv python of `peer` (a key of PEERS), creating the venv and pip-installing the pinned
    version on first use (progress on stderr; a few minutes). Raises ValueError for an unknown
    peer, RuntimeError when venv creation or pip fails (pip's output tail in the message)."""
    venv = peer_dir(peer)
    python, marker = venv / "bin" / "python", venv / ".installed"
    if marker.exists():
        return python
    spec = f"{PACKAGES[peer]}=={PEERS[peer]}"
    print(f"bench: installing {spec} into {venv} (first use) ...", file=sys.stderr, flush=True)
    base = getattr(sys, "_base_executable", sys.executable)
    for cmd in ([base, "-m", "venv", "--clear", str(venv)], [str(python), "-m", "pip", "install", "-q", spec]):
        done = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if done.returncode:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{(done.stdout + done.stderr)[-3000:]}")
    marker.write_text(spec + "\n")
    print(f"bench: installed {spec}", file=sys.stderr, flush=True)
    return python


def clean_env(home: Path) -> dict[str, str]:
    """os.environ without provider keys/config variables, with a private HOME and plain output."""
    env = {k: v for k, v in os.environ.items() if not SECRET.search(k.upper())}
    home.mkdir(parents=True, exist_ok=True)
    env.update(HOME=str(home), OPENAI_API_KEY="x", LITELLM_LOCAL_MODEL_COST_MAP="True", NO_COLOR="1",
               TERM="dumb", COLUMNS="120", PYTHONUNBUFFERED="1", GIT_TERMINAL_PROMPT="0")
    env.pop("VIRTUAL_ENV", None)
    return env


def mini_command(python: Path, workspace: Path, name: str, api_base: str, model: str, log_dir: Path,
                 step_limit: int) -> tuple[list[str], dict[str, str]]:
    overrides = {"model.model_class": "litellm_textbased", "model.model_name": model,
                 "model.model_kwargs.api_base": api_base, "model.model_kwargs.api_key": "x",
                 "model.model_kwargs.max_tokens": MAX_TOKENS, "model.cost_tracking": "ignore_errors",
                 "agent.step_limit": step_limit, "agent.cost_limit": 0,
                 "environment.environment_class": "local", "environment.cwd": str(workspace)}
    cmd = [str(python.parent / "mini"), "-c", "mini_textbased.yaml"]
    for key, value in overrides.items():
        cmd += ["-c", f"{key}={json.dumps(value) if not isinstance(value, str) else value}"]
    cmd += ["--yolo", "--exit-immediately", "-o", str(log_dir / f"mini-swe-agent-{name}.traj.json"),
            "-t", quixbugs.prompt(name)]
    env = {"MSWEA_CONFIGURED": "true", "MSWEA_GLOBAL_CONFIG_DIR": str(peer_dir("mini-swe-agent") / "config"),
           "MSWEA_COST_TRACKING": "ignore_errors"}
    return cmd, env


def aider_command(python: Path, workspace: Path, name: str, api_base: str, model: str, log_dir: Path,
                  n_ctx: int) -> tuple[list[str], dict[str, str]]:
    settings, metadata = log_dir / "aider.model-settings.yml", log_dir / "aider.model-metadata.json"
    # JSON is YAML: aider reads the settings file with yaml.safe_load.
    settings.write_text(json.dumps([{"name": model, "edit_format": "whole",
                                     "extra_params": {"max_tokens": MAX_TOKENS}}], indent=1) + "\n")
    metadata.write_text(json.dumps({model: {"max_tokens": MAX_TOKENS, "max_input_tokens": n_ctx,
                                            "max_output_tokens": MAX_TOKENS, "input_cost_per_token": 0.0,
                                            "output_cost_per_token": 0.0, "litellm_provider": "openai",
                                            "mode": "chat"}}, indent=1) + "\n")
    test_cmd = f"{shlex.quote(sys.executable)} -m pytest -q python_testcases/test_{name}.py"
    cmd = [str(python.parent / "aider"), "--model", model, "--openai-api-base", api_base, "--openai-api-key", "x",
           "--model-settings-file", str(settings), "--model-metadata-file", str(metadata),
           "--edit-format", "whole", "--auto-test", "--test-cmd", test_cmd, "--yes-always",
           "--no-auto-commits", "--no-dirty-commits", "--no-gitignore", "--no-show-model-warnings",
           "--no-check-update", "--no-show-release-notes", "--no-analytics", "--no-stream", "--no-pretty",
           "--no-fancy-input", "--encoding", "utf-8",
           "--chat-history-file", str(log_dir / f"aider-{name}.chat.md"),
           "--input-history-file", str(log_dir / f"aider-{name}.input"),
           "--llm-history-file", str(log_dir / f"aider-{name}.llm.txt"),
           "--message", quixbugs.prompt(name)]
    return cmd, {}


def run_peer(peer: str, workspace: Path, name: str, api_base: str, model: str, log_dir: Path,
             step_limit: int = 20, timeout_s: float = 900, n_ctx: int = 8192) -> dict:
    """Run `peer` once on the QuixBugs task `name` in `workspace` (made by quixbugs.make_workspace).

    `api_base`: the OpenAI-compatible base URL ending in /v1 (e.g. a TokenProxy's `.url`);
    `model`: the server's model alias, with or without litellm's "openai/" prefix;
    `step_limit`: mini-swe-agent's model-call limit (aider has none, see module doc);
    `timeout_s`: wall-clock seconds before the peer's whole process group is killed;
    `n_ctx`: the server's context window, told to aider. Output goes to
    `log_dir`/<peer>-<name>.log (plus the peer's own trajectory/history files there).
    Returns {"peer", "version", "wall_s" (float s), "exit_code" (int, None if killed),
    "timed_out" (bool), "log" (str path)}. Tokens are the caller's to count (TokenProxy); after a
    timeout the server may still be generating the killed peer's last call: `proxy.wait_idle()`.
    Installs the peer on first use (see ensure_installed)."""
    python = ensure_installed(peer)
    workspace, log_dir = Path(workspace).resolve(), Path(log_dir).resolve()
    log_dir.mkdir(parents=True, exist_ok=True)
    model = model if model.startswith("openai/") else f"openai/{model}"
    if peer == "mini-swe-agent":
        cmd, extra = mini_command(python, workspace, name, api_base, model, log_dir, step_limit)
    else:
        cmd, extra = aider_command(python, workspace, name, api_base, model, log_dir, n_ctx)
    env = clean_env(peer_dir(peer) / "home") | extra
    log = log_dir / f"{peer}-{name}.log"
    with open(log, "wb") as out:
        out.write(f"$ {' '.join(cmd)}\n(cwd {workspace})\n\n".encode())
        out.flush()
        start = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=workspace, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        timed_out = False
        try:
            code = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out, code = True, None
        kill_group(proc)
        wall = time.monotonic() - start
        if timed_out:
            out.write(f"\n[bench] killed after {timeout_s:.0f} s\n".encode())
    return {"peer": peer, "version": PEERS[peer], "wall_s": round(wall, 1), "exit_code": code,
            "timed_out": timed_out, "log": str(log)}


def kill_group(proc: subprocess.Popen, grace_s: float = 5) -> None:
    """SIGTERM, then SIGKILL, the process group led by `proc` (also reaps leftover children)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            pass
        time.sleep(0.2 if sig == signal.SIGTERM else 0)


class LlamaServer:
    """Context manager: llama-cpp-python's OpenAI-compatible server on a free 127.0.0.1 port.

    `model`: path to a GGUF file; `alias`: the model name clients send; `python`: an interpreter
    with llama_cpp[server]. Entering waits (up to `start_timeout_s`) until GET /v1/models answers,
    else raises RuntimeError with the log's tail; exiting stops the whole process group.
    `.api_base` = "http://127.0.0.1:PORT/v1", `.root` = the same without /v1. Server output is appended
    to `log` (default: discarded)."""

    def __init__(self, model: Path, alias: str = "qwen2.5-coder-1.5b", n_ctx: int = 8192,
                 n_threads: int | None = None, python: str = sys.executable, log: Path | None = None,
                 start_timeout_s: float = 300):
        self.model, self.alias, self.n_ctx, self.n_threads = Path(model), alias, n_ctx, n_threads
        self.python, self.log, self.start_timeout_s = python, log, start_timeout_s
        self.port = free_port()
        self.root = f"http://127.0.0.1:{self.port}"
        self.api_base = self.root + "/v1"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "LlamaServer":
        if not self.model.is_file():
            raise RuntimeError(f"no model file at {self.model}")
        cmd = [self.python, "-m", "llama_cpp.server", "--model", str(self.model), "--model_alias", self.alias,
               "--n_ctx", str(self.n_ctx), "--host", "127.0.0.1", "--port", str(self.port),
               "--interrupt_requests", "False"]
        if self.n_threads:
            cmd += ["--n_threads", str(self.n_threads), "--n_threads_batch", str(self.n_threads)]
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.__exit__()
                raise RuntimeError(f"llama_cpp.server exited ({self.proc.returncode}){self.tail()}")
            try:
                with urllib.request.urlopen(self.api_base + "/models", timeout=5) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                time.sleep(1)
        self.__exit__()
        raise RuntimeError(f"llama_cpp.server did not answer within {self.start_timeout_s:.0f} s{self.tail()}")

    def tail(self) -> str:
        return f":\n{self.log.read_text(errors='replace')[-2000:]}" if self.log and self.log.exists() else ""

    def __exit__(self, *exc) -> None:
        if self.proc:
            kill_group(self.proc)
            self.proc = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def result_path(model_key: str, peer: str, name: str) -> Path:
    """Where the row of `peer` on task `name` with model `model_key` (the GGUF's stem) is kept:
    RESULTS/<model>/<peer>-<version>/<task>.json."""
    return RESULTS / model_key / f"{peer}-{PEERS[peer]}" / f"{name}.json"


def cached(model_key: str, peer: str, name: str) -> dict | None:
    """The stored result row of `peer` (its pinned version) on task `name` with model `model_key`,
    or None if there is none (or it is unreadable)."""
    try:
        return json.loads(result_path(model_key, peer, name).read_text())
    except (OSError, ValueError):
        return None


def store(model_key: str, peer: str, name: str, row: dict) -> None:
    """Save `row` (JSON-serialisable) as the result of `peer` on `name` with `model_key` (atomic)."""
    path = result_path(model_key, peer, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(row, indent=1) + "\n")
    tmp.replace(path)
