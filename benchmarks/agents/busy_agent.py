"""An agent that only runs a pure-Python loop (``iterations`` additions) per step: CPU work that
touches almost no memory, to tell the meter's accuracy apart from what isolation costs an agent
whose calls touch a lot of memory (numpy)."""


class Busy:
    def __init__(self, action, iterations: int) -> None:
        self.action, self.iterations = action, iterations

    def start(self, observation):
        return self.action

    def step(self, reward, observation, elapsed=1):
        total = 0
        for i in range(self.iterations):
            total += i
        return self.action


def make_agent(observation_space, action_space, seed, iterations=1000):
    return Busy(action_space.low if hasattr(action_space, "low") else 0, iterations)
