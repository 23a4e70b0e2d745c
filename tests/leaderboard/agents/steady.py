"""Spends a steady 0.3 ms of CPU per call and always takes the fallback action: its results are
the same on every budget, and its CPU per call is steady enough to verify."""

import time


class Steady:
    def start(self, observation):
        return self.step(0.0, observation)

    def step(self, reward, observation, elapsed=1):
        deadline = time.thread_time_ns() + 300_000
        while time.thread_time_ns() < deadline:
            pass
        return 0


def make_agent(observation_space, action_space, seed):
    return Steady()
