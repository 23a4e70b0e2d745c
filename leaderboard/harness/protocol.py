"""The agent protocol, and how a submission is found and checked.

A submission is a Python module -- a ``.py`` file, a directory holding ``agent.py``, or an
importable module name -- that defines::

    def make_agent(observation_space, action_space, seed):
        return agent

where ``agent`` has::

    agent.start(observation) -> action            # first step of a stream (or after a restart)
    agent.step(reward, observation, elapsed=1) -> action

One call per world step. ``elapsed > 1`` means the agent fell behind the compute clock: that many
world steps passed (on the world's fallback action), ``reward`` is their sum, and the agent missed
their observations. Agents learn inside ``step``; there is no separate training phase.

Optional: ``agent.checkpoint() -> bytes`` and ``agent.restore(data: bytes)`` let an interrupted
run resume the agent exactly; the harness stores the bytes and never interprets them.
``agent.predict(plans) -> predictions`` enters the world-model track: ``plans`` is ``(K, H) +
action_shape`` (K plans of H actions, starting now), the answer ``(K, H)`` the rewards expected at
each step; asked at unannounced probe times, scored against plans played out on a copy of the world
(:mod:`~ceaseless.leaderboard.harness.probes`), its CPU charged to a budget of its own.

Or, for code that owns its loop (Stable-Baselines3's ``learn``, a cleanrl script), ``run(env)``:
called once, in the agent's process, with a gymnasium ``Env`` that stands for the world
(:mod:`~ceaseless.leaderboard.harness.own_loop`): each ``env.step`` is one world step through the
compute clock, the stream never resets, and its end raises :class:`StreamEnd`.

The spaces are gymnasium spaces; observations arrive as numpy arrays (or ints for ``Discrete``);
actions may be ints, floats, lists or arrays, converted to the action space's dtype and shape.
All randomness of an agent should come from ``seed``: on the unlimited track a deterministic agent
gives identical results run after run.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.util
import inspect
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from gymnasium import spaces

PROTOCOL_VERSION = 1


class SubmissionError(ValueError):
    """A submission cannot be used: the message names what is wrong."""


@dataclass(frozen=True)
class AgentSpec:
    """Where an agent comes from: ``path`` (file or directory) or ``module`` (importable name),
    plus ``options`` passed to ``make_agent`` as keyword arguments (used by the baselines)."""

    path: str | None = None
    module: str | None = None
    options: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def parse(cls, text: str, **options: Any) -> AgentSpec:
        """A path if it exists on disk (or ends in .py), otherwise a module name."""
        candidate = Path(text)
        if candidate.exists() or text.endswith(".py"):
            return cls(path=str(candidate.resolve()), options=tuple(sorted(options.items())))
        return cls(module=text, options=tuple(sorted(options.items())))

    @property
    def name(self) -> str:
        """A short display name."""
        base = Path(self.path).stem if self.path else self.module.rsplit(".", 1)[-1]
        if self.path and Path(self.path).is_dir():
            base = Path(self.path).name
        suffix = ",".join(f"{k}={v}" for k, v in self.options)
        return f"{base}[{suffix}]" if suffix else base

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "module": self.module, "options": dict(self.options)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AgentSpec:
        return cls(path=data.get("path"), module=data.get("module"),
                   options=tuple(sorted((data.get("options") or {}).items())))

    def source_files(self) -> list[Path]:
        """The files that make up the submission (for hashing)."""
        if self.path:
            root = Path(self.path)
            if root.is_dir():
                return sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
            return [root]
        origin = _module_origin(self.module)
        if origin is None:
            return []
        if "." not in self.module:
            return [origin]
        # A module of a package: it, the __init__ of every package above it (each runs on import)
        # and the modules of its top-level package that it imports, transitively. Editing one
        # agent of a package then changes only its digest, and a helper shared by several changes
        # all of theirs. Names are resolved by the import system, so a package whose folders are
        # mapped elsewhere (``ceaseless.baselines`` is the folder ``baselines/``) works as well.
        # Ceaseless's worlds and harness are not the agent's code (a result names them by its
        # suite digest and versions), so an import of them is not followed.
        top = self.module.split(".")[0]
        files: set[Path] = set()
        pending = [(self.module, origin)]
        while pending:
            name, file = pending.pop()
            if file in files:
                continue
            files.add(file)
            parts = name.split(".")
            is_package = file.name == "__init__.py"
            parents = [".".join(parts[:i]) for i in range(1, len(parts))]
            for parent in parents:
                if parent == "ceaseless":  # the import root of Ceaseless itself, not agent code
                    continue
                init = _module_origin(parent)
                if init is not None and init.name == "__init__.py":
                    pending.append((parent, init))
            package = name if is_package else ".".join(parts[:-1])
            for imported in _imported_names(file, package):
                if imported.split(".")[0] == top and "." in imported and not imported.startswith(_NOT_AGENT_CODE):
                    found = _module_origin(imported)
                    if found is not None:
                        pending.append((imported, found))
        return sorted(files)

    def digest(self) -> str:
        """sha256 over the submission's files and options: which code produced a result."""
        hasher = hashlib.sha256()
        for file in self.source_files():
            hasher.update(file.name.encode())
            hasher.update(file.read_bytes())
        hasher.update(json.dumps(dict(self.options), sort_keys=True, default=str).encode())
        return hasher.hexdigest()


