"""The change engine: each process's contract, exact checkpoints, block invariance, properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ceaseless.worlds import rng
from ceaseless.worlds.change import ChangeEngine, Novelty, OrnsteinUhlenbeck, RandomWalk, Season, Switch


def keys(n: int, seed: int = 0) -> np.ndarray:
    return rng.derive_keys(np.arange(seed, seed + n), 1)[:, 0]


def trajectory(process, n_instances: int, steps: int, block: int, output: str = "value"):
    """Values and events over ``steps`` generated in blocks of ``block``."""
    k = keys(n_instances)
    state = process.init(k)
    values, events, magnitudes = [], [], []
    for t0 in range(0, steps, block):
        length = min(block, steps - t0)
        out, state = process.generate(state, k, t0, length)
        values.append(np.array(out.outputs[output]))
        events.append(out.events)
        magnitudes.append(out.magnitude)
    return np.concatenate(values, axis=1), np.concatenate(events, axis=1), np.concatenate(magnitudes, axis=1)


PROCESSES = {
    "walk": lambda: RandomWalk(3, 0.05, -1.0, 1.0),
    "walk_interval": lambda: RandomWalk(3, 0.05, -1.0, 1.0, interval=16),
    "ou": lambda: OrnsteinUhlenbeck(2, 0.3, 0.05, 0.1, -1.0, 1.0),
    "switch_poisson": lambda: Switch(4, -1.0, 1.0, rate=0.01),
    "switch_periodic_permute": lambda: Switch(5, 0.0, 1.0, period=37, update="permute"),
    "switch_negate_one": lambda: Switch(4, rate=0.02, update="negate", scope="one"),
    "season": lambda: Season(3, 4, 50, -1.0, 1.0),
    "novelty": lambda: Novelty(2, 3, rate=0.01),
}


@pytest.mark.parametrize("name", PROCESSES)
def test_block_length_does_not_change_the_trajectory(name):
    a = trajectory(PROCESSES[name](), 3, 600, 600)
    for block in (1, 7, 64, 256):
        b = trajectory(PROCESSES[name](), 3, 600, block)
        for x, y in zip(a, b):
            assert np.array_equal(x, y), f"{name} block {block}"


@pytest.mark.parametrize("name", PROCESSES)
def test_instance_does_not_depend_on_batch(name):
    alone = trajectory(PROCESSES[name](), 1, 400, 50)
    batch = trajectory(PROCESSES[name](), 5, 400, 50)
    for x, y in zip(alone, batch):
        assert np.array_equal(x[0], y[0])


def test_random_walk_stays_in_bounds_and_moves():
    values, events, _ = trajectory(RandomWalk(4, 0.2, -1.0, 1.0), 4, 5000, 100)
    assert values.min() >= -1.0 and values.max() <= 1.0
    assert not events.any(), "drift is gradual: no change points"
    steps = np.diff(values, axis=1)
    assert 0.05 < np.abs(steps).mean() < 0.25
    # Reflection, not clipping: the walk does not stick to the walls.
    assert (np.isclose(values, 1.0) | np.isclose(values, -1.0)).mean() < 0.01


def test_ornstein_uhlenbeck_reverts_to_its_mean():
    values, _, _ = trajectory(OrnsteinUhlenbeck(1, 0.25, 0.05, 0.02, -5.0, 5.0), 16, 4000, 128)
    assert abs(values[:, 1000:].mean() - 0.25) < 0.05


def test_switch_events_follow_the_rate_and_report_their_magnitude():
    values, events, magnitude = trajectory(Switch(2, -1.0, 1.0, rate=0.01), 50, 4000, 256)
    assert 0.008 < events.mean() < 0.012
    jumps = np.abs(np.diff(values, axis=1)).max(axis=2)
    assert np.allclose(jumps, magnitude[:, 1:])
    assert not events[:, 0].any(), "no change point at the start of the stream"


def test_periodic_permute_keeps_the_values_and_moves_them():
    values, events, _ = trajectory(Switch(5, 0.0, 1.0, period=37, update="permute"), 2, 370, 64)
    assert np.array_equal(np.flatnonzero(events[0]), np.arange(37, 370, 37))
    assert np.allclose(np.sort(values[:, 0], axis=1), np.sort(values[:, -1], axis=1))
    assert not np.array_equal(values[:, 0], values[:, -1])


def test_seasons_recur():
    season = Season(3, 4, 50, -1.0, 1.0)
    values, events, _ = trajectory(season, 2, 1000, 64)
    assert np.array_equal(values[:, 0], values[:, 200]) and np.array_equal(values[:, 60], values[:, 260])
    assert not np.array_equal(values[:, 0], values[:, 50])
    assert np.array_equal(np.flatnonzero(events[0]), np.arange(50, 1000, 50))
    regimes, _, _ = trajectory(season, 1, 1000, 64, output="regime")
    assert np.array_equal(regimes[0], (np.arange(1000) // 50) % 4)


def test_novelty_brings_content_never_seen_before():
    content, events, _ = trajectory(Novelty(2, 3, rate=0.02), 4, 3000, 128, output="content")
    for i in range(4):
        assert len(np.unique(content[i])) == 3 + events[i].sum()
        # The newest id is always the largest: nothing ever comes back.
        assert (np.diff(content[i].max(axis=1)) >= 0).all()


def test_engine_checkpoint_restores_exactly_mid_block():
    def engine():
        processes = {"a": Switch(2, rate=0.05), "b": RandomWalk(2, 0.1, -1, 1), "c": Season(2, 3, 20, 0, 1)}
        return ChangeEngine(processes, 32)

    first = engine()
    first.reset(rng.derive_keys([5, 6], 3))
    for _ in range(45):
        first.advance()
    saved = first.get_state()
    later = []
    for _ in range(100):
        first.advance()
        later.append([np.array(first.value(n)) for n in ("a", "b", "c")])
    second = engine()
    second.reset(rng.derive_keys([0, 0], 3))
    second.set_state(saved)
    for expected in later:
        second.advance()
        for name, value in zip(("a", "b", "c"), expected):
            assert np.array_equal(second.value(name), value)


def test_stationary_engine_holds_the_first_values():
    engine = ChangeEngine({"a": Switch(2, rate=0.5), "s": Season(2, 3, 5, 0, 1)}, 8, stationary=True)
    engine.reset(rng.derive_keys([1], 2))
    first = [np.array(engine.value(n)) for n in ("a", "s")]
    for _ in range(100):
        engine.advance()
        assert not engine.changed().any()
    assert all(np.array_equal(engine.value(n), v) for n, v in zip(("a", "s"), first))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: RandomWalk(2, -0.1, 0, 1), "step_size=-0.1"),
        (lambda: RandomWalk(2, 0.1, 1, 0), "low=1"),
        (lambda: Switch(2, rate=1.5), "rate=1.5"),
        (lambda: Switch(2, rate=0.1, period=10), "exactly one"),
        (lambda: Switch(2, rate=0.1, update="shuffle"), "update='shuffle'"),
        (lambda: Season(2, 0, 10, 0, 1), "num_regimes=0"),
        (lambda: OrnsteinUhlenbeck(2, 0, 1.5, 0.1, -1, 1), "reversion=1.5"),
    ],
)
def test_bad_process_parameters_raise_value_error(make, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        make()


@settings(max_examples=40, deadline=None)
@given(
    step=st.floats(0.0, 2.0), low=st.floats(-10, 0), width=st.floats(0.01, 10),
    interval=st.integers(1, 20), seed=st.integers(0, 2**32),
)
def test_random_walk_is_always_inside_its_bounds(step, low, width, interval, seed):
    walk = RandomWalk(2, step, low, low + width, interval=interval)
    k = rng.derive_keys([seed], 1)[:, 0]
    state = walk.init(k)
    for t0 in range(0, 300, 100):
        block, state = walk.generate(state, k, t0, 100)
        values = block.outputs["value"]
        assert np.isfinite(values).all()
        assert values.min() >= low - 1e-9 and values.max() <= low + width + 1e-9


def test_random_bits_int_matches_the_vectorised_version():
    for key, counter in [(0, 0), (1, 2), (2**64 - 1, 2**40), (12345678901234567, 99)]:
        assert rng.random_bits_int(key, counter) == int(rng.random_bits(np.uint64(key), np.uint64(counter))[0])


def test_noise_has_zero_mean_unit_variance():
    noise = rng.standard_noise(np.uint64(7), np.arange(200_000, dtype=np.uint64))
    assert abs(noise.mean()) < 0.01 and abs(noise.var() - 1.0) < 0.01


def test_keys_differ_by_seed_stream_and_salt():
    a = rng.derive_keys([1, 2], 3)
    assert len(np.unique(a)) == 6
    assert np.array_equal(a, rng.derive_keys([1, 2], 3))
    assert not np.array_equal(a, rng.derive_keys([1, 2], 3, salt=1))
    with pytest.raises(ValueError, match="seed=-1"):
        rng.derive_keys([-1], 1)
