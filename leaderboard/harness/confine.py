"""No process of the agent's own: a seccomp filter, installed in the agent's process before the
submission is imported, that refuses every way of starting another process or program.

Why seccomp: the meter is the agent process's CPU clock, which covers all its threads but not a
child, and a double-forked daemon is not even a child. Refusing the system calls that create a
process closes that door for good, on any Linux >= 3.5, without privileges
(``PR_SET_NO_NEW_PRIVS``), for code in any language (C extensions and ``ctypes`` included), and it
costs nothing per step. The alternatives only catch a child after it ran: a cgroup's CPU counter
covers descendants but needs root or a delegated cgroup, ``PR_SET_CHILD_SUBREAPER`` sees orphans
but not their CPU once reaped, ``RLIMIT_NPROC`` counts per user and needs a dedicated one.

The filter (checked against ``seccomp_data``):

- ``fork``, ``vfork``, ``execve``, ``execveat``: ``EPERM``;
- ``clone`` without ``CLONE_THREAD`` (a new process, ``posix_spawn``'s ``CLONE_VM|CLONE_VFORK``
  included): ``EPERM``; with it (a thread, as ``pthread_create`` makes): allowed;
- ``clone3``: ``ENOSYS``. Its flags live in memory the filter cannot read, and on ``ENOSYS``
  glibc falls back to ``clone``, which the filter can judge;
- a system call of another ABI (``int 0x80`` on x86-64, x32 numbers): ``EPERM``, so the filter
  cannot be sidestepped through a second syscall table.

Threads stay allowed (their CPU is the process's), and a refused call leaves the agent running:
Python raises ``PermissionError``. :func:`refuse_python_spawns` adds an audit hook so that the
usual Python routes (``os.fork``, ``subprocess``, ``os.system``, ``os.exec*``, ``os.posix_spawn``)
fail first with a message that says why (:class:`ProcessRefused`).
"""

from __future__ import annotations

import ctypes
import platform
import struct
import sys

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2  # prctl(PR_SET_SECCOMP, ...)
SECCOMP_SET_MODE_FILTER = 1  # seccomp(2)
SECCOMP_FILTER_FLAG_SPEC_ALLOW = 1 << 2
_SECCOMP_SYSCALL = {"x86_64": 317, "aarch64": 277}
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
EPERM, ENOSYS = 1, 38
CLONE_THREAD = 0x00010000
X32_SYSCALL_BIT = 0x40000000

# BPF opcodes (linux/filter.h)
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06

#: Per machine: the audit arch, and the numbers of (fork, vfork, clone, clone3, execve, execveat);
#: None where the call does not exist.
_ABI = {
    "x86_64": (0xC000003E, (57, 58, 56, 435, 59, 322)),
    "aarch64": (0xC00000B7, (None, None, 220, 435, 221, 281)),
}

#: The audit events of Python's own ways to start a process or program.
_SPAWN_EVENTS = frozenset({"os.fork", "os.forkpty", "os.system", "os.exec", "os.posix_spawn", "os.spawn",
                           "subprocess.Popen", "pty.spawn"})


class ProcessRefused(PermissionError):
    """An agent tried to start a process: Ceaseless agents may use threads, never processes."""


def _program(arch: int, numbers: tuple[int | None, ...]) -> list[tuple[int, int, int, int]]:
    """The filter as (code, jump-if-true, jump-if-false, k) instructions. Jumps are written to
    labels and resolved at the end (BPF jumps are relative and only go forward)."""
    fork, vfork, clone, clone3, execve, execveat = numbers
    refused = [n for n in (fork, vfork, execve, execveat) if n is not None]
    code: list[tuple[int, str | int, str | int, int]] = [
        (_LD_W_ABS, 0, 0, 4),  # seccomp_data.arch
        (_JEQ_K, 0, "deny", arch),  # another ABI: refused whole
        (_LD_W_ABS, 0, 0, 0),  # seccomp_data.nr
        (_JGE_K, "deny", 0, X32_SYSCALL_BIT),  # x32 numbers on x86-64
        *[(_JEQ_K, "deny", 0, number) for number in refused],
        (_JEQ_K, "enosys", 0, clone3),
        (_JEQ_K, "flags", "allow", clone),
    ]
    labels = {"allow": len(code)}
    code.append((_RET_K, 0, 0, SECCOMP_RET_ALLOW))
    labels["flags"] = len(code)
    code.append((_LD_W_ABS, 0, 0, 16))  # args[0], its low 32 bits (little endian): clone's flags
    code.append((_JSET_K, "thread", "deny", CLONE_THREAD))  # a thread: allowed; a process: refused
    labels["thread"] = len(code)
    code.append((_RET_K, 0, 0, SECCOMP_RET_ALLOW))
    labels["deny"] = len(code)
    code.append((_RET_K, 0, 0, SECCOMP_RET_ERRNO | EPERM))
    labels["enosys"] = len(code)
    code.append((_RET_K, 0, 0, SECCOMP_RET_ERRNO | ENOSYS))

    def offset(at: int, target: str | int) -> int:
        return labels[target] - at - 1 if isinstance(target, str) else target

    program = [(op, offset(i, jt), offset(i, jf), k) for i, (op, jt, jf, k) in enumerate(code)]
    assert all(0 <= jt < 256 and 0 <= jf < 256 for _, jt, jf, _ in program), "BPF jumps go forward, short"
    return program


def forbid_processes() -> str | None:
    """Install the filter in this process (irreversibly; threads started later inherit it).
    Returns the mechanism's name, or None where it is not available (not Linux, another machine,
    or seccomp refused): the harness then records the run's meter as incomplete."""
    if not sys.platform.startswith("linux") or platform.machine() not in _ABI:
        return None
    arch, numbers = _ABI[platform.machine()]
    program = _program(arch, numbers)
    buffer = b"".join(struct.pack("<HBBI", *instruction) for instruction in program)
    filters = ctypes.create_string_buffer(buffer, len(buffer))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(len(program), ctypes.addressof(filters))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return None
    # seccomp(2) with SPEC_ALLOW: by default a seccomp'd task also gets the speculative-store-bypass
    # mitigation, which costs an MSR write at every switch to and from it: on a virtual machine
    # that tripled the cost of a round trip with the harness (8 -> 27 us). The mitigation protects
    # the filtered task from others; here the filtered task is the one to guard against.
    libc.syscall.restype = ctypes.c_long
    if libc.syscall(_SECCOMP_SYSCALL[platform.machine()], SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_SPEC_ALLOW,
                    ctypes.c_void_p(ctypes.addressof(fprog))) == 0:
        return "seccomp"
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0) != 0:  # kernels < 4.17
        return None
    return "seccomp"


def refuse_python_spawns() -> None:
    """An audit hook (which no later code can remove) that refuses Python's process-starting
    calls with a :class:`ProcessRefused` naming the call."""

    def hook(event: str, _arguments: tuple) -> None:
        if event in _SPAWN_EVENTS:
            raise ProcessRefused(f"Ceaseless agents may not start processes or programs ({event} refused); "
                                 "threads are allowed and their CPU is charged")

    sys.addaudithook(hook)
