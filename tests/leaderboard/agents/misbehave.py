"""An agent that misbehaves on purpose, as told by its options (for the fault tests)."""

import os
import subprocess
import time


class Misbehaving:
    def __init__(self, action_space, seed, how, at, cpu, patch_time):
        self.n = int(action_space.n)
        self.how, self.at, self.cpu = how, at, cpu
        self.calls = 0
        if patch_time:  # try to fool a meter that lives inside this process
            for name in ("process_time", "thread_time", "perf_counter", "monotonic", "time"):
                setattr(time, name, lambda: 0.0)
            time.clock_gettime = lambda clock: 0.0
            os.times = lambda: os.times_result((0.0, 0.0, 0.0, 0.0, 0.0))

    def _burn(self):
        if self.cpu:
            deadline = time.clock_gettime_ns(time.CLOCK_THREAD_CPUTIME_ID) + int(self.cpu * 1e9)
            x = 0
            while time.clock_gettime_ns(time.CLOCK_THREAD_CPUTIME_ID) < deadline:
                x += 1

    def start(self, observation):
        return self.step(0.0, observation)

    def step(self, reward, observation, elapsed=1):
        self.calls += 1
        self._burn()
        if self.calls == self.at:
            if self.how == "raise":
                raise RuntimeError("deliberate failure")
            if self.how == "crash":
                os._exit(3)
            if self.how == "out_of_range":
                return self.n + 5
            if self.how == "nan":
                return float("nan")
            if self.how == "sleep":
                time.sleep(30)
            if self.how == "child":
                subprocess.Popen(["sleep", "30"])
        return 0


def make_agent(observation_space, action_space, seed, how="none", at=-1, cpu=0.0, patch_time=False):
    return Misbehaving(action_space, seed, how, at, cpu, patch_time)
