"""Counter-based random numbers for batched worlds.

A world steps many instances at once, and instance ``i`` of a batch must produce exactly the
stream of a single world with the same seed. One ``numpy.random.Generator`` per instance would
need a Python loop per step; one shared generator would make instance ``i`` depend on the batch
size. So, like JAX's threefry, random numbers here are a pure function of a 64-bit *key* (one per
instance and stream, derived from the seed through ``numpy.random.SeedSequence``) and a *counter*
(the world step, a cell id, a coordinate...): ``bits = mix64(key + counter * golden)``, the
splitmix64 output function. It vectorises over any batch shape, needs no state to checkpoint, and
uses only integer arithmetic and correctly rounded float operations, so streams are identical
bit for bit on every platform numpy supports.
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11, _S32 = (np.uint64(s) for s in (30, 27, 31, 11, 32))
_TO_UNIT53 = 1.0 / 2.0**53
_TO_UNIT16 = 1.0 / 2.0**16
_MASK16 = np.uint64(0xFFFF)
_SIXTEEN = np.uint64(16)


def derive_keys(seeds: np.ndarray | list[int], num_streams: int, salt: int = 0) -> np.ndarray:
    """Return ``(len(seeds), num_streams)`` uint64 keys: stream ``j`` of seed ``s`` comes from
    ``SeedSequence(s, spawn_key=(salt, j))``, a child of ``SeedSequence(s).spawn``'s tree. Worlds
    pass a salt of their own so that the same seed gives unrelated streams in different worlds."""
    seeds = [int(s) for s in np.asarray(seeds, dtype=np.int64).ravel()]
    for seed in seeds:
        if seed < 0:
            raise ValueError(f"seed={seed} is negative; seeds must be integers in [0, 2**63)")
    keys = np.empty((len(seeds), num_streams), dtype=np.uint64)
    for i, seed in enumerate(seeds):
        for j in range(num_streams):
            child = np.random.SeedSequence(seed, spawn_key=(salt, j))
            keys[i, j] = child.generate_state(1, np.uint64)[0]
    return keys


def mix64(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a bijection of uint64 with full avalanche (new array)."""
    z = z ^ (z >> _S30)
    z *= _MIX1
    z ^= z >> _S27
    z *= _MIX2
    z ^= z >> _S31
    return z


def random_bits(key: np.ndarray, counter: np.ndarray) -> np.ndarray:
    """64 random bits for each (key, counter) pair; both broadcast, both uint64-convertible."""
    key = np.atleast_1d(np.asarray(key, dtype=np.uint64))
    counter = np.atleast_1d(np.asarray(counter).astype(np.uint64, copy=False))
    return mix64(key + counter * _GOLDEN)


_M64 = (1 << 64) - 1


def random_bits_int(key: int, counter: int) -> int:
    """:func:`random_bits` for one pair of Python ints (the same bits, without numpy overhead)."""
    z = (key + counter * 0x9E3779B97F4A7C15) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def uniform(key: np.ndarray, counter: np.ndarray) -> np.ndarray:
    """Uniform float64 in [0, 1) with 53 random bits."""
    return (random_bits(key, counter) >> _S11) * _TO_UNIT53


def standard_noise(key: np.ndarray, counter: np.ndarray) -> np.ndarray:
    """Zero-mean, unit-variance noise, approximately Gaussian: the Irwin-Hall sum of four
    16-bit uniforms taken from one 64-bit draw, scaled. Support is [-2*sqrt(3), 2*sqrt(3)]; no
    transcendental function is used, so the result is the same on every platform."""
    bits = random_bits(key, counter)
    total = bits & _MASK16
    for _ in range(3):
        bits >>= _SIXTEEN
        total += bits & _MASK16
    # Sum of four U(0,1): mean 2, variance 1/3.
    return (total * _TO_UNIT16 + 4.0 * 0.5 * _TO_UNIT16 - 2.0) * np.sqrt(3.0)


def counter2(a: np.ndarray | int, b: np.ndarray | int, width_b: int) -> np.ndarray:
    """Pack two non-negative counters into one: ``a * width_b + b`` as uint64."""
    return np.asarray(a, dtype=np.uint64) * np.uint64(width_b) + np.asarray(b, dtype=np.uint64)
