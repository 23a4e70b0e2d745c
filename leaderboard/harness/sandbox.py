"""The agent in its own process: messages, the CPU meter read from outside, limits.

The world stays in the harness process. The agent runs in a fresh interpreter
(:mod:`ceaseless.leaderboard.harness.agent_host`, started with ``subprocess``, never forked from the harness, so it
inherits none of the harness's memory) and talks over two pipes in a fixed binary schema: numpy
buffers of declared dtype and shape for observations and actions, length-prefixed JSON or text for
the rest. Nothing the agent sends is ever unpickled.

The meter is the agent process's CPU clock (all its threads), read by the harness with
``clock_gettime`` on the process CPU clock of the agent's pid -- outside the agent, so patching
``time`` in the agent changes nothing. The per-call CPU of the protocol itself, measured with a
do-nothing agent, is subtracted.

Limits: address space (``RLIMIT_AS``, default 4 GiB), a hard per-call timeout (default 10 s), and
no processes of the agent's own: a seccomp filter installed in the agent's process before the
submission is imported refuses every way to start one (:mod:`~ceaseless.leaderboard.harness.confine`),
so the process CPU clock is the agent's whole cost. Where seccomp is unavailable the harness looks
for children (``/proc``) at every checkpoint and at the end (a child is a fault), and the run's
meter is recorded as incomplete: it is not official. When the harness runs as root, the agent runs
as the user ``nobody`` if that user can read the submission, so it cannot read or signal the
harness; the harness process is made non-dumpable, so an agent of the same user cannot read it.
"""

from __future__ import annotations

import json
import os
import select
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import ceaseless
from ceaseless.leaderboard.harness import agent_host as wire
from ceaseless.leaderboard.harness.meter import (
    agent_user,
    children_of,
    harden_harness,
    peak_memory_bytes,
    process_cpu_clock,
)
from ceaseless.leaderboard.harness.protocol import AgentSpec, WireFormat, describe_space, load_factory

_STEP_HEADER = wire.STEP_HEADER  # reward, elapsed
_STEP_SCALAR = struct.Struct(_STEP_HEADER.format + "q")  # reward, elapsed, and a Discrete observation
DEFAULT_MEMORY_LIMIT = 4 << 30
DEFAULT_CALL_TIMEOUT = 10.0
STARTUP_TIMEOUT = 120.0


class AgentDone(Exception):
    """A run(env) submission's loop returned before the stream ended (not a fault)."""


class AgentFault(Exception):
    """The agent failed a call: ``kind`` is raised, crashed, bad_action, timeout, child_process or
    startup; ``message`` says what happened."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind, self.message = kind, message
        self.cpu = 0.0  # the CPU the failed call used, where measured (a failed predict)


def _fault_kind(message: str) -> str:
    """The fault an agent's error message stands for."""
    if message.startswith("ValueError: action"):
        return "bad_action"
    if "ProcessRefused:" in message.split("\n", 1)[0]:
        return "child_process"  # it tried to start a process and was refused
    return "raised"


