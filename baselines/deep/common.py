"""What the streaming deep learners share (PyTorch): threads and seeding, sparse initialisation, a
LayerNorm MLP with its backward written out, the ObGD step, the observation normaliser and reward
scaler, and checkpoint packing.

After Elsayed, Vasan & Mahmood 2024, "Streaming Deep Reinforcement Learning Finally Works"
(arXiv:2410.14606; their implementation: https://github.com/mohmdelsayed/streaming-drl, read, not
copied -- it is CC BY-NC 4.0). The regenerative pull toward the initial weights is Kumar, Marklund &
Van Roy 2023, "Maintaining Plasticity in Continual Learning via Regenerative Regularization"
(arXiv:2308.11958).

Why the backward is written out. One streaming step of these learners is a handful of
matrix-vector products on a 2 x 128 network: every PyTorch call costs a few microseconds of
dispatch, far more than its arithmetic, and autograd (graph recording, ``backward``, one ``.grad``
tensor per parameter, a Python loop over parameters in the optimiser) multiplies the calls. Here
each network keeps its weights, its eligibility trace and its initial weights in three flat
float32 tensors (per-layer views into them), the gradient of one output combination goes straight
into the trace (no ``.grad``), and every whole-network operation -- the trace decay, ObGD's norm
and step, the pull toward the initial weights -- is one call on a flat tensor, which is what
``torch._foreach_*`` would give over a list of tensors, without the list. All of it runs under
``torch.inference_mode`` (no autograd bookkeeping at all). ``test_stream.py`` checks the gradient
against autograd.
"""

from __future__ import annotations

import io
import json
import math
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from ceaseless.baselines.common import UnsupportedSpace

#: LayerNorm's epsilon (PyTorch's default) and the leaky ReLU's negative slope (its default), as in
#: the paper's networks.
LN_EPS = 1e-5
SLOPE = 0.01


# -- threads and seeds ---------------------------------------------------------------------------------
def configure_torch() -> None:
    """One intra-op thread (a 2 x 128 network gains nothing from more, and the agent is charged for
    every core it keeps busy) and one inter-op thread if that can still be set."""
    torch.set_num_threads(1)
    if torch.get_num_interop_threads() != 1:
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:  # only possible before the first parallel work in this process
            pass


def generators(seed: int) -> tuple[np.random.Generator, torch.Generator]:
    """A numpy generator (acting: epsilon, sampling) and a torch generator (initialisation), both
    from ``seed`` through one SeedSequence, so they are independent streams."""
    numpy_seed, torch_seed = np.random.SeedSequence(seed).spawn(2)
    generator = torch.Generator()
    generator.manual_seed(int(torch_seed.generate_state(1, np.uint64)[0]))
    return np.random.default_rng(numpy_seed), generator


# -- initialisation --------------------------------------------------------------------------------------
def sparse_init_(weight: torch.Tensor, sparsity: float, generator: torch.Generator) -> torch.Tensor:
    """Sparse initialisation (the paper's): each output unit of a ``(fan_out, fan_in)`` weight draws
    its inputs' weights uniform in ``+-1/sqrt(fan_in)`` and then has ``ceil(sparsity * fan_in)`` of
    them, at random, set to zero -- but at most ``fan_in - 1``, so every unit starts connected (the
    published code's rule zeroes all five of five inputs, e.g. CartPole with its time feature).
    One random permutation per row, all drawn at once (argsort of uniforms)."""
    fan_out, fan_in = weight.shape
    bound = 1.0 / math.sqrt(fan_in)
    weight.uniform_(-bound, bound, generator=generator)
    zeros = min(math.ceil(sparsity * fan_in), fan_in - 1)
    if zeros > 0:
        order = torch.rand(fan_out, fan_in, generator=generator).argsort(dim=1)
        weight.scatter_(1, order[:, :zeros], 0.0)
    return weight


