def make_agents(observation_space, action_space, seed):
    return None