#: Modules of Ceaseless that an agent may import but that are not the agent's code.
_NOT_AGENT_CODE = ("ceaseless.worlds", "ceaseless.leaderboard")


def _module_origin(name: str) -> Path | None:
    """The source file of module ``name`` (its ``__init__.py`` for a package), found without
    running it (its parent packages are imported); None if there is none."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or spec.origin in ("built-in", "frozen"):
        return None
    origin = Path(spec.origin)
    return origin if origin.suffix == ".py" and origin.is_file() else None


def _imported_names(file: Path, package: str) -> list[str]:
    """The module names ``file`` (a module of ``package``) imports: ``import a.b``, ``from a.b
    import c`` (both ``a.b`` and ``a.b.c``, which may be a module) and relative forms. Imports
    built at run time (``importlib``) are not seen."""
    names: list[str] = []
    for node in ast.walk(ast.parse(file.read_bytes())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolved against the importing file's own package
                parent = package.split(".")[: max(len(package.split(".")) - node.level + 1, 0)]
                base = ".".join(parent + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            names += [base] + [f"{base}.{alias.name}" for alias in node.names]
    return [name for name in names if name]


def _module_file(spec: AgentSpec) -> Path:
    path = Path(spec.path)
    if path.is_dir():
        path = path / "agent.py"
        if not path.exists():
            raise SubmissionError(f"submission directory {spec.path} has no agent.py")
    if not path.exists():
        raise SubmissionError(f"submission file {path} does not exist")
    if path.suffix != ".py":
        raise SubmissionError(f"submission file {path} is not a .py file")
    return path


class StreamEnd(BaseException):
    """The stream is over: ``env.step`` raises it in a ``run(env)`` submission. It derives from
    ``BaseException``, so a loop's ``except Exception`` does not swallow it."""


def _import_submission(spec: AgentSpec) -> Any:
    """The submission's module, imported; SubmissionError if that fails."""
    try:
        if spec.path:
            path = _module_file(spec)
            name = f"ceaseless_submission_{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"
            module_spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(module_spec)
            sys.path.insert(0, str(path.parent))  # the submission may import its own helpers
            sys.modules[name] = module
            module_spec.loader.exec_module(module)
            return module
        if spec.module:
            return importlib.import_module(spec.module)
        raise SubmissionError("an agent needs a path or a module name")
    except SubmissionError:
        raise
    except Exception as error:  # the submission's own import failed: say how
        raise SubmissionError(f"importing the submission failed: {type(error).__name__}: {error}") from error


def load_entry(spec: AgentSpec) -> tuple[str, Callable[..., Any]]:
    """Import the submission and return ``("make_agent", factory)`` (see :func:`load_factory`) or
    ``("run", run)`` for code that owns its loop (``run(env)``, called once with a gymnasium Env
    that stands for the world). Raises :class:`SubmissionError` naming the problem: neither
    entry point, both, or a wrong signature."""
    module = _import_submission(spec)
    has_make, has_run = hasattr(module, "make_agent"), hasattr(module, "run")
    if has_make and has_run:
        raise SubmissionError(f"submission {spec.name} defines both make_agent and run: keep one (make_agent for "
                              "an agent the harness calls per step, run(env) for code that owns its loop)")
    if not has_run:
        return "make_agent", load_factory(spec, module)
    function = module.run
    if not callable(function):
        raise SubmissionError(f"submission {spec.name}: run is not callable")
    try:
        inspect.signature(function).bind(None, **dict(spec.options))
    except TypeError as error:
        raise SubmissionError(f"submission {spec.name}: run must accept (env): {error}") from error
    except ValueError:
        pass
    options = dict(spec.options)
    return "run", (lambda env: function(env, **options)) if options else function


def load_factory(spec: AgentSpec, module: Any = None) -> Callable[..., Any]:
    """Import the submission (unless ``module`` is given) and return its checked ``make_agent``,
    with the spec's options bound. Raises :class:`SubmissionError` naming the problem."""
    if module is None:
        module = _import_submission(spec)
    if getattr(module, "make_agent", None) is None and callable(getattr(module, "run", None)):
        raise SubmissionError(f"submission {spec.name} defines run(env), not make_agent: it runs in its own process "
                              "(not --in-process, and not through load_factory)")
    factory = getattr(module, "make_agent", None)
    if factory is None:
        raise SubmissionError(f"submission {spec.name} defines neither make_agent(observation_space, action_space, "
                              "seed) nor run(env)")
    if not callable(factory):
        raise SubmissionError(f"submission {spec.name}: make_agent is not callable")
    try:
        signature = inspect.signature(factory)
        signature.bind(None, None, 0, **dict(spec.options))
    except TypeError as error:
        raise SubmissionError(
            f"submission {spec.name}: make_agent must accept (observation_space, action_space, seed): {error}"
        ) from error
    except ValueError:
        pass  # builtins without a signature: trust the call
    options = dict(spec.options)

    def make_agent(observation_space, action_space, seed):
        agent = factory(observation_space, action_space, seed, **options)
        check_agent(agent, spec.name)
        return agent

    return make_agent


