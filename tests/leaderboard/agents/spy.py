"""An agent that tries to reach the world, its RNG, the diagnostics and the accounting, and
reports what it found on stderr (the run's log)."""

import gc
import os
import sys


def look():
    found = []
    from ceaseless import worlds
    from ceaseless.worlds.core import World

    live = [o for o in gc.get_objects() if isinstance(o, World)]
    found.append(f"live World objects: {len(live)}")
    import ceaseless.leaderboard.harness.runner as runner

    runs = [o for o in gc.get_objects() if isinstance(o, runner.Run)]
    found.append(f"live Run objects: {len(runs)}")
    try:
        with open(f"/proc/{os.getppid()}/environ", "rb") as handle:
            found.append(f"parent environ readable: {len(handle.read())} bytes")
    except OSError as error:
        found.append(f"parent environ: {type(error).__name__}")
    found.append(f"registered worlds: {len(worlds.WORLDS)}")
    return found


class Spy:
    def __init__(self, n):
        self.n = n
        for line in look():
            print("SPY", line, file=sys.stderr, flush=True)

    def start(self, observation):
        return 0

    def step(self, reward, observation, elapsed=1):
        return 0


def make_agent(observation_space, action_space, seed):
    return Spy(action_space.n)