# -- the harness's side of the pipes ----------------------------------------------------------------
class SandboxedAgent:
    """An agent in its own process. ``start``/``step`` return ``(action, cpu_seconds)``: the
    action and the CPU the agent spent on the call (protocol overhead subtracted); failures raise
    :class:`AgentFault`."""

    official = True

    def __init__(
        self,
        spec: AgentSpec | None,
        observation_space,
        action_space,
        seed: int,
        *,
        memory_limit: int | None = DEFAULT_MEMORY_LIMIT,
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
        overhead_seconds: float = 0.0,
        log_path: Path | None = None,
    ) -> None:
        self.spec = spec
        self.hardened = harden_harness()
        self.call_timeout = call_timeout
        self.overhead_seconds = overhead_seconds
        self.predict_overhead_seconds = overhead_seconds  # a PREDICT's own (see measure_predict_overhead)
        self.observation_wire = WireFormat.of(observation_space)
        self.action_wire = WireFormat.of(action_space)
        self.user = agent_user(spec) if spec is not None else None
        to_agent_r, self._to_agent = os.pipe()
        self._from_agent, from_agent_w = os.pipe()
        if log_path:
            Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
        environment = {k: v for k, v in os.environ.items() if not k.startswith("CEASELESS_")}
        environment.update({"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                            "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"})
        package_root = str(Path(ceaseless.__file__).resolve().parents[1])  # where `ceaseless` is found
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, environment.get("PYTHONPATH")]))
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ceaseless.leaderboard.harness.agent_host", str(to_agent_r), str(from_agent_w)],
                pass_fds=(to_agent_r, from_agent_w), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                env=environment, start_new_session=True, cwd="/",
            )
        finally:
            os.close(to_agent_r)
            os.close(from_agent_w)
            if log is not subprocess.DEVNULL:
                log.close()
        self._clock = process_cpu_clock(self.process.pid)
        self._poll = select.poll()
        self._poll.register(self._from_agent, select.POLLIN | select.POLLHUP | select.POLLERR)
        obs_size = self.observation_wire.size
        self._step_message = bytearray(1 + _STEP_HEADER.size + obs_size)
        self._step_message[0] = wire.STEP
        self._step_obs = np.frombuffer(memoryview(self._step_message)[1 + _STEP_HEADER.size:],
                                       dtype=self.observation_wire.dtype)
        self._reply_size = 1 + self.action_wire.size
        self._decode_action = self.action_wire.decode
        self._timeout_ms = self.call_timeout * 1000
        self._scalar_observation = self.observation_wire.shape == () and self.observation_wire.dtype == np.int64
        hello = {
            "agent": spec.to_json() if spec else None, "null_agent": spec is None, "seed": int(seed),
            "observation_space": describe_space(observation_space), "action_space": describe_space(action_space),
            "memory_limit": memory_limit, "user": self.user,
        }
        payload = json.dumps(hello).encode()
        started = self._cpu()
        self._send(bytes([wire.HELLO]) + struct.pack("<I", len(payload)) + payload)
        capabilities = self._read_blob(wire.READY, STARTUP_TIMEOUT, startup=True)
        self.capabilities = json.loads(capabilities)
        self.confinement = self.capabilities.get("confinement")
        self.startup_cpu_seconds = self._cpu() - started
        self._last_cpu = self._cpu()

    # -- low level ------------------------------------------------------------------------------------
    def _cpu(self) -> float:
        try:
            return time.clock_gettime(self._clock)
        except OSError:
            return self._last_cpu  # the process is gone; the fault is reported by the read

    def _send(self, data: bytes | bytearray) -> None:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._to_agent, view):]
        except (BrokenPipeError, OSError) as error:
            raise AgentFault("crashed", f"the agent process is gone ({self._exit_status()}): {error}") from None

    def _exit_status(self) -> str:
        code = self.process.poll()
        if code is None:
            return "still running"
        if code < 0:
            return f"killed by signal {signal.Signals(-code).name}"
        return f"exit code {code}"

    def _read_exact(self, n: int, deadline: float) -> bytes:
        chunks, remaining = [], n
        while remaining:
            timeout = deadline - time.monotonic()
            if timeout <= 0 or not self._poll.poll(timeout * 1000):
                raise AgentFault("timeout", f"no answer within {self.call_timeout:g} s")
            chunk = os.read(self._from_agent, remaining)
            if not chunk:
                self.process.wait(timeout=5)
                raise AgentFault("crashed", f"the agent process died ({self._exit_status()})")
            chunks.append(chunk)
            remaining -= len(chunk)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def _read_blob(self, expected: int, timeout: float, startup: bool = False) -> bytes:
        deadline = time.monotonic() + timeout
        status = self._read_exact(1, deadline)[0]
        if status not in (expected, wire.ERROR):
            raise AgentFault("crashed", f"protocol violation: status {status}")
        length = struct.unpack("<I", self._read_exact(4, deadline))[0]
        if length > (64 << 20):
            raise AgentFault("crashed", f"protocol violation: a {length}-byte message")
        payload = self._read_exact(length, deadline)
        if status == wire.ERROR:
            message = payload.decode("utf-8", "replace")
            raise AgentFault("startup" if startup else _fault_kind(message), message)
        return payload

    def _action_reply(self) -> Any:
        """The agent's answer to START or STEP: one poll and one read in the usual case (the
        agent writes its whole reply at once)."""
        if not self._poll.poll(self._timeout_ms):
            raise AgentFault("timeout", f"no answer within {self.call_timeout:g} s")
        data = os.read(self._from_agent, self._reply_size)
        if len(data) == self._reply_size and data[0] == wire.ACTION:
            return self._decode_action(memoryview(data)[1:])
        return self._unusual_reply(data)

    def _unusual_reply(self, data: bytes) -> Any:
        """An error, a reply that arrived in pieces, or the agent's end."""
        deadline = time.monotonic() + self.call_timeout
        if not data:
            self.process.wait(timeout=5)
            raise AgentFault("crashed", f"the agent process died ({self._exit_status()})")
        status = data[0]
        if status == wire.DONE and len(data) == 1:
            raise AgentDone("the run(env) loop returned before the stream ended")
        if status == wire.ERROR:
            if len(data) < 5:
                data += self._read_exact(5 - len(data), deadline)
            length = min(struct.unpack_from("<I", data, 1)[0], 64 << 20)
            if len(data) < 5 + length:
                data += self._read_exact(5 + length - len(data), deadline)
            message = bytes(data[5:5 + length]).decode("utf-8", "replace")
            raise AgentFault(_fault_kind(message), message)
        if status != wire.ACTION:
            raise AgentFault("crashed", f"protocol violation: status {status}")
        data += self._read_exact(self._reply_size - len(data), deadline)
        return self._decode_action(memoryview(data)[1:])

    def _charge(self, overhead: float | None = None) -> float:
        now = self._cpu()
        used = now - self._last_cpu - (self.overhead_seconds if overhead is None else overhead)
        self._last_cpu = now
        return max(used, 0.0)

    # -- the protocol --------------------------------------------------------------------------------------
    def start(self, observation) -> tuple[Any, float]:
        self._last_cpu = self._cpu()
        self._send(bytes([wire.START]) + np.ascontiguousarray(observation, self.observation_wire.dtype).tobytes())
        action = self._action_reply()
        return action, self._charge()

    def step(self, reward: float, observation, elapsed: int) -> tuple[Any, float]:
        if self._scalar_observation:
            _STEP_SCALAR.pack_into(self._step_message, 1, reward, elapsed, observation)
        else:
            _STEP_HEADER.pack_into(self._step_message, 1, reward, elapsed)
            self._step_obs[:] = np.ravel(observation)
        try:
            written = os.write(self._to_agent, self._step_message)  # one write for small messages
        except OSError as error:
            raise AgentFault("crashed", f"the agent process is gone ({self._exit_status()}): {error}") from None
        if written < len(self._step_message):
            self._send(memoryview(self._step_message)[written:])
        action = self._action_reply()
        now = time.clock_gettime(self._clock)
        used = now - self._last_cpu - self.overhead_seconds
        self._last_cpu = now
        return action, (used if used > 0.0 else 0.0)

    def predict(self, plans: np.ndarray) -> tuple[np.ndarray | None, float]:
        """The agent's answer to PREDICT (None: a run(env) loop without ``predict_fn``) and the CPU
        it spent, measured as for a step; the caller checks the answer. A fault carries ``cpu``."""
        self._last_cpu = self._cpu()
        message = bytes([wire.PREDICT]) + wire.PREDICT_HEADER.pack(*plans.shape[:2])
        try:
            self._send(message + np.ascontiguousarray(plans, self.action_wire.dtype).tobytes())
            payload = self._read_blob(wire.PREDICTION, self.call_timeout)
        except AgentFault as fault:
            fault.cpu = self._charge(self.predict_overhead_seconds)
            raise
        cpu = self._charge(self.predict_overhead_seconds)
        if not payload:
            return None, cpu
        ndim = struct.unpack_from("<I", payload)[0]
        if ndim > 8 or len(payload) < 4 + 4 * ndim:
            raise AgentFault("crashed", f"protocol violation: a prediction of {ndim} dimensions")
        shape = struct.unpack_from(f"<{ndim}I", payload, 4)
        data = np.frombuffer(payload, dtype=np.float64, offset=4 + 4 * ndim)
        if data.size != int(np.prod(shape, dtype=np.int64)):
            raise AgentFault("crashed", f"protocol violation: {data.size} numbers for shape {shape}")
        return data.reshape(shape), cpu

    def checkpoint(self) -> bytes | None:
        """The agent's own checkpoint, or None if it does not support one."""
        if not self.capabilities.get("checkpoint"):
            return None
        self._send(bytes([wire.SAVE]))
        return self._read_blob(wire.BLOB, self.call_timeout)

    def restore(self, data: bytes) -> None:
        self._send(bytes([wire.LOAD]) + struct.pack("<I", len(data)) + data)
        self._read_blob(wire.READY, self.call_timeout)

    def cpu_seconds_total(self) -> float:
        return self._cpu()

    def check_children(self) -> None:
        children = children_of(self.process.pid)
        if children:
            raise AgentFault("child_process", f"the agent started child processes {children}; none are allowed")

    def peak_memory(self) -> int:
        return peak_memory_bytes(self.process.pid)

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                os.write(self._to_agent, bytes([wire.STOP]))
            except OSError:
                pass
            try:
                self.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.process.kill()
            self.process.wait()
        else:  # the agent is gone; make sure nothing it started lingers
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for fd in (self._to_agent, self._from_agent):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.close()


