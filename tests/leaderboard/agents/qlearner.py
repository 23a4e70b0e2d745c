"""A deterministic tabular Q-learner with checkpoint/restore (exact resume)."""

import io
import json
import zlib

import numpy as np


class QLearner:
    def __init__(self, action_space, seed, step_size=0.1, epsilon=0.1):
        self.n = int(action_space.n)
        self.rng = np.random.default_rng(seed)
        self.q = np.zeros((256, self.n))
        self.step_size, self.epsilon = step_size, epsilon
        self.state, self.action = 0, 0

    def _state(self, observation):
        return zlib.crc32(np.asarray(observation).tobytes()) % 256

    def _act(self, state):
        if self.rng.random() < self.epsilon:
            return int(self.rng.integers(self.n))
        return int(np.argmax(self.q[state]))

    def start(self, observation):
        self.state = self._state(observation)
        self.action = self._act(self.state)
        return self.action

    def step(self, reward, observation, elapsed=1):
        state = self._state(observation)
        target = reward + 0.9 * self.q[state].max()
        self.q[self.state, self.action] += self.step_size * (target - self.q[self.state, self.action])
        self.state, self.action = state, self._act(state)
        return self.action

    def checkpoint(self):
        buffer = io.BytesIO()
        meta = json.dumps({"rng": self.rng.bit_generator.state, "state": self.state, "action": self.action})
        np.savez(buffer, q=self.q, meta=np.array(meta))
        return buffer.getvalue()

    def restore(self, data):
        with np.load(io.BytesIO(data)) as saved:
            self.q = saved["q"].copy()
            meta = json.loads(str(saved["meta"]))
        self.rng.bit_generator.state = meta["rng"]
        self.state, self.action = meta["state"], meta["action"]


def make_agent(observation_space, action_space, seed):
    return QLearner(action_space, seed)
