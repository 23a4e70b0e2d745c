"""Reference agents: one file each, speaking only the agent protocol (see leaderboard/protocol.py).

``BOARD`` lists the entries the board shows from day one: a name, the module, and its options.
Frozen twins (``freeze_after=...``) are for the validity checks and never appear on the board.
"""

from __future__ import annotations

#: (board name, module, options) of every baseline entry.
BOARD: tuple[tuple[str, str, dict], ...] = (
    ("random", "baselines.random_agent", {}),
    ("fallback", "baselines.fallback", {}),
    ("sample-average", "baselines.sample_average", {}),
    ("ucb-sliding", "baselines.ucb", {"variant": "sliding"}),
    ("ucb-discounted", "baselines.ucb", {"variant": "discounted"}),
    ("q-learning", "baselines.q_learning", {}),
    ("dyna-q+", "baselines.dyna_q_plus", {}),
    ("sarsa-lambda", "baselines.sarsa_lambda", {}),
    ("mlp-dqn", "baselines.mlp_dqn", {}),
    ("mlp-cbp", "baselines.mlp_dqn", {"variant": "continual_backprop"}),
)

#: The entry that defines the board's compute multiplier.
REFERENCE = "sarsa-lambda"
