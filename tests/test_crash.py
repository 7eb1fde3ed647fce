"""Crash safety: `wren run` killed with SIGKILL at seeded random points, then `--resume` finishes the task.

After each kill, before resuming, every file the session touches must be byte for byte as it was before
the interrupted call or as that call leaves it, never in between; after the resume, the log still holds
every event it held at the kill, and the task is done.

The scripted backend replays its turns from the first on every run, and a resumed session cannot tell
it how far the killed run got. So the resumed run replays the whole script, and the script is built to
be replayed over any prefix of itself: it first rewrites both files that later edits change
(write_file with the full content), so each later edit finds its old text again; the one edit that is
not reset (calc.py) fails cleanly when it was already made ("old text not found"), which the model
treats as an observation.
"""
from __future__ import annotations

import fcntl
import json
import os
import random
import shutil
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from conftest import CALC, WREN, clean_env, write_script
from wren.core.events import AssistantMessage
from wren.core.log import SessionLog, read_events
from wren.context.memory import MemoryChunk, SessionMemory
from wren.core.fileio import atomic_write
from wren.core.paths import git_listing

SEED = 20260611
KILLS = 20


def _big(tag: str, lines: int) -> str:
    # Non-ASCII (and U+2028, which JSON leaves unescaped) so a torn log line can end inside a character.
    return "".join(f"{i:05d} {tag} données → ligne\u2028{'x' * (i % 37)}\n" for i in range(lines))


BIG_1 = _big("first", 3000) + "00500 marker old\n"  # ~150 KB
BIG_2 = _big("second", 3500)
TABLE = "".join(f"{i},{i * i},{'é' * (i % 5)}\n" for i in range(10000))
NOTES_1 = "# Notes\n\nstatus: draft\n"

# The mutating calls, in order, each with the file it changes and that file's new content.
CALLS = [
    ("write_file", {"path": "big.txt", "content": BIG_1}, BIG_1),
    ("write_file", {"path": "notes.md", "content": NOTES_1}, NOTES_1),
    ("edit_file", {"path": "calc.py", "old": "return a - b", "new": "return a + b"}, CALC.replace("-", "+")),
    ("edit_file", {"path": "big.txt", "old": "00500 marker old", "new": "00500 marker new"},
     BIG_1.replace("marker old", "marker new")),
    ("write_file", {"path": "data/table.csv", "content": TABLE}, TABLE),
    ("edit_file", {"path": "notes.md", "old": "status: draft", "new": "status: done"},
     NOTES_1.replace("draft", "done")),
    ("write_file", {"path": "big.txt", "content": BIG_2}, BIG_2),
]
STEPS = [[0, 1], [2], [3], [4], [5], [6]]  # the calls of each model turn


def _turns() -> list[dict]:
    turns = [{"content": f"Step {n}.", "tool_calls": [{"name": CALLS[i][0], "arguments": CALLS[i][1]} for i in step]}
             for n, step in enumerate(STEPS)]
    return turns + [{"content": "Done: all files written."}]


def _states() -> list[dict[str, bytes | None]]:
    """states[k]: the touched files after the first k calls (None: not there)."""
    state: dict[str, bytes | None] = {"big.txt": None, "notes.md": None, "calc.py": CALC.encode(),
                                      "data/table.csv": None}
    states = [dict(state)]
    for _, args, content in CALLS:
        state[args["path"]] = content.encode()
        states.append(dict(state))
    return states


STATES = _states()


def _files(repo: Path) -> dict[str, bytes | None]:
    return {rel: (repo / rel).read_bytes() if (repo / rel).exists() else None for rel in STATES[0]}


def _log_lines(repo: Path) -> tuple[list[bytes], bytes]:
    """The log's complete lines and whatever follows the last newline."""
    (log,) = (repo / ".wren" / "sessions").glob("*.jsonl")
    *lines, tail = log.read_bytes().split(b"\n")
    return lines, tail


def _is_json(line: bytes) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


def _temp_files(repo: Path) -> list[Path]:
    return [p for p in repo.rglob("*.wren-tmp") if ".git" not in p.parts]


