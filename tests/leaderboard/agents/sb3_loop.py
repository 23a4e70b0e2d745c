"""A Stable-Baselines3 learner submitted unchanged: run(env) hands the world to SB3's learn.

``algorithm`` picks PPO, DQN or SAC with SB3's defaults, shortened where the defaults wait longer
than a test's stream (PPO's rollout, DQN's and SAC's learning start). The imports are at the top:
that is start-up, paid from the start credit, not from the first step's budget."""

import stable_baselines3
import torch

torch.set_num_threads(1)


def run(env, algorithm="PPO"):
    settings = {"PPO": {"n_steps": 256, "batch_size": 64, "n_epochs": 2},
                "DQN": {"learning_starts": 200, "train_freq": 4},
                "SAC": {"learning_starts": 200, "train_freq": 8, "gradient_steps": 1}}[algorithm]
    model = getattr(stable_baselines3, algorithm)("MlpPolicy", env, seed=env.agent_seed, device="cpu", verbose=0,
                                                 **settings)
    model.learn(total_timesteps=10**9)  # the stream ends first, with StreamEnd
