"""The agent's own process: loads a submission and answers the harness over two pipes.

Started by :mod:`~ceaseless.leaderboard.harness.sandbox` as
``python -m ceaseless.leaderboard.harness.agent_host IN_FD OUT_FD``. It never sees the world: only
the messages below, in a fixed binary schema (no pickle either way).

harness -> agent                                   agent -> harness
  HELLO  u8=1, u32 n, n bytes of JSON                READY  u8=1, u32 n, n bytes of JSON
  START  u8=2, observation bytes                     ACTION u8=0, action bytes
  STEP   u8=3, f64 reward, i64 elapsed, obs bytes    ACTION
  SAVE   u8=4                                        BLOB   u8=2, u32 n, n bytes
  LOAD   u8=5, u32 n, n bytes                        READY
  STOP   u8=6                                        (exits)
  PREDICT u8=7, u32 K, u32 H, plans' bytes           PREDICTION u8=4, u32 n, n bytes: u32 ndim,
    (K x H actions in the action wire format)          ndim x u32 shape, float64 data (n = 0: no
                                                       predictor, a run(env) agent without predict_fn)
                                                     DONE   u8=3 (a run(env) loop returned)
                                                     ERROR  u8=9, u32 n, n bytes of UTF-8 text

A ``make_agent`` submission answers each START and STEP with the agent's action. A ``run(env)``
submission is called once; its ``env.step`` answers the pending START or STEP and waits for the
next one (:mod:`~ceaseless.leaderboard.harness.own_loop`). PREDICT (the world-model track, see
:mod:`~ceaseless.leaderboard.harness.probes`) comes only after an action was answered and before
the next STEP: a ``make_agent`` agent answers it with ``agent.predict(plans)``, a ``run(env)`` loop
-- which is then waiting inside ``env.step`` -- with ``env.predict_fn(plans)``, before ``env.step``
returns. An error in the predictor is sent as ERROR and the host carries on.
"""

from __future__ import annotations

import json
import os
import resource
import struct
import sys
import traceback

HELLO, START, STEP, SAVE, LOAD, STOP, PREDICT = 1, 2, 3, 4, 5, 6, 7
ACTION, READY, BLOB, DONE, PREDICTION, ERROR = 0, 1, 2, 3, 4, 9
STEP_HEADER = struct.Struct("<dq")  # a STEP's reward and elapsed, after its kind byte
PREDICT_HEADER = struct.Struct("<II")  # a PREDICT's K (plans) and H (horizon), after its kind byte
_LENGTH = struct.Struct("<I")


def _read_exact(fd: int, n: int) -> bytes:
    chunks, remaining = [], n
    while remaining:
        chunk = os.read(fd, remaining)
        if not chunk:
            raise EOFError("harness closed the pipe")
        chunks.append(chunk)
        remaining -= len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _read_message(fd: int, obs_size: int, action_size: int = 0) -> bytes:
    """The harness's next message, whole (b"" once the harness is gone). A STEP comes in one read,
    sized to it (not larger: CPython allocates the full size on every read), since the harness
    writes each message in one write and waits for the answer before it sends the next; a message
    that arrives in pieces (a large LOAD) is completed here."""
    step_size = 1 + STEP_HEADER.size + obs_size
    data = os.read(fd, step_size)
    if not data or (data[0] == STEP and len(data) == step_size):
        return data
    header = {LOAD: _LENGTH.size, PREDICT: PREDICT_HEADER.size}.get(data[0], 0)
    if len(data) < 1 + header:
        data += _read_exact(fd, 1 + header - len(data))
    need = {STEP: step_size, START: 1 + obs_size}.get(data[0], 1)
    if data[0] == LOAD:
        need = 1 + _LENGTH.size + _LENGTH.unpack_from(data, 1)[0]
    elif data[0] == PREDICT:
        plans, horizon = PREDICT_HEADER.unpack_from(data, 1)
        need = 1 + PREDICT_HEADER.size + plans * horizon * action_size
    return data + _read_exact(fd, need - len(data)) if len(data) < need else data


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _send_blob(fd: int, status: int, payload: bytes) -> None:
    _write_all(fd, bytes([status]) + _LENGTH.pack(len(payload)) + payload)


def _send_error(fd: int, error: BaseException) -> None:
    text = "".join(traceback.format_exception_only(type(error), error)).strip()
    trace = traceback.format_exc(limit=8)
    _send_blob(fd, ERROR, f"{text}\n{trace}".encode("utf-8", "replace")[:60_000])