# -- the network ---------------------------------------------------------------------------------------
class Activations:
    """One forward pass of ``rows`` inputs, in buffers reused from step to step: each layer's
    inputs with a trailing column of ones (``inputs``; the caller writes the network's input into
    ``x``, a numpy view of ``inputs[0]`` without that column), and what the backward needs of row 0
    (the row that is differentiated): its inputs (``kept``), the rows ``[1, n]`` of each hidden
    layer (``basis``, ``n`` row 0's LayerNorm output) and its 1/std. (``x``, ``outputs``, ``kept``,
    ``normed`` and ``basis_t`` are views into those buffers, made once.)"""

    __slots__ = ("basis", "basis_t", "inputs", "kept", "normed", "outputs", "rstd", "x")

    def __init__(self, sizes: tuple[int, ...], rows: int) -> None:
        self.inputs = [torch.ones(rows, size + 1) for size in sizes[:-1]]
        self.x = self.inputs[0].numpy()[:, :-1]
        self.outputs = [buffer[:, :-1] for buffer in self.inputs[1:]]  # where each hidden layer writes
        self.kept = [buffer[0] for buffer in self.inputs]
        self.basis = [torch.ones(2, size) for size in sizes[1:-1]]
        self.basis_t = [basis.t() for basis in self.basis]
        self.normed = [basis[1] for basis in self.basis]
        self.rstd = [1.0] * (len(sizes) - 2)


class LayerNormMLP:
    """``x -> [Linear -> LayerNorm (no learnable parameters) -> leaky ReLU] x len(hidden) -> Linear``,
    the paper's network, sparse-initialised with zero biases.

    ``weights``, ``trace`` (the eligibility trace, same layout) and ``initial`` (the weights at
    initialisation) are flat float32 tensors. Layer ``l`` is the block ``W[l]`` of shape
    ``(fan_out, fan_in + 1)``: ``nn.Linear``'s weight with the bias as its last column, applied to
    the layer's input with a 1 appended (``Activations.inputs``), so that one matrix product is the
    layer and one rank-1 update (``addr_``) is the decay of its trace and the addition of its
    gradient, bias included. ``zW[l]`` are the trace's blocks."""

    def __init__(self, inputs: int, outputs: int, hidden: tuple[int, ...], sparsity: float,
                 generator: torch.Generator) -> None:
        self.sizes = (int(inputs), *(int(h) for h in hidden), int(outputs))
        self.shapes = [(fan_out, fan_in + 1) for fan_in, fan_out in zip(self.sizes[:-1], self.sizes[1:])]
        total = sum(rows * columns for rows, columns in self.shapes)
        self.weights = torch.zeros(total)
        self.trace = torch.zeros(total)
        self._scratch = torch.zeros(total)  # |trace|, for ObGD's norm
        self.W = self._views(self.weights)
        self.zW = self._views(self.trace)
        for block in self.W:
            sparse_init_(block[:, :-1], sparsity, generator)  # the bias column stays 0
        self.initial = self.weights.clone()
        self.layers = len(self.W)
        self._WT = [block.t() for block in self.W]  # forward: inputs @ W^T
        self._Wt = [block[:, :-1].t() for block in self.W]  # backward: dh = W^T dz (no bias column)
        self._rows = list(self.W[-1][:, :-1])  # the last layer's rows (the gradient of one output)
        self._widths = [(width,) for width in self.sizes[1:-1]]
        self._inverse_widths = [-1.0 / width for width in self.sizes[1:-1]]
        self._unit = torch.zeros(outputs)  # a one-hot output gradient (see ``accumulate``)
        self._unit_np = self._unit.numpy()

    def _views(self, flat: torch.Tensor) -> list[torch.Tensor]:
        blocks, offset = [], 0
        for rows, columns in self.shapes:
            blocks.append(flat[offset:offset + rows * columns].view(rows, columns))
            offset += rows * columns
        return blocks

    def activations(self, rows: int = 1) -> Activations:
        """Buffers for forward passes of ``rows`` inputs at a time (see ``forward``)."""
        return Activations(self.sizes, rows)

    def forward(self, acts: Activations, keep: bool = True) -> torch.Tensor:
        """The outputs (one row per input) for the inputs in ``acts.x``, under the current weights;
        with ``keep``, ``acts`` also keeps what the backward of row 0 needs."""
        h = acts.inputs[0]
        for layer in range(self.layers - 1):
            z = torch.mm(h, self._WT[layer])
            normed, _, rstd = torch.native_layer_norm(z, self._widths[layer], None, None, LN_EPS)
            if keep:
                acts.normed[layer].copy_(normed[0])
                acts.rstd[layer] = rstd[0].item()
            torch._C._nn.leaky_relu(normed, SLOPE, out=acts.outputs[layer])  # the next inputs: [lrelu(n), 1]
            h = acts.inputs[layer + 1]
        return torch.mm(h, self._WT[-1])

    def accumulate(self, acts: Activations, decay: float, d_out: torch.Tensor | None = None,
                   index: int = -1) -> None:
        """``trace <- decay * trace + grad_weights (d_out . f(x))``, ``f(x)`` row 0 of the forward that
        filled ``acts`` (with ``keep``) under the current weights; ``index`` instead of ``d_out``: the
        gradient of output ``index`` alone.

        Backpropagation through ``out = W [h, 1]``, ``h = lrelu(n)``, ``n = (z - mean z) rstd``:
        ``dn = dh * (1 if n > 0 else slope)`` and ``dz = rstd (dn - mean(dn) - n mean(dn n))``; both
        means come from one product with ``basis = [1, n]``. ``rstd`` is not multiplied into ``dz``
        (one call fewer per layer): it is carried down as the Python factor ``scale`` and applied
        where ``dz`` is used (the trace's ``alpha``), every later quantity being linear in it."""
        last = self.layers - 1
        if d_out is None:  # a unit output gradient: only row ``index`` of the last layer
            self._unit_np[index] = 1.0
            self.zW[last].addr_(self._unit, acts.kept[last], beta=decay)
            self._unit_np[index] = 0.0
            dh = self._rows[index]
        else:
            self.zW[last].addr_(d_out, acts.kept[last], beta=decay)
            dh = torch.mv(self._Wt[last], d_out)
        scale = 1.0
        for layer in range(last - 1, -1, -1):
            dn = torch.ops.aten.leaky_relu_backward(dh, acts.normed[layer], SLOPE, False)
            means = torch.mv(acts.basis[layer], dn)  # width * (mean dn, mean dn n)
            dz = torch.addmv(dn, acts.basis_t[layer], means, alpha=self._inverse_widths[layer])  # dz / (rstd scale)
            scale *= acts.rstd[layer]
            self.zW[layer].addr_(dz, acts.kept[layer], beta=decay, alpha=scale)
            if layer > 0:
                dh = torch.mv(self._Wt[layer], dz)  # dh / scale

    def obgd(self, delta: float, lr: float, kappa: float) -> float:
        """Overshooting-bounded gradient descent (the paper's Algorithm 3): ``w <- w + a delta z``
        with ``a = lr / max(1, lr kappa max(|delta|, 1) ||z||_1)``. The bound keeps the update from
        changing the prediction by more than the error (the effective step size shrinks as the
        trace grows). Returns ``a``."""
        norm = torch.abs(self.trace, out=self._scratch).sum().item()
        bound = lr * kappa * max(abs(delta), 1.0) * norm
        step = lr / bound if bound > 1.0 else lr
        self.weights.add_(self.trace, alpha=step * delta)
        return step

    def pull_to_init(self, rate: float) -> None:
        """L2 Init (Kumar et al. 2023): ``w <- w - rate (w - w0)``, one fused lerp."""
        self.weights.lerp_(self.initial, rate)

    def clear_trace(self) -> None:
        self.trace.zero_()

    def state(self, prefix: str) -> dict[str, torch.Tensor]:
        return {f"{prefix}weights": self.weights, f"{prefix}trace": self.trace, f"{prefix}initial": self.initial}

    def set_state(self, prefix: str, arrays: dict[str, np.ndarray]) -> None:
        for name, tensor in self.state(prefix).items():
            tensor.copy_(torch.from_numpy(arrays[name]))


