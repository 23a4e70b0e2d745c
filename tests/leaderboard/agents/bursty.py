"""Cheap on most calls, then a burst of CPU every ``period`` calls: it keeps up on a generous
budget and falls behind on a tight one. Its actions depend on how many calls it has made, so a
run in which it missed a step has a different transcript from the unlimited run."""

import time


class Bursty:
    def __init__(self, n: int, period: int, burst_us: int) -> None:
        self.n, self.period, self.burst_ns = n, period, burst_us * 1000
        self.calls = 0

    def start(self, observation):
        return self.step(0.0, observation)

    def step(self, reward, observation, elapsed=1):
        self.calls += 1
        if self.calls % self.period == 0:
            deadline = time.thread_time_ns() + self.burst_ns
            while time.thread_time_ns() < deadline:
                pass
        return (self.calls * 7 + int(reward * 10)) % self.n


def make_agent(observation_space, action_space, seed, period=500, burst_us=20_000):
    return Bursty(int(action_space.n), period, burst_us)