def _answer_predict(out_fd: int, data: bytes, action_wire, predict) -> None:
    """Decode a PREDICT's plans, ask ``predict`` (None: no predictor) and send its PREDICTION."""
    import numpy as np

    plans, horizon = PREDICT_HEADER.unpack_from(data, 1)
    array = np.frombuffer(data, dtype=action_wire.dtype, offset=1 + PREDICT_HEADER.size)
    array = array.reshape((plans, horizon, *action_wire.shape)).copy()
    if predict is None:
        _send_blob(out_fd, PREDICTION, b"")
        return
    answer = np.ascontiguousarray(predict(array), dtype=np.float64)
    if answer.size > (8 << 20):
        raise ValueError(f"a prediction of {answer.size} numbers is far too large")
    shape = struct.pack(f"<I{answer.ndim}I", answer.ndim, *answer.shape)
    _send_blob(out_fd, PREDICTION, shape + answer.tobytes())


def _drop_privileges(user: str | None) -> None:
    """Run the agent as an unprivileged user when the harness runs as root (see sandbox.py)."""
    if not user or os.geteuid() != 0:
        return
    import pwd

    entry = pwd.getpwnam(user)
    os.setgroups([])
    os.setresgid(entry.pw_gid, entry.pw_gid, entry.pw_gid)
    os.setresuid(entry.pw_uid, entry.pw_uid, entry.pw_uid)


def _limit_memory(limit_bytes: int | None) -> None:
    if limit_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))


class _NullAgent:
    """Does nothing, through exactly the same decode/encode path as a real agent."""

    def __init__(self, action_space) -> None:
        self.action = action_space.sample() * 0 if hasattr(action_space, "n") else action_space.low

    def start(self, observation):
        return self.action

    def step(self, reward, observation, elapsed=1):
        return self.action

    def predict(self, plans):
        import numpy as np

        return np.zeros(plans.shape[:2])


def serve(in_fd: int, out_fd: int) -> None:
    kind = _read_exact(in_fd, 1)[0]
    if kind != HELLO:
        raise SystemExit(f"expected HELLO, got message {kind}")
    hello = json.loads(_read_exact(in_fd, _LENGTH.unpack(_read_exact(in_fd, 4))[0]))
    try:
        import numpy as np  # noqa: F401  (loaded before the limits: part of the host, not the agent)

        from ceaseless.leaderboard.harness.protocol import AgentSpec, WireFormat, load_entry, space_from_description

        observation_space = space_from_description(hello["observation_space"])
        action_space = space_from_description(hello["action_space"])
        observation_wire = WireFormat.of(observation_space)
        action_wire = WireFormat.of(action_space)
        _limit_memory(hello.get("memory_limit"))
        _drop_privileges(hello.get("user"))
        from ceaseless.leaderboard.harness.confine import forbid_processes, refuse_python_spawns

        confinement = forbid_processes()  # before the submission's code runs: it can never start a process
        refuse_python_spawns()
        loop = None
        if hello.get("null_agent"):
            agent = _NullAgent(action_space)  # measures the protocol's own CPU cost
        else:
            kind, entry = load_entry(AgentSpec.from_json(hello["agent"]))
            if kind == "run":
                agent, loop = None, entry
            else:
                agent = entry(observation_space, action_space, int(hello["seed"]))
    except BaseException as error:
        _send_error(out_fd, error)
        return
    capabilities = {
        "checkpoint": callable(getattr(agent, "checkpoint", None)) and callable(getattr(agent, "restore", None)),
        "confinement": confinement,
        "own_loop": loop is not None,
        # run(env) loops may set env.predict_fn at any time: they are asked, and may answer "none"
        "predict": loop is not None or callable(getattr(agent, "predict", None)),
    }
    _send_blob(out_fd, READY, json.dumps(capabilities).encode())
    if loop is not None:
        _serve_own_loop(loop, observation_space, action_space, observation_wire, action_wire, int(hello["seed"]),
                        in_fd, out_fd)
        return
    obs_size, action_size = observation_wire.size, action_wire.size
    predict = getattr(agent, "predict", None)
    decode, encode = observation_wire.decode, action_wire.encode
    observation_at = slice(1 + STEP_HEADER.size, 1 + STEP_HEADER.size + obs_size)
    write = os.write
    while True:
        try:
            data = _read_message(in_fd, obs_size, action_size)
        except (OSError, EOFError):
            return
        if not data:
            return
        kind = data[0]
        try:
            if kind == STEP:
                reward, elapsed = STEP_HEADER.unpack_from(data, 1)
                reply = b"\x00" + encode(agent.step(reward, decode(memoryview(data)[observation_at]), elapsed))
                if write(out_fd, reply) < len(reply):
                    raise OSError("short write of an action")
            elif kind == START:
                _write_all(out_fd, b"\x00" + encode(agent.start(decode(memoryview(data)[1:1 + obs_size]))))
            elif kind == PREDICT:
                _answer_predict(out_fd, data, action_wire, predict)
            elif kind == SAVE:
                blob = agent.checkpoint()
                if not isinstance(blob, (bytes, bytearray)):
                    raise TypeError(f"agent.checkpoint() must return bytes, got {type(blob).__name__}")
                _send_blob(out_fd, BLOB, bytes(blob))
            elif kind == LOAD:
                agent.restore(bytes(data[1 + _LENGTH.size:]))
                _send_blob(out_fd, READY, b"{}")
            elif kind == STOP:
                return
            else:
                raise ValueError(f"unknown message {kind}")
        except BaseException as error:
            _send_error(out_fd, error)
            if isinstance(error, (KeyboardInterrupt, SystemExit)):
                return