# -- observations and rewards ---------------------------------------------------------------------------
class ObservationNormalizer:
    """Observation -> float32 vector, standardised by the running mean and variance of everything
    seen so far (Welford's algorithm, float64; the paper's NormalizeObservation): ``(x - mean) /
    sqrt(var + eps)``, with ``var = 1`` until there are two samples. Encoding: a Box is flattened,
    Discrete is one-hot, MultiDiscrete one one-hot per component."""

    def __init__(self, space: spaces.Space, eps: float = 1e-8) -> None:
        if isinstance(space, spaces.Discrete):
            self.kind, self.size, self._start = "discrete", int(space.n), int(space.start)
        elif isinstance(space, spaces.MultiDiscrete):
            nvec = np.asarray(space.nvec).ravel().astype(np.int64)
            self.kind, self.size = "multidiscrete", int(nvec.sum())
            self._offsets = np.concatenate([[0], np.cumsum(nvec)[:-1]]) - np.asarray(space.start).ravel()
        elif isinstance(space, spaces.Box):
            self.kind, self.size = "box", int(np.prod(space.shape))
        else:
            raise UnsupportedSpace(f"observations must be Discrete, MultiDiscrete or Box, got {space}")
        self.eps = eps
        self.count = 0
        self.mean = np.zeros(self.size)
        self.m2 = np.zeros(self.size)  # sum of squared deviations
        self.std = np.full(self.size, math.sqrt(1.0 + eps))  # var = 1 until two samples
        self._x = np.zeros(self.size)  # the encoded observation
        self._deviation = np.zeros(self.size)
        self._step = np.zeros(self.size)

    def __call__(self, observation: Any, out: np.ndarray, update: bool) -> None:
        """Write the standardised ``observation`` into ``out`` (float32), after adding it to the
        statistics if ``update``."""
        x, deviation = self._x, self._deviation
        if self.kind == "box":
            np.copyto(x, np.asarray(observation).reshape(-1), casting="unsafe")
        else:
            x.fill(0.0)
            if self.kind == "discrete":
                x[int(observation) - self._start] = 1.0
            else:
                x[self._offsets + np.asarray(observation).ravel()] = 1.0
        if update:  # Welford: mean += (x - mean) / n, m2 += (x - old mean)(x - new mean); in place
            self.count += 1
            np.subtract(x, self.mean, out=deviation)
            np.multiply(deviation, 1.0 / self.count, out=self._step)
            self.mean += self._step
            np.subtract(x, self.mean, out=self._step)
            deviation *= self._step
            self.m2 += deviation
            if self.count >= 2:
                std = self.std
                np.multiply(self.m2, 1.0 / (self.count - 1), out=std)
                std += self.eps
                np.sqrt(std, out=std)
        np.subtract(x, self.mean, out=deviation)
        np.divide(deviation, self.std, out=out, casting="same_kind")

    def state(self) -> dict[str, Any]:
        return {"obs_mean": self.mean, "obs_m2": self.m2, "obs_std": self.std}

    def set_state(self, arrays: dict[str, np.ndarray], count: int) -> None:
        self.mean[:], self.m2[:], self.std[:] = arrays["obs_mean"], arrays["obs_m2"], arrays["obs_std"]
        self.count = count