def _run(repo: Path, model: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([str(WREN), "run", "--approval", "auto", "--model", model, "--output-format",
                             "stream-json", *args], cwd=repo, env=clean_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)


def _kill_after(proc: subprocess.Popen, repo: Path, lines: int, delay_s: float | None) -> None:
    """SIGKILL once `lines` event lines have come out on stdout and `delay_s` more; with no delay, as soon as
    a file is being written (its temporary file shows), so the kill lands mid-write."""
    seen = threading.Event()

    def read() -> None:
        for n, _ in enumerate(proc.stdout, 1):
            if n == lines:
                seen.set()
        seen.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    seen.wait(timeout=60)
    if delay_s is None:
        folders = [repo, repo / "data"]
        while proc.poll() is None and not any(f.name.endswith(".wren-tmp") for d in folders if d.is_dir()
                                              for f in os.scandir(d)):
            time.sleep(0.0005)
    else:
        time.sleep(delay_s)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    reader.join(timeout=30)


def _check_after_kill(repo: Path) -> tuple[list[bytes], bytes]:
    """The files are exactly as after the completed calls, or after the one the kill interrupted."""
    lines, tail = _log_lines(repo)
    events = [json.loads(line) for line in lines]
    done = sum(e["type"] == "tool_result" for e in events)
    running = sum(e["type"] == "tool_call" for e in events) - done
    assert running in (0, 1) and all(e["ok"] for e in events if e["type"] == "tool_result")
    files = _files(repo)
    allowed = [STATES[done]] + ([STATES[done + 1]] if running else [])
    for rel, data in files.items():
        assert any(data == state[rel] for state in allowed), (
            f"{rel} is neither before nor after call {done} ({len(data or b'')} bytes)")
    return lines, tail


def _kill_and_resume(template: Path, model: str, name: str, after: int, delay: float | None) -> tuple[bool, bool]:
    """One kill and its resume, checked; whether the kill tore the log's last line and whether it came mid-write."""
    repo = shutil.copytree(template, template.parent / name, symlinks=True)
    _kill_after(_run(repo, model, "write the files"), repo, after, delay)
    lines, tail = _check_after_kill(repo)
    mid_write = bool(_temp_files(repo))

    proc = _run(repo, model, "--resume", json.loads(lines[0])["session_id"], "go on")
    out, _ = proc.communicate(timeout=120)
    where = f"{name} (after event {after}, then {delay}s)"
    assert proc.returncode == 0, f"{where}: the resumed run exited {proc.returncode}"
    assert json.loads(out.splitlines()[-1])["status"] == "success"
    assert _files(repo) == STATES[-1], f"{where}: the resumed run did not finish the task"
    assert not _temp_files(repo), f"{where}: a temporary file was left behind"

    after_lines, after_tail = _log_lines(repo)
    assert after_tail == b"" and after_lines[:len(lines)] == lines, f"{where}: the log lost events"
    if _is_json(tail):
        assert after_lines[len(lines)] == tail, f"{where}: a whole event that only lacked its newline was lost"
    (log,) = (repo / ".wren" / "sessions").glob("*.jsonl")
    assert len(read_events(log)) == len(after_lines)
    shutil.rmtree(repo)
    return bool(tail), mid_write


def test_sigkill_at_random_points_then_resume(calc_repo, tmp_path):
    model = write_script(tmp_path / "script.json", _turns())

    # One run to the end: how many events it prints, and that the script does what STATES says.
    full = shutil.copytree(calc_repo, tmp_path / "full", symlinks=True)
    proc = _run(full, model, "write the files")
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0
    events = len(out.splitlines())
    assert _files(full) == STATES[-1]

    # Each kill lands a few milliseconds after some event, anywhere up to 0.3 s after it, or in the next
    # file write. The points are drawn up front, so the seed fixes them however the runs overlap.
    rng = random.Random(SEED)
    points = [(rng.randrange(1, events), rng.choice([rng.uniform(0, 0.005), rng.uniform(0, 0.3), None]))
              for _ in range(KILLS)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(lambda i: _kill_and_resume(calc_repo, model, f"kill{i}", *points[i]), range(KILLS)))
    torn, mid_write = (sum(column) for column in zip(*outcomes))
    print(f"{KILLS} kills: {torn} tore the log's last line, {mid_write} came mid-write")


def test_resume_mends_a_torn_last_line(calc_repo, tmp_path):
    """A kill mid-append leaves part of a line: cut inside a character, or short of only its newline."""
    model = write_script(tmp_path / "script.json", _turns())
    proc = _run(calc_repo, model, "write the files")
    proc.communicate(timeout=120)
    lines, _ = _log_lines(calc_repo)
    big = next(n for n, line in enumerate(lines) if "→".encode() in line)
    cuts = {"mid-character": (big, lines[big].index("→".encode()) + 1), "before-newline": (big, len(lines[big]))}
    for name, (n, at) in cuts.items():
        repo = shutil.copytree(calc_repo, tmp_path / name, symlinks=True)
        (log,) = (repo / ".wren" / "sessions").glob("*.jsonl")
        log.write_bytes(b"".join(line + b"\n" for line in lines[:n]) + lines[n][:at])
        proc = _run(repo, model, "--resume", json.loads(lines[0])["session_id"], "go on")
        proc.communicate(timeout=120)
        assert proc.returncode == 0, name
        assert _files(repo) == STATES[-1], name
        after, tail = _log_lines(repo)
        kept = n + (name == "before-newline")
        assert tail == b"" and after[:kept] == lines[:kept], name
        assert json.loads(after[kept])["type"] == "session_started", name
        assert len(read_events(log)) == len(after), name


def test_log_reads_back_what_it_wrote_and_mends_its_tail(tmp_path):
    path = tmp_path / "s.jsonl"
    log = SessionLog(path)
    for text in ("line\u2028separator", "next\x85line", "para\u2029graph"):  # JSON leaves these unescaped
        log.append(AssistantMessage(content=text))
    log.close()
    whole = path.read_bytes()
    assert [e.content for e in read_events(path)] == ["line\u2028separator", "next\x85line", "para\u2029graph"]

    path.write_bytes(whole[:-1])  # the last event lacks only its newline: kept
    SessionLog(path).close()
    assert path.read_bytes() == whole
    path.write_bytes(whole[:-9])  # a fragment: cut off, so the next event starts a line of its own
    log = SessionLog(path)
    log.append(AssistantMessage(content="after"))
    log.close()
    assert [e.content for e in read_events(path)] == ["line\u2028separator", "next\x85line", "after"]


def test_session_memory_reloads_after_a_torn_append(tmp_path):
    memory = SessionMemory(tmp_path, "s", None)
    memory.add([MemoryChunk(id=f"c{i}", text=f"chunk {i}\u2028with a separator", role="tool", compaction=1)
                for i in range(3)])
    whole = memory.path.read_bytes()
    memory.path.write_bytes(whole[:-7])  # the last append cut short
    memory = SessionMemory(tmp_path, "s", None)
    assert sorted(memory.chunks) == ["c0", "c1"]
    memory.add([MemoryChunk(id="c3", text="after", role="tool", compaction=2)])
    assert sorted(SessionMemory(tmp_path, "s", None).chunks) == ["c0", "c1", "c3"]


def test_a_dead_writers_temp_file_goes_with_the_next_write(tmp_path):
    target = tmp_path / "f.txt"
    dead = tmp_path / ".f.txt.dead1234.wren-tmp"
    live = tmp_path / ".f.txt.live5678.wren-tmp"
    dead.write_bytes(b"half of it")
    live.write_bytes(b"being written")
    with live.open("rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as the writer holds it until its rename
        atomic_write(target, b"new")
        assert target.read_bytes() == b"new" and not dead.exists() and live.exists()
        assert git_listing(tmp_path) == ["f.txt"]  # nor do the tools or checkpoints see a temp file
    atomic_write(target, b"newer")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.txt"]


def test_a_session_log_has_one_writer_at_a_time(calc_repo, tmp_path):
    """Two `wren run --resume` of one session appended to its log together; their events interleaved (calls
    without results) and every later resume failed. The second writer is refused, exit 2, and the log is whole."""
    import subprocess

    from conftest import WREN, clean_env, wren, write_script

    (calc_repo / "wren.toml").write_text('[sandbox]\nmode = "off"\n')
    model = write_script(tmp_path / "s.json", [
        {"tool_calls": [{"name": "shell", "arguments": {"command": "touch started; sleep 5"}}]}, {"content": "done"}])
    first = wren("run", "start", "--model", model, "--approval", "auto", "--output-format", "json", cwd=calc_repo)
    sid = first.json["session_id"]
    (calc_repo / "started").unlink()
    proc = subprocess.Popen([str(WREN), "run", "again", "--resume", sid, "--model", model, "--approval", "auto"],
                            cwd=calc_repo, env=clean_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not (calc_repo / "started").exists() and proc.poll() is None:  # the first writer is at work
            time.sleep(0.05)
        second = wren("run", "meanwhile", "--resume", sid, "--model", model, "--output-format", "json", cwd=calc_repo)
        assert second.code == 2 and "is open in another Wren" in second.json["error"]["message"]
    finally:
        assert proc.wait(timeout=120) == 0
    events = read_events(calc_repo / ".wren" / "sessions" / f"{sid}.jsonl")
    assert not any(getattr(e, "text", "") == "meanwhile" for e in events)
    later = wren("run", "after", "--resume", sid, "--model", model, "--approval", "auto", "--output-format", "json",
                 cwd=calc_repo)
    assert later.code == 0, later.stderr