def measure_overhead(observation_space, action_space, calls: int = 2000) -> float:
    """Median CPU seconds the do-nothing agent's process spends per step call: the protocol's own
    cost, subtracted from every charge."""
    agent = SandboxedAgent(None, observation_space, action_space, 0, overhead_seconds=0.0)
    try:
        observation = np.zeros(agent.observation_wire.shape, agent.observation_wire.dtype)
        agent.start(observation)
        costs = np.array([agent.step(0.0, observation, 1)[1] for _ in range(calls)])
    finally:
        agent.close()
    return float(np.median(costs))


class InProcessAgent:
    """The agent in the harness's own process: for debugging only. Its calls are timed with the
    wall clock of this process (cheap, and the agent could tamper with it), so results are marked
    unofficial and budgets mean little here."""

    official = False
    confinement = None
    hardened = False

    def __init__(self, spec: AgentSpec, observation_space, action_space, seed: int, **_: Any) -> None:
        self.spec = spec
        self.action_wire = WireFormat.of(action_space)
        started = time.perf_counter()
        try:
            self.agent = load_factory(spec)(observation_space, action_space, seed)
        except Exception as error:
            raise AgentFault("startup", f"{type(error).__name__}: {error}") from error
        self.startup_cpu_seconds = time.perf_counter() - started
        self.capabilities = {"checkpoint": callable(getattr(self.agent, "checkpoint", None))
                             and callable(getattr(self.agent, "restore", None)),
                             "predict": callable(getattr(self.agent, "predict", None))}

    def _call(self, method, *arguments) -> tuple[Any, float]:
        started = time.perf_counter()
        try:
            action = method(*arguments)
            if type(action) is not int:  # ints pass as they are; anything else goes through the wire format
                action = self.action_wire.decode(self.action_wire.encode(action))
        except ValueError as error:
            raise AgentFault("bad_action", f"ValueError: {error}") from None
        except Exception as error:
            raise AgentFault("raised", f"{type(error).__name__}: {error}") from None
        return action, time.perf_counter() - started

    def start(self, observation) -> tuple[Any, float]:
        return self._call(self.agent.start, observation)

    def step(self, reward: float, observation, elapsed: int) -> tuple[Any, float]:
        started = time.perf_counter()
        try:
            action = self.agent.step(reward, observation, elapsed)
            if type(action) is not int:  # ints pass as they are; anything else goes through the wire format
                action = self.action_wire.decode(self.action_wire.encode(action))
        except ValueError as error:
            raise AgentFault("bad_action", f"ValueError: {error}") from None
        except Exception as error:  # the agent's failure is a recorded fault
            raise AgentFault("raised", f"{type(error).__name__}: {error}") from None
        return action, time.perf_counter() - started

    def predict(self, plans: np.ndarray, true_future=None) -> tuple[np.ndarray | None, float]:
        """As :meth:`SandboxedAgent.predict`. ``true_future(plans) -> rewards`` (the truth, played on a
        copy of the world) is handed to an agent that sets ``wants_true_future``: a test-only hook that
        exists on this in-process path alone (no message carries it to a sandboxed agent)."""
        if true_future is not None and getattr(self.agent, "wants_true_future", False):
            self.agent.true_future = true_future
        started = time.perf_counter()
        try:
            answer = np.asarray(self.agent.predict(plans.copy()), dtype=np.float64)
        except Exception as error:
            fault = AgentFault("raised", f"{type(error).__name__}: {error}")
            fault.cpu = time.perf_counter() - started
            raise fault from None
        return answer, time.perf_counter() - started

    def checkpoint(self) -> bytes | None:
        return self.agent.checkpoint() if self.capabilities["checkpoint"] else None

    def restore(self, data: bytes) -> None:
        self.agent.restore(data)

    def check_children(self) -> None:
        pass

    def peak_memory(self) -> int:
        return peak_memory_bytes(os.getpid())

    def close(self) -> None:
        pass
