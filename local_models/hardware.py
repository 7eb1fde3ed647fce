"""What this machine gives local models: what the installed llama-cpp-python can do, and memory."""
from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path


def physical_cores() -> int:
    """Physical cores: llama.cpp runs no faster on hyper-threads and slower when oversubscribed."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        cores, phys = set(), "0"
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "physical id":
                phys = value.strip()
            elif key.strip() == "core id":
                cores.add((phys, value.strip()))
        if cores:
            return len(cores)
    if platform.system() == "Darwin":
        try:
            return int(subprocess.run(["sysctl", "-n", "hw.physicalcpu"], capture_output=True, text=True,
                                      timeout=5).stdout.strip())
        except (OSError, ValueError, subprocess.TimeoutExpired):
            pass
    return os.cpu_count() or 1


@dataclass
class Hardware:
    llama_cpp_version: str
    gpu_offload: bool
    backend: str
    threads: int

    @property
    def n_gpu_layers(self) -> int:
        return -1 if self.gpu_offload else 0  # -1 offloads every layer


def detect() -> Hardware:
    import llama_cpp

    offload = bool(llama_cpp.llama_supports_gpu_offload())
    info = ""
    try:
        info = llama_cpp.llama_print_system_info().decode(errors="replace")
    except (AttributeError, TypeError):
        pass
    if not offload:
        backend = "CPU"
    elif platform.system() == "Darwin":
        backend = "Metal"
    elif "CUDA" in info or any("cuda" in p.name.lower() for p in Path(llama_cpp.__file__).parent.rglob("*ggml*")):
        backend = "CUDA"
    else:
        backend = "GPU"
    return Hardware(llama_cpp.__version__, offload, backend, physical_cores())


def memory_bytes() -> int | None:
    """Physical memory in bytes, capped by a cgroup v2 `memory.max` (containers, CI runners); None when unknown."""
    total = None
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
    except OSError:
        limit = "max"
    if limit.isdigit():
        total = min(total, int(limit)) if total else int(limit)
    return total