class RewardScaler:
    """Reward / running std of the discounted return (the paper's ScaleReward): the return trace
    ``u <- gamma^elapsed u + r`` feeds a Welford variance (var = 1 until two samples), and the
    reward is divided by ``sqrt(var + eps)``."""

    def __init__(self, gamma: float, eps: float = 1e-8) -> None:
        self.gamma, self.eps = gamma, eps
        self.ret = 0.0
        self.count, self.mean, self.m2 = 0, 0.0, 0.0
        self.scale = 1.0  # 1 / sqrt(var + eps)

    def __call__(self, reward: float, elapsed: int, update: bool) -> float:
        if update:
            self.ret = self.gamma ** elapsed * self.ret + reward
            self.count += 1
            deviation = self.ret - self.mean
            self.mean += deviation / self.count
            self.m2 += deviation * (self.ret - self.mean)
            var = self.m2 / (self.count - 1) if self.count >= 2 else 1.0
            self.scale = 1.0 / math.sqrt(var + self.eps)
        return reward * self.scale

    def state(self) -> list[float]:
        return [self.ret, self.count, self.mean, self.m2, self.scale]

    def set_state(self, values: list[float]) -> None:
        self.ret, count, self.mean, self.m2, self.scale = values
        self.count = int(count)


# -- checkpoints --------------------------------------------------------------------------------------------
def pack(arrays: dict[str, np.ndarray | torch.Tensor], state: dict[str, Any]) -> bytes:
    """Arrays (numpy or torch) and a JSON-able ``state`` as one ``.npz`` (no pickle)."""
    data = {name: value.numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
            for name, value in arrays.items()}
    data["state"] = np.frombuffer(json.dumps(state).encode(), np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **data)
    return buffer.getvalue()


def unpack(data: bytes) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    return arrays, json.loads(arrays.pop("state").tobytes().decode())


def generator_state(generator: torch.Generator) -> np.ndarray:
    return generator.get_state().numpy().copy()


def set_generator_state(generator: torch.Generator, state: np.ndarray) -> None:
    generator.set_state(torch.from_numpy(np.ascontiguousarray(state, np.uint8)))
