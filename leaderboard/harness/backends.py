"""Where runs execute: a local process pool (default) or a Ray cluster.

A job is plain JSON in and out (a run spec, or a reference computation), so the same function runs
under either backend and the results are identical on the unlimited track.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any

_progress_queue = None


def _init_worker(progress_queue, counter=None) -> None:
    global _progress_queue
    _progress_queue = progress_queue
    if counter is not None and hasattr(os, "sched_setaffinity"):
        # One CPU per worker, inherited by the agent processes it starts: the harness and its agent
        # take turns, so they lose nothing by sharing a CPU, and each round trip is a context switch
        # on that CPU instead of a wake-up across CPUs (on virtual machines, several times slower).
        with counter.get_lock():
            index = counter.value
            counter.value += 1
        cpus = sorted(os.sched_getaffinity(0))
        try:
            os.sched_setaffinity(0, {cpus[index % len(cpus)]})
        except OSError:
            pass


def execute_job(job: dict[str, Any]) -> dict[str, Any]:
    """Run one job: ``{"kind": "run", "spec": ..., "directory": ..., "resume": ..., "tag": ...}`` or
    ``{"kind": "reference", "world_id", "config", "seeds", "steps"}``. Never raises: a failure
    is returned as ``{"error": ...}`` so other runs are unaffected."""
    from ceaseless.leaderboard.harness.runner import references, run
    from ceaseless.leaderboard.harness.runspec import RunSpec

    try:
        if job["kind"] == "reference":
            found = references(job["world_id"], job["config"], job["seeds"], job["steps"])
            return {"kind": "reference", "job": job,
                    "references": {str(seed): ref.__dict__ for seed, ref in found.items()}}
        spec = RunSpec.from_json(job["spec"])
        last = [0]

        def progress(t: int) -> None:
            if _progress_queue is not None:
                _progress_queue.put((spec.run_id, t - last[0]))
            last[0] = t

        result = run(spec, job["directory"], resume=job.get("resume", False), progress=progress)
        return {"kind": "run", "run_id": spec.run_id, "steps": spec.steps, "result": result, "tag": job.get("tag")}
    except Exception as error:
        return {"kind": job["kind"], "run_id": job.get("spec", {}).get("world_id", ""), "job": job,
                "error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()}


class LocalBackend:
    """A process pool on this machine (spawned workers: they share no memory with us)."""

    name = "local"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)

    def map(self, jobs: list[dict[str, Any]], on_progress: Callable[[str, int], None] | None = None
            ) -> Iterator[dict[str, Any]]:
        context = multiprocessing.get_context("spawn")
        progress_queue = context.Queue()
        counter = context.Value("i", 0)
        with ProcessPoolExecutor(self.workers, mp_context=context, initializer=_init_worker,
                                 initargs=(progress_queue, counter)) as pool:
            pending = {pool.submit(execute_job, job) for job in jobs}
            while pending:
                done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                _drain(progress_queue, on_progress)
                for future in done:
                    yield future.result()
            _drain(progress_queue, on_progress)


def _drain(progress_queue, on_progress) -> None:
    while True:
        try:
            run_id, steps = progress_queue.get_nowait()
        except queue.Empty:
            return
        if on_progress is not None:
            on_progress(run_id, steps)


class RayBackend:
    """Runs on a Ray cluster (``ray`` is an optional extra: ``pip install ceaseless[ray]``).
    ``address=None`` starts a local Ray instance; otherwise it connects to the cluster."""

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        try:
            import ray
        except ImportError as error:
            raise SystemExit("the Ray backend needs ray: pip install 'ceaseless[ray]'") from error
        self.ray = ray
        self.address = address
        self.workers = workers

    def map(self, jobs: list[dict[str, Any]], on_progress: Callable[[str, int], None] | None = None
            ) -> Iterator[dict[str, Any]]:
        ray = self.ray
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"address": self.address, "include_dashboard": False,
                                      "log_to_driver": False, "configure_logging": False}
            if self.address is None and self.workers:
                kwargs["num_cpus"] = self.workers
            import ceaseless

            root = os.path.dirname(os.path.dirname(os.path.abspath(ceaseless.__file__)))  # where `ceaseless` is
            kwargs["runtime_env"] = {"env_vars": {"PYTHONPATH": os.pathsep.join(
                filter(None, [root, os.environ.get("PYTHONPATH")]))}}
            ray.init(**kwargs)
        remote = ray.remote(num_cpus=1, max_retries=0)(execute_job)
        pending = [remote.remote(job) for job in jobs]
        while pending:
            done, pending = ray.wait(pending, num_returns=1, timeout=0.5)
            for reference in done:
                result = ray.get(reference)
                if on_progress is not None and "steps" in result:
                    on_progress(result.get("run_id", ""), result["steps"])
                yield result

    def shutdown(self) -> None:
        if self.ray.is_initialized():
            self.ray.shutdown()


def make_backend(name: str, workers: int | None = None, address: str | None = None):
    if name == "local":
        return LocalBackend(workers)
    if name == "ray":
        return RayBackend(address, workers)
    raise ValueError(f"backend={name!r} is not one of local, ray")

