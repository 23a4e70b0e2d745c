"""The meter: the agent's CPU read from outside its process, and what keeps the reading honest.

The meter is the agent process's CPU clock (all its threads), read by the harness with
``clock_gettime`` on the clock of the agent's pid: outside the agent, so patching ``time`` in the
agent changes nothing. No process of the agent's own can exist to hold CPU elsewhere
(:mod:`~ceaseless.leaderboard.harness.confine`); :func:`children_of` is the check where that
filter is unavailable. :func:`one_cpu_with_the_agent` gives every path that runs an agent the
same placement, and :func:`harden_harness` the same protection, so they all measure alike.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ceaseless.leaderboard.harness.protocol import AgentSpec

_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_DUMPABLE = 4


def harden_harness() -> bool:
    """Make this (the harness's) process non-dumpable: a process of the same user, an agent not run
    as ``nobody`` included, can then neither read its memory nor ptrace it. Idempotent."""
    try:
        return _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def process_cpu_clock(pid: int) -> int:
    """The clock id of another process's CPU time (all its threads)."""
    clock = ctypes.c_int()
    if _libc.clock_getcpuclockid(pid, ctypes.byref(clock)) != 0:
        raise OSError(ctypes.get_errno(), f"no CPU clock for pid {pid}")
    return clock.value


@contextmanager
def one_cpu_with_the_agent() -> Iterator[int | None]:
    """Pin the calling thread to the CPU it is on, for as long as the block runs; the agent
    processes it starts inherit the mask. Harness and agent take turns, so they lose nothing by
    sharing a CPU, and each round trip is then a switch on that CPU instead of a wake-up across
    CPUs (several times slower on virtual machines). Every path that runs an agent (the local pool,
    Ray, verify, submit) goes through here, so each measures alike. Yields the CPU (None where
    affinity cannot be set). A thread already pinned to one CPU (a pool worker) stays as it is."""
    if not hasattr(os, "sched_setaffinity"):
        yield None
        return
    before = os.sched_getaffinity(0)
    cpu = _libc.sched_getcpu()
    if len(before) == 1 or cpu < 0 or cpu not in before:
        yield next(iter(before)) if len(before) == 1 else None
        return
    try:
        os.sched_setaffinity(0, {cpu})
    except OSError:
        yield None
        return
    try:
        yield cpu
    finally:
        os.sched_setaffinity(0, before)


def children_of(pid: int) -> list[int]:
    """Child processes of ``pid`` (any thread's), from /proc."""
    found: list[int] = []
    task_dir = Path(f"/proc/{pid}/task")
    try:
        for task in task_dir.iterdir():
            text = (task / "children").read_text()
            found.extend(int(child) for child in text.split())
    except FileNotFoundError:
        return []
    except OSError:
        for entry in Path("/proc").iterdir():  # kernels without the children file
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def peak_memory_bytes(pid: int) -> int:
    """Peak resident memory of a process (VmHWM), 0 if unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _readable_by_others(path: Path) -> bool:
    """Can a user other than the owner read this file (and traverse to it)?"""
    try:
        for parent in [path, *path.resolve().parents]:
            mode = parent.stat().st_mode
            needed = 0o005 if parent.is_dir() else 0o004
            if mode & needed != needed:
                return False
    except OSError:
        return False
    return True


def agent_user(spec: AgentSpec) -> str | None:
    """The user to run an agent as: ``nobody`` when the harness is root and nobody can read the
    submission and this Python; otherwise the harness's own user (None)."""
    if os.geteuid() != 0:
        return None
    try:
        import pwd

        pwd.getpwnam("nobody")
    except KeyError:
        return None
    files = spec.source_files() if spec.path else []
    needed = [*files, Path(sys.executable), Path(__file__).with_name("agent_host.py"), Path(np.__file__)]
    return "nobody" if all(_readable_by_others(Path(p)) for p in needed) else None
