"""About one microsecond of work per call, whatever the world: a counter and a modulo for a
Discrete action, the space's lower bound otherwise. The cheapest agent verify must still trust."""

import numpy as np


class OneMicrosecond:
    def __init__(self, action_space):
        self.n = int(getattr(action_space, "n", 0))
        self.low = None if self.n else np.asarray(action_space.low)
        self.calls = 0

    def start(self, observation):
        return self.step(0.0, observation)

    def step(self, reward, observation, elapsed=1):
        self.calls += 1
        return self.calls % self.n if self.n else self.low


def make_agent(observation_space, action_space, seed):
    return OneMicrosecond(action_space)
