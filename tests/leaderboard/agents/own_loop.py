"""Code that owns its loop, as a cleanrl script does: tabular Q-learning written against a plain
gymnasium Env, submitted with run(env) instead of make_agent."""

import time
import zlib

import numpy as np


def run(env, return_at=0, crash_at=0, update_every=0, update_cpu=0.0, swallow=False, predict=False):
    rng = np.random.default_rng(env.agent_seed)
    if predict:  # the world-model track: answered inside env.step, before it returns
        env.predict_fn = (lambda plans: np.full(plans.shape[:2], 0.5)) if predict != "raise" else (lambda plans: 1 / 0)
    observation, _ = env.reset(seed=0)
    q = np.zeros((1024, env.action_space.n))
    state = zlib.crc32(np.asarray(observation).tobytes()) % len(q)
    t = 0
    while True:
        action = int(rng.integers(env.action_space.n)) if rng.random() < 0.1 else int(q[state].argmax())
        try:
            observation, reward, terminated, truncated, info = env.step(action)
        except Exception:  # a careless loop: the stream's end must still get through
            if not swallow:
                raise
            continue
        assert not (terminated or truncated)
        following = zlib.crc32(np.asarray(observation).tobytes()) % len(q)
        discount = 0.9 ** info["elapsed"]  # elapsed > 1: the world moved on while the loop was busy
        q[state, action] += 0.1 * (reward + discount * q[following].max() - q[state, action])
        state, t = following, t + 1
        if t == 3:  # an episode-minded wrapper resets: the stream goes on where it was
            again, info = env.reset()
            assert info["reset_ignored"] and np.array_equal(np.asarray(again), np.asarray(observation))
        if update_every and t % update_every == 0:  # a batch update between two steps
            deadline = time.thread_time() + update_cpu
            while time.thread_time() < deadline:
                pass
        if crash_at and t == crash_at:
            raise RuntimeError("deliberate failure in the loop")
        if return_at and t == return_at:
            return
