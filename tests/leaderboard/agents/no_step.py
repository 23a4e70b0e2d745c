class Half:
    def start(self, observation):
        return 0


def make_agent(observation_space, action_space, seed):
    return Half()
