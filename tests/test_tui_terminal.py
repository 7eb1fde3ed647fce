"""A real terminal: `wren` under tmux in a temp repo, driven with keystrokes and read with capture-pane."""
from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from conftest import CALC, WREN, clean_env, wait_until, wren, write_script
from tui_pilot import EDIT

needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (.ci/run installs it)")


class Tmux:
    def __init__(self, name: str) -> None:
        self.socket = name  # a server of our own: nothing the user runs in tmux is touched

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args],
                              capture_output=True, text=True, check=check, env=clean_env())

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "wren").stdout

    def wait_for(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in (screen := self.screen()):
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{text!r} did not appear on the screen:\n{self.screen()}")

    def alive(self) -> bool:
        return self("has-session", "-t", "wren", check=False).returncode == 0


@needs_tmux
def test_approval_with_keystrokes_in_a_real_terminal(calc_repo, tmp_path):
    model = write_script(tmp_path / "script.json", [{"tool_calls": [EDIT]}, {"content": "Done: add() now adds."}])
    tmux = Tmux(f"wren-test-{os.getpid()}")
    command = f"{WREN} --model {model} --cwd {calc_repo}"
    tmux("new-session", "-d", "-s", "wren", "-x", "100", "-y", "30", command)
    try:
        tmux.wait_for("Wren in repo")
        tmux("send-keys", "-t", "wren", "Fix the failing test", "Enter")
        screen = tmux.wait_for("Approve: Edit calc.py")
        assert "+    return a + b" in screen and "y allow once" in screen
        assert (calc_repo / "calc.py").read_text() == CALC
        tmux("send-keys", "-t", "wren", "y")
        screen = tmux.wait_for("Done: add() now adds.")
        assert "Edit calc.py · ✓ +1 -1" in screen
        assert (calc_repo / "calc.py").read_text() == CALC.replace("a - b", "a + b")
        tmux("send-keys", "-t", "wren", "C-c")
        tmux.wait_for("Press Ctrl+C again to quit")
        tmux("send-keys", "-t", "wren", "C-c")
        wait_until(lambda: not tmux.alive())  # wren quits on the second Ctrl+C; if it does not, this hangs
    finally:
        tmux("kill-server", check=False)


def test_without_a_terminal_wren_points_to_wren_run(calc_repo):
    run = wren("--cwd", str(calc_repo), stdin="")
    assert run.code == 2 and "wren run" in run.stderr