def check_agent(agent: Any, name: str = "agent") -> None:
    """The object returned by make_agent must have start(observation) and step(reward, observation, elapsed)."""
    for method, arguments in (("start", (None,)), ("step", (0.0, None, 1))):
        function = getattr(agent, method, None)
        if not callable(function):
            raise SubmissionError(f"{name}: the agent returned by make_agent has no {method}() method")
        try:
            inspect.signature(function).bind(*arguments)
        except TypeError as error:
            expected = "start(observation)" if method == "start" else "step(reward, observation, elapsed=1)"
            raise SubmissionError(f"{name}: agent.{method} must accept {expected}: {error}") from error
        except ValueError:
            pass


# -- spaces on the wire --------------------------------------------------------------------------------
def describe_space(space: spaces.Space) -> dict[str, Any]:
    """A JSON description of a Discrete, Box or MultiDiscrete space (what crosses to the agent)."""
    if isinstance(space, spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, spaces.Box):
        return {"type": "Box", "shape": list(space.shape), "dtype": np.dtype(space.dtype).str,
                "low": np.asarray(space.low, dtype=np.float64).ravel().tolist(),
                "high": np.asarray(space.high, dtype=np.float64).ravel().tolist()}
    if isinstance(space, spaces.MultiDiscrete):
        return {"type": "MultiDiscrete", "nvec": np.asarray(space.nvec).tolist(),
                "start": np.asarray(space.start).tolist(), "dtype": np.dtype(space.dtype).str}
    raise SubmissionError(f"unsupported space {space}")


def space_from_description(data: dict[str, Any]) -> spaces.Space:
    if data["type"] == "Discrete":
        return spaces.Discrete(data["n"], start=data["start"])
    if data["type"] == "Box":
        shape = tuple(data["shape"])
        dtype = np.dtype(data["dtype"])
        low = np.array(data["low"], dtype=np.float64).reshape(shape)
        high = np.array(data["high"], dtype=np.float64).reshape(shape)
        return spaces.Box(low.astype(dtype), high.astype(dtype), shape, dtype)
    if data["type"] == "MultiDiscrete":
        return spaces.MultiDiscrete(np.array(data["nvec"]), dtype=np.dtype(data["dtype"]),
                                    start=np.array(data["start"]))
    raise ValueError(f"unknown space type {data['type']!r}")


@dataclass(frozen=True)
class WireFormat:
    """How one observation or action travels: a fixed dtype and shape, as raw bytes."""

    dtype: np.dtype
    shape: tuple[int, ...]

    @classmethod
    def of(cls, space: spaces.Space) -> WireFormat:
        if isinstance(space, spaces.Discrete):
            return cls(np.dtype(np.int64), ())
        if isinstance(space, (spaces.Box, spaces.MultiDiscrete)):
            return cls(np.dtype(space.dtype), tuple(space.shape))
        raise SubmissionError(f"unsupported space {space}")

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize

    def encode(self, value: Any) -> bytes:
        """Convert an agent's action (int, float, list, array) to bytes, or raise ValueError."""
        if self.shape == () and self.dtype == np.int64 and (type(value) is int or isinstance(value, np.integer)):
            return int(value).to_bytes(8, "little", signed=True)  # the common case, fast
        if type(value) is np.ndarray and value.shape == self.shape and value.dtype == self.dtype:
            return value.tobytes()
        array = np.asarray(value)
        if array.dtype == object:
            raise ValueError(f"action {value!r} is not numeric")
        if self.shape == () and array.shape != ():
            if array.size != 1:
                raise ValueError(f"action has shape {array.shape}, expected a scalar")
            array = array.reshape(())
        if array.shape != self.shape:
            raise ValueError(f"action has shape {array.shape}, expected {self.shape}")
        integral = np.all(np.isfinite(array)) and np.all(np.mod(array, 1) == 0) if array.dtype.kind == "f" else True
        if self.dtype.kind in "iu" and not integral:
            raise ValueError(f"action {value!r} is not an integer")
        if self.dtype.kind in "iu" and array.dtype.kind not in "iuf" and array.dtype.kind != "b":
            raise ValueError(f"action {value!r} is not numeric")
        return np.ascontiguousarray(array, dtype=self.dtype).tobytes()

    def decode(self, data: bytes | memoryview) -> Any:
        if self.shape == () and self.dtype == np.int64:
            return int.from_bytes(data, "little", signed=True)
        array = np.frombuffer(data, dtype=self.dtype).reshape(self.shape)
        return int(array) if self.shape == () and self.dtype.kind in "iu" else array.copy()
