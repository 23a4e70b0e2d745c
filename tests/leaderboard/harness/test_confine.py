"""Nothing escapes the meter: every way an agent could start a process is refused at once.

Attacks as a cheating submitter would try them (tests/leaderboard/agents/escape.py): a double-forked
daemon, a child reaped before any checkpoint, libc's fork through ctypes, multiprocessing pools
(fork and spawn), os.system, subprocess and exec. Each is refused inside the agent at the call
that tries it, so it is recorded as a fault at that very step, nothing runs outside the agent's
process, and the run's meter is complete. Threads stay allowed, and their CPU is charged.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ceaseless.leaderboard.harness import confine
from ceaseless.leaderboard.harness.protocol import AgentSpec
from ceaseless.leaderboard.harness.runner import run
from ceaseless.leaderboard.harness.runspec import RunSpec

AGENTS = Path(__file__).parents[1] / "agents"
BANDIT = "ceaseless/DriftingBandit-v0"
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the no-process filter is Linux's seccomp")


def _spec(steps: int = 400, budget: str = "unlimited", beta: float = float("inf"), **options) -> RunSpec:
    return RunSpec(agent=AgentSpec.parse(str(AGENTS / "escape.py"), **options), world_id=BANDIT, seed=0, steps=steps,
                   budget=budget, beta=beta, max_faults=1)


def _agent_hosts_left() -> list[int]:
    """Agent-host processes still alive that nobody owns any more (adopted by init)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if b"ceaseless.leaderboard.harness.agent_host" in cmdline and ppid == 1:
            found.append(int(entry.name))
    return found


@pytest.mark.parametrize("how, kind", [
    ("double_fork", "child_process"), ("short_child", "child_process"), ("pool", "child_process"),
    ("os_system", "child_process"), ("subprocess", "child_process"), ("exec", "child_process"),
    ("ctypes_fork", "raised"), ("spawn_pool", "raised"),
])
def test_every_way_to_start_a_process_is_refused_at_the_call_that_tries_it(tmp_path, how, kind):
    result = run(_spec(how=how, at=5), tmp_path)
    (fault,) = result["faults"]
    assert fault["step"] == 4, "refused within the call that tried (call 5 is step 4)"
    assert fault["kind"] == kind, fault
    assert "may not start processes" in fault["message"] or "[Errno 1]" in fault["message"]  # EPERM
    assert result["meter"]["complete"] and result["official"]
    assert result["meter"]["processes"] == "refused by a seccomp filter"
    assert not _agent_hosts_left(), "a process outlived the agent"


def test_a_refused_attempt_that_the_agent_catches_leaves_it_running(tmp_path):
    """A refused fork is an ordinary error inside the agent: one that catches it plays on."""
    code = "import os\ntry:\n    os.fork()\nexcept PermissionError as error:\n    REFUSED = str(error)\n"
    agent = tmp_path / "careful.py"
    agent.write_text(code + (AGENTS / "steady.py").read_text())
    spec = RunSpec(agent=AgentSpec.parse(str(agent)), world_id=BANDIT, seed=0, steps=300, budget="unlimited",
                   beta=float("inf"))
    result = run(spec, tmp_path / "out")
    assert not result["faults"] and result["official"]


def test_threads_are_allowed_and_their_cpu_is_charged(tmp_path):
    """A thread that works between calls is charged at the next calls, not lost."""
    plain = run(_spec(steps=2000, how="thread", at=10**9), tmp_path / "plain")
    threaded = run(_spec(steps=2000, how="thread", at=5, cpu=0.3), tmp_path / "threaded")
    assert not threaded["faults"] and threaded["official"]
    assert threaded["cpu_seconds"] - plain["cpu_seconds"] == pytest.approx(0.3, rel=0.25)


def test_the_filter_program_refuses_processes_and_allows_threads():
    """The BPF program, read as the kernel reads it: fork/vfork/exec refused, clone judged by
    CLONE_THREAD, clone3 sent back to clone, a foreign ABI refused whole."""

    def verdict(arch: int, nr: int, flags: int = 0) -> int:
        program = confine._program(*confine._ABI["x86_64"])
        data = {0: nr, 4: arch, 16: flags}
        accumulator, pc = 0, 0
        while True:
            code, jt, jf, k = program[pc]
            if code == confine._LD_W_ABS:
                accumulator, pc = data[k], pc + 1
            elif code == confine._RET_K:
                return k
            else:
                taken = {confine._JEQ_K: accumulator == k, confine._JGE_K: accumulator >= k,
                         confine._JSET_K: bool(accumulator & k)}[code]
                pc += 1 + (jt if taken else jf)

    x86 = confine._ABI["x86_64"][0]
    deny, allow = confine.SECCOMP_RET_ERRNO | confine.EPERM, confine.SECCOMP_RET_ALLOW
    assert [verdict(x86, nr) for nr in (57, 58, 59, 322)] == [deny] * 4  # fork, vfork, execve, execveat
    assert verdict(x86, 56, flags=0x11) == deny  # clone(SIGCHLD): a process
    assert verdict(x86, 56, flags=0x4111 | 0x100) == deny  # posix_spawn's CLONE_VM|CLONE_VFORK
    assert verdict(x86, 56, flags=0x3D0F00) == allow  # pthread_create's flags (CLONE_THREAD among them)
    assert verdict(x86, 435) == confine.SECCOMP_RET_ERRNO | confine.ENOSYS  # clone3: back to clone
    assert verdict(x86, 0) == allow and verdict(x86, 1) == allow  # read, write
    assert verdict(x86, 57 | confine.X32_SYSCALL_BIT) == deny
    assert verdict(0x40000003, 2) == deny  # i386's fork through int 0x80


def test_without_seccomp_the_filter_says_so(monkeypatch):
    monkeypatch.setattr(confine.sys, "platform", "darwin")
    assert confine.forbid_processes() is None
