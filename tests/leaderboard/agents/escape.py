"""An agent that tries, at its ``at``-th call, to get work done outside its own process, as a
cheating submitter would. Each attempt raises in the agent if it is refused (the harness records a
fault at that call); ``how="thread"`` is the allowed way, burning ``cpu`` seconds in a thread."""

import ctypes
import multiprocessing
import os
import subprocess
import threading
import time


def _burn(seconds: float) -> None:
    deadline = time.thread_time() + seconds
    while time.thread_time() < deadline:
        pass


def _double_fork() -> None:
    """The classic daemon: fork, setsid, fork again; the grandchild is adopted by init."""
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            _burn(20.0)
        os._exit(0)


def _short_child() -> None:
    """A child that works and exits (is reaped) long before any checkpoint."""
    pid = os.fork()
    if pid == 0:
        _burn(0.2)
        os._exit(0)
    os.waitpid(pid, 0)


def _ctypes_fork() -> None:
    """Straight to libc, past anything Python could intercept."""
    pid = ctypes.CDLL(None, use_errno=True).fork()
    if pid == 0:
        _burn(0.2)
        os._exit(0)
    if pid < 0:
        raise OSError(ctypes.get_errno(), "libc fork() failed")


ATTEMPTS = {
    "double_fork": _double_fork,
    "short_child": _short_child,
    "ctypes_fork": _ctypes_fork,
    "pool": lambda: multiprocessing.get_context("fork").Pool(2).map(_burn, [0.2, 0.2]),
    "spawn_pool": lambda: multiprocessing.get_context("spawn").Pool(1),
    "os_system": lambda: os.system("sleep 0.2") == 0 or (_ for _ in ()).throw(OSError("os.system failed")),
    "subprocess": lambda: subprocess.run(["sleep", "0.2"], check=True),
    "exec": lambda: os.execv("/bin/sleep", ["sleep", "1"]),
}


class Escaping:
    def __init__(self, action_space, how, at, cpu):
        self.how, self.at, self.cpu, self.calls = how, at, cpu, 0
        self.threads = []

    def start(self, observation):
        return self.step(0.0, observation)

    def step(self, reward, observation, elapsed=1):
        self.calls += 1
        if self.calls == self.at + 1 and self.threads:
            self.threads.pop().join()  # the thread's work all happens while this process is metered
        if self.calls == self.at:
            if self.how == "thread":  # allowed: a thread works between calls, and is charged
                thread = threading.Thread(target=_burn, args=(self.cpu,), daemon=True)
                thread.start()
                self.threads.append(thread)
            else:
                ATTEMPTS[self.how]()
        return 0


def make_agent(observation_space, action_space, seed, how="double_fork", at=5, cpu=0.0):
    return Escaping(action_space, how, at, cpu)
