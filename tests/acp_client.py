"""A test editor: spawns `wren acp` and plays the ACP client over raw NDJSON on its pipes.

It serves what an editor serves (permission prompts, fs/* from in-memory buffers,
terminal/* with real processes) and checks that every stdout line is one JSON-RPC
2.0 message.
"""
from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from conftest import WREN, clean_env

Permission = Callable[[dict], str | None]  # option id, "cancelled", or None to never answer


@dataclass
class Terminal:
    proc: subprocess.Popen
    output: list[str] = field(default_factory=list)
    released: bool = False
    killed: bool = False


class AcpClient:
    def __init__(self, *args: str, cwd: Path, permission: Permission | None = None,
                 buffers: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen([str(WREN), "acp", *args], cwd=cwd, env=clean_env(), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.messages: list[dict] = []  # everything the agent sent, in order
        self.bad_lines: list[bytes] = []
        self.stderr: list[str] = []
        self.permission = permission or (lambda params: "allow_once")
        self.permission_requests: list[dict] = []
        self.buffers = dict(buffers or {})
        self.reads: list[str] = []
        self.writes: list[tuple[str, str]] = []
        self.terminals: dict[str, Terminal] = {}
        self._inbox: queue.Queue = queue.Queue()
        self._responses: dict[Any, dict] = {}
        self._write_lock = threading.Lock()
        self._next_id = 1000
        self.session_ids: set[str] = set()  # ids that session/new answered or session/load asked for
        self.bad_session_ids: list[dict] = []  # agent messages whose sessionId is none of those
        threading.Thread(target=self._read_stdout, daemon=True).start()
        self._stderr_reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._stderr_reader.start()

    # ---- wire ---------------------------------------------------------------------------
    def _read_stdout(self) -> None:
        for line in self.proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                self.bad_lines.append(line)
                continue
            if not (isinstance(msg, dict) and msg.get("jsonrpc") == "2.0" and ("method" in msg or "id" in msg)):
                self.bad_lines.append(line)
                continue
            self._inbox.put(msg)
        self._inbox.put(None)

    def _read_stderr(self) -> None:
        for line in self.proc.stderr:
            self.stderr.append(line.decode(errors="replace"))

    def send_raw(self, data: bytes) -> None:
        with self._write_lock:
            if self.proc.stdin.closed:
                return  # a late answer (a terminal that just exited) after the test closed the pipe
            self.proc.stdin.write(data)
            self.proc.stdin.flush()

    def send(self, message: dict) -> None:
        self.send_raw((json.dumps(message) + "\n").encode())

    def start(self, method: str, params: dict | None = None, id_: Any = None) -> Any:
        if id_ is None:
            self._next_id += 1
            id_ = self._next_id
        if method == "session/load":
            self.session_ids.add((params or {}).get("sessionId"))
        self.send({"jsonrpc": "2.0", "id": id_, "method": method, "params": params or {}})
        return id_

    def wait(self, id_: Any, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while id_ not in self._responses:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no response to {id_!r} in {timeout}s; stderr:\n{''.join(self.stderr)}")
            self.pump(left)
        return self._responses.pop(id_)

    def request(self, method: str, params: dict | None = None, timeout: float = 30, id_: Any = None) -> dict:
        return self.wait(self.start(method, params, id_), timeout)

    def notify(self, method: str, params: dict) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def pump(self, timeout: float) -> None:
        """Handle one message from the agent, if one arrives in time."""
        try:
            msg = self._inbox.get(timeout=min(timeout, 0.2))
        except queue.Empty:
            return
        if msg is None:
            raise EOFError(f"wren acp closed stdout; stderr:\n{''.join(self.stderr)}")
        self._take(msg)

    def _take(self, msg: dict) -> None:
        self.messages.append(msg)
        if "method" in msg:
            # Every agent-to-client request and notification names a session the editor knows:
            # an editor routes terminals, fs calls and updates by it.
            if (msg.get("params") or {}).get("sessionId") not in self.session_ids:
                self.bad_session_ids.append(msg)
            if "id" in msg:
                self._serve(msg)
        else:
            self._responses[msg["id"]] = msg
            if isinstance(msg.get("result"), dict) and "sessionId" in msg["result"]:
                self.session_ids.add(msg["result"]["sessionId"])

    def until(self, predicate: Callable[[], bool], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met in {timeout}s; stderr:\n{''.join(self.stderr)}")
            self.pump(deadline - time.monotonic())

    def drain(self, seconds: float) -> None:
        """Take in whatever the agent sends for a while (to catch anything sent late)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self.pump(left)

    def reply(self, id_: Any, result: Any = None, error: dict | None = None) -> None:
        body = {"error": error} if error else {"result": result}
        self.send({"jsonrpc": "2.0", "id": id_, **body})

    # ---- what an editor serves ----------------------------------------------------------
    def _serve(self, msg: dict) -> None:
        method, params, id_ = msg["method"], msg.get("params") or {}, msg["id"]
        if method == "session/request_permission":
            self.permission_requests.append(params)
            choice = self.permission(params)
            if choice is not None:
                outcome = {"outcome": "cancelled"} if choice == "cancelled" else \
                    {"outcome": "selected", "optionId": choice}
                self.reply(id_, {"outcome": outcome})
        elif method == "fs/read_text_file":
            self.reads.append(params["path"])
            if params["path"] in self.buffers:
                self.reply(id_, {"content": self.buffers[params["path"]]})
            else:
                self.reply(id_, error={"code": -32002, "message": "Resource not found"})
        elif method == "fs/write_text_file":
            self.writes.append((params["path"], params["content"]))
            self.buffers[params["path"]] = params["content"]
            self.reply(id_, None)
        elif method.startswith("terminal/"):
            self._terminal(method.removeprefix("terminal/"), params, id_)
        else:
            self.reply(id_, error={"code": -32601, "message": "Method not found"})

    def _terminal(self, op: str, params: dict, id_: Any) -> None:
        if op == "create":
            proc = subprocess.Popen([params["command"], *params.get("args", [])], cwd=params.get("cwd"),
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
            tid = f"term-{len(self.terminals) + 1}"
            term = self.terminals[tid] = Terminal(proc)
            threading.Thread(target=lambda: term.output.extend(line.decode() for line in proc.stdout),
                             daemon=True).start()
            self.reply(id_, {"terminalId": tid})
            return
        term = self.terminals[params["terminalId"]]
        if op == "wait_for_exit":
            # Answered from a thread when the command ends, as an editor would; meanwhile other requests flow.
            threading.Thread(target=lambda: self.reply(id_, self._exit_status(term.proc.wait())), daemon=True).start()
        elif op == "output":
            status = term.proc.poll()
            self.reply(id_, {"output": "".join(term.output), "truncated": False,
                             **({"exitStatus": self._exit_status(status)} if status is not None else {})})
        elif op in ("kill", "release"):
            if term.proc.poll() is None:
                os.killpg(term.proc.pid, signal.SIGKILL)
                term.killed = True
            term.released = term.released or op == "release"
            self.reply(id_, None)

    @staticmethod
    def _exit_status(code: int) -> dict:
        return {"exitCode": code} if code >= 0 else {"signal": signal.Signals(-code).name}

    # ---- conveniences -------------------------------------------------------------------
    def initialize(self, fs: bool = False, terminal: bool = False) -> dict:
        caps = {"fs": {"readTextFile": fs, "writeTextFile": fs}, "terminal": terminal}
        reply = self.request("initialize", {"protocolVersion": 1, "clientCapabilities": caps,
                                            "clientInfo": {"name": "test-editor", "version": "1"}})
        assert reply["result"]["protocolVersion"] == 1, reply
        return reply["result"]

    def new_session(self, cwd: Path, mcp_servers: list | None = None) -> str:
        reply = self.request("session/new", {"cwd": str(cwd), "mcpServers": mcp_servers or []})
        assert "result" in reply, reply
        return reply["result"]["sessionId"]

    def start_prompt(self, sid: str, text: str) -> Any:
        return self.start("session/prompt", {"sessionId": sid, "prompt": [{"type": "text", "text": text}]})

    def prompt(self, sid: str, text: str, timeout: float = 30) -> dict:
        return self.wait(self.start_prompt(sid, text), timeout)

    def updates(self, sid: str, kind: str | None = None) -> list[dict]:
        return [m["params"]["update"] for m in self.messages
                if m.get("method") == "session/update" and m["params"]["sessionId"] == sid
                and (kind is None or m["params"]["update"]["sessionUpdate"] == kind)]

    def close(self) -> int:
        """Close stdin, as an editor does when it quits; the agent's exit code once it has exited.

        No deadline: a slow machine must not fail this; pytest-timeout ends a hang.
        """
        with self._write_lock:
            self.proc.stdin.close()
        code = self.proc.wait()
        self._stderr_reader.join()  # every warning the agent logged, for shutdown_warnings()
        while (msg := self._inbox.get()) is not None:  # what came after the last pump, answers included
            self._take(msg)
        assert not self.bad_lines, f"non JSON-RPC lines on stdout: {self.bad_lines[:3]}"
        assert not self.bad_session_ids, f"messages with an unknown sessionId: {self.bad_session_ids[:3]}"
        return code

    def answered(self, id_: Any) -> dict | None:
        """The response to request `id_`, if one came (after close() too)."""
        return self._responses.get(id_)

    def shutdown_warnings(self) -> list[str]:
        """What the agent logged when it gave up waiting for a session or an MCP server to stop."""
        return [line for line in self.stderr if "did not stop" in line]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for term in self.terminals.values():
            if term.proc.poll() is None:
                os.killpg(term.proc.pid, signal.SIGKILL)


@contextmanager
def running(*args: str, cwd: Path, **options: Any) -> Iterator[AcpClient]:
    """`wren acp ARGS` for the length of a test; killed (with its terminals) however the test ends."""
    client = AcpClient(*args, cwd=cwd, **options)
    try:
        yield client
    finally:
        client.kill()
