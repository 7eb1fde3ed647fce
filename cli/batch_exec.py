"""Where a batch's tasks run: the executor seam of `wren batch`.

An executor takes the tasks to run and yields each one's results line as it finishes (None for
a task stopped before it ended, and now and then None to let the caller's main thread run a
signal handler). Everything else (clone, `wren run`, check, results.jsonl, resume, progress,
totals) is batch.py's and the same for every executor:

- `PoolExecutor`: `--workers N` threads on this machine, each with a worker process that runs its
  tasks one after another (batch_worker.py).
- `RayExecutor`: `--ray [ADDRESS]`: each task a Ray task with its CPUs and GPUs, retried when
  the worker running it dies.
"""
from __future__ import annotations

import logging
import signal
import socket
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import Any, Iterator

from wren.cli.batch import BatchTask, Job, Stop, error_record, run_task
from wren.core.errors import ConfigError

WAKE_S = 0.5  # how often the main thread wakes to run a signal's handler (see Session.events)
RAY_PORT = 6379  # `ray start --head`'s default
RAY_PROBE_S = 5.0  # an address that does not answer by then is refused before any task starts
MAX_RETRIES = 3  # runs of a task whose worker process died (killed, out of memory, node lost)


class PoolExecutor:
    """`workers` tasks at a time on this machine."""
    remote = False

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.where = f"{workers} at a time"

    def results(self, tasks: list[BatchTask], job: Job, stop: Stop) -> Iterator[dict | None]:
        with ThreadPoolExecutor(max_workers=self.workers) as pool:  # each task in a worker process, see run_task
            pending = {pool.submit(run_task, task, job, stop) for task in tasks}
            while pending:
                finished, pending = wait(pending, timeout=WAKE_S, return_when=FIRST_COMPLETED)
                yield None
                for future in finished:
                    yield future.result()

    def close(self) -> None:
        from wren.cli.batch_worker import WORKERS

        WORKERS.close()


def _ray_task(task_json: str, job: Job) -> dict | None:
    """One task on a Ray worker: a Stop of its own (a Ray cancel reaches it as KeyboardInterrupt)."""
    # A cancel is a SIGINT to the worker: a cluster started from a shell's background job inherits
    # SIGINT ignored, and would run the task to its end.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)
    return run_task(BatchTask.model_validate_json(task_json), job, Stop())


def _is_local_model(model: str | None) -> bool:
    return model is not None and (model == "local" or model.startswith("local:"))


def _probe(address: str) -> None:
    """ConfigError unless something listens at a `host[:port]` address (ray.init would wait long)."""
    host, _, port = address.rpartition(":") if ":" in address else (address, "", str(RAY_PORT))
    try:
        with socket.create_connection((host, int(port)), timeout=RAY_PROBE_S):
            pass
    except (OSError, ValueError) as exc:
        raise ConfigError(f"--ray {address}: no Ray cluster answers there ({exc}); start one with "
                          "`ray start --head`, or give its address (host:port, or auto for this machine's)") \
            from None


class RayExecutor:
    """Each task a Ray task on the cluster that `ray.init(address)` reaches (None: a local one
    started for this batch), with its resources; results stream back as tasks finish."""
    remote = True
    stdout = sys.stdout  # the real one, while Ray is connected

    def __init__(self, gpus: float, where: str) -> None:
        self.gpus, self.where = gpus, where

    @classmethod
    def connect(cls, address: str, tasks: list[BatchTask]) -> "RayExecutor":
        """Connect, and check that the cluster can place every task: ConfigError otherwise.
        `address` "" starts a local cluster; "auto" finds this machine's; else host:port or ray://."""
        try:
            import ray
        except ImportError:
            raise ConfigError("--ray needs Ray: pip install 'wren-agent[ray]'") from None
        if address and address != "auto" and not address.startswith("ray://"):
            _probe(address)
        kwargs: dict[str, Any] = {"include_dashboard": False} if not address else {}
        # Ray prints its workers' errors ("(raylet) A worker died...") on the driver's sys.stdout, which
        # is the totals' alone: diagnostics go to stderr while Ray is on (close() puts stdout back).
        sys.stdout, cls.stdout = sys.stderr, sys.stdout
        try:
            ray.init(address=address or None, logging_level=logging.WARNING, log_to_driver=False, **kwargs)
        except Exception as exc:  # noqa: BLE001 - ray raises ConnectionError, RuntimeError, ValueError...
            sys.stdout = cls.stdout
            raise ConfigError(f"--ray {address or '(local)'}: cannot connect ({type(exc).__name__}: {exc})") \
                from None
        nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
        most_cpus = max((n.get("CPU", 0) for n in nodes), default=0)
        gpus = max((n.get("GPU", 0) for n in nodes), default=0)
        executor = cls(gpus, f"on Ray ({len(nodes)} node(s), {sum(n.get('CPU', 0) for n in nodes):g} CPUs, "
                             f"{sum(n.get('GPU', 0) for n in nodes):g} GPUs)")
        for task in tasks:
            cpus, wanted_gpus = executor.resources(task)
            if cpus > most_cpus or wanted_gpus > gpus:
                executor.close()
                raise ConfigError(f"task {task.id} asks for {cpus:g} CPUs and {wanted_gpus:g} GPUs; no node of "
                                  f"the Ray cluster has that many (at most {most_cpus:g} CPUs, {gpus:g} GPUs)")
        return executor

    def resources(self, task: BatchTask) -> tuple[float, float]:
        """(CPUs, GPUs) the task asks of its node: a local model gets a GPU where the cluster has one."""
        default_gpus = 1.0 if _is_local_model(task.model) and self.gpus >= 1 else 0.0
        return task.num_cpus or 1.0, task.num_gpus if task.num_gpus is not None else default_gpus

    def results(self, tasks: list[BatchTask], job: Job, stop: Stop) -> Iterator[dict | None]:
        import ray
        from ray.exceptions import RayError, TaskCancelledError

        remote = ray.remote(_ray_task)
        pending = {}
        for task in tasks:
            cpus, gpus = self.resources(task)
            ref = remote.options(num_cpus=cpus, num_gpus=gpus, max_retries=MAX_RETRIES, retry_exceptions=False,
                                 name=f"wren-batch:{task.id}").remote(task.model_dump_json(), job)
            pending[ref] = (task, time.time())
        cancelled = False
        while pending:
            if stop.signal is not None and not cancelled:
                for ref in pending:
                    ray.cancel(ref)  # KeyboardInterrupt in the task: its `wren run` stops as on SIGTERM
                cancelled = True
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=WAKE_S)
            yield None
            for ref in ready:
                task, started = pending.pop(ref)
                try:
                    yield ray.get(ref)
                except TaskCancelledError:
                    yield None  # stopped before it ended: it runs again next time
                except RayError as exc:  # its worker died more than MAX_RETRIES times, or the node went away
                    yield error_record(task, job, started, f"the Ray task failed: {type(exc).__name__}: "
                                                      f"{str(exc).splitlines()[0] if str(exc) else ''}")

    def close(self) -> None:
        import ray

        ray.shutdown()
        sys.stdout = self.stdout
