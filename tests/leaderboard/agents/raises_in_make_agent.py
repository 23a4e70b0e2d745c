def make_agent(observation_space, action_space, seed):
    raise RuntimeError("this agent does not support " + type(action_space).__name__)