class _Channel:
    """The agent host's side of the protocol for a run(env) loop (see own_loop.StreamEnv)."""

    def __init__(self, observation_wire, action_wire, in_fd: int, out_fd: int) -> None:
        self.decode, self.encode = observation_wire.decode, action_wire.encode
        self.action_wire = action_wire
        self.obs_size = observation_wire.size
        self.in_fd, self.out_fd = in_fd, out_fd
        self.pending = False  # a START or STEP awaits its answer
        self.predictor = lambda: None  # where the loop's predictor is found (StreamEnv.predict_fn)

    def next_message(self) -> tuple[str, float, int, object]:
        """("start" | "step" | "stop", reward, elapsed, observation) of the harness's next message."""
        data = _read_message(self.in_fd, self.obs_size, self.action_wire.size)
        while data and data[0] == PREDICT:  # answered here, inside env.step, before the next STEP
            try:
                _answer_predict(self.out_fd, data, self.action_wire, self.predictor())
            except Exception as error:  # the predictor's error is the harness's to record; the loop goes on
                _send_error(self.out_fd, error)
            data = _read_message(self.in_fd, self.obs_size, self.action_wire.size)
        if not data or data[0] == STOP:
            return "stop", 0.0, 0, None
        kind = data[0]
        if kind == START:
            self.pending = True
            return "start", 0.0, 0, self.decode(memoryview(data)[1:1 + self.obs_size])
        if kind == STEP:
            reward, elapsed = STEP_HEADER.unpack_from(data, 1)
            self.pending = True
            return "step", reward, elapsed, self.decode(memoryview(data)[1 + STEP_HEADER.size:])
        raise ValueError(f"message {kind} is not for a run(env) agent (it cannot checkpoint)")

    def send_action(self, action) -> None:
        try:
            reply = b"\x00" + self.encode(action)
        except ValueError as error:  # the harness records a bad action and restarts the agent
            from ceaseless.leaderboard.harness.protocol import StreamEnd

            self.answer_error(error if str(error).startswith("action") else ValueError(f"action {error}"))
            raise StreamEnd(f"invalid action: {error}") from None
        _write_all(self.out_fd, reply)
        self.pending = False

    def answer(self, status: int) -> None:
        if not self.pending and self.next_message()[0] == "stop":  # it ended before reading the first message
            return
        _write_all(self.out_fd, bytes([status]))
        self.pending = False

    def answer_error(self, error: BaseException) -> None:
        if not self.pending and self.next_message()[0] == "stop":
            return
        _send_error(self.out_fd, error)
        self.pending = False


def _serve_own_loop(loop, observation_space, action_space, observation_wire, action_wire, seed: int,
                    in_fd: int, out_fd: int) -> None:
    """Call ``run(env)`` once; its env.step calls carry the protocol. The loop's end, an error in it
    or the end of the stream ends this process."""
    from ceaseless.leaderboard.harness.own_loop import StreamEnd, StreamEnv

    channel = _Channel(observation_wire, action_wire, in_fd, out_fd)
    env = StreamEnv(observation_space, action_space, channel, seed)
    channel.predictor = lambda: env.predict_fn
    try:
        loop(env)
    except StreamEnd:
        return
    except BaseException as error:
        channel.answer_error(error)
        return
    channel.answer(DONE)  # it returned before the stream ended: the rest is the fallback's


def main() -> None:
    in_fd, out_fd = int(sys.argv[1]), int(sys.argv[2])
    serve(in_fd, out_fd)


if __name__ == "__main__":
    main()
