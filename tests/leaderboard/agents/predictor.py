"""A deterministic tabular learner with a ``predict`` for the world-model tests; ``mode`` picks the
predictor: ``oracle`` (the true future, through the in-process test hook only), ``mean`` (its recent
mean reward for every plan: ignores the actions), ``constant``, ``nan``, ``shape``, ``slow``
(burns ``cpu`` seconds), ``raise``, ``crash`` (the process exits inside predict), ``none`` (no predict)."""

import json
import os
import time
import zlib

import numpy as np


class Learner:
    wants_true_future = True  # honoured only in-process: the test hook (see InProcessAgent.predict)

    def __init__(self, action_space, seed, mode, cpu):
        self.n = int(action_space.n)
        self.rng = np.random.default_rng(seed)
        self.q = np.zeros((1024, self.n))
        self.mode, self.cpu = mode, cpu
        self.mean = 0.0
        self.true_future = None

    def _state(self, observation):
        return zlib.crc32(np.ascontiguousarray(observation).tobytes()) % len(self.q)

    def start(self, observation):
        self.state = self._state(observation)
        self.action = int(self.q[self.state].argmax())
        return self.action

    def step(self, reward, observation, elapsed=1):
        self.mean += 0.01 * (reward / max(elapsed, 1) - self.mean)
        following = self._state(observation)
        target = reward + 0.9 * self.q[following].max()
        self.q[self.state, self.action] += 0.1 * (target - self.q[self.state, self.action])
        self.state = following
        self.action = int(self.rng.integers(self.n)) if self.rng.random() < 0.1 else int(self.q[following].argmax())
        return self.action

    def checkpoint(self):
        return json.dumps({"q": self.q.tolist(), "rng": self.rng.bit_generator.state, "mean": self.mean,
                           "state": self.state, "action": self.action}).encode()

    def restore(self, data):
        saved = json.loads(data)
        self.q, self.mean = np.array(saved["q"]), saved["mean"]
        self.state, self.action = saved["state"], saved["action"]
        self.rng.bit_generator.state = saved["rng"]

    def predict(self, plans):
        k, h = plans.shape[:2]
        mode = self.mode
        if mode == "oracle":
            return self.true_future(plans)
        if mode == "constant":
            return np.full((k, h), 10.0)
        if mode == "nan":
            return np.full((k, h), np.nan)
        if mode == "shape":
            return np.zeros((k, h + 1))
        if mode == "raise":
            raise RuntimeError("deliberate failure in predict")
        if mode == "crash":
            os._exit(3)
        if mode == "slow":
            deadline = time.thread_time() + self.cpu
            while time.thread_time() < deadline:
                pass
        return np.full((k, h), self.mean)


class NoPredict(Learner):
    predict = None


def make_agent(observation_space, action_space, seed, mode="mean", cpu=0.0):
    return (NoPredict if mode == "none" else Learner)(action_space, seed, mode, cpu)
