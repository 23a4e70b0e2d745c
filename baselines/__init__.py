"""Reference agents: one file each, speaking only the agent protocol (see leaderboard/harness/protocol.py).

``BOARD`` lists the entries the board shows from day one: a name, the module, and its options.
Frozen twins (``freeze_after=...``) are for the validity checks and never appear on the board.
"""

from __future__ import annotations

#: (board name, module, options) of every baseline entry.
BOARD: tuple[tuple[str, str, dict], ...] = (
    ("random", "ceaseless.baselines.random_agent", {}),
    ("fallback", "ceaseless.baselines.fallback", {}),
    ("sample-average", "ceaseless.baselines.sample_average", {}),
    ("ucb-sliding", "ceaseless.baselines.ucb", {"variant": "sliding"}),
    ("ucb-discounted", "ceaseless.baselines.ucb", {"variant": "discounted"}),
    ("q-learning", "ceaseless.baselines.q_learning", {}),
    ("dyna-q+", "ceaseless.baselines.dyna_q_plus", {}),
    ("sarsa-lambda", "ceaseless.baselines.sarsa_lambda", {}),
    ("mlp-dqn", "ceaseless.baselines.mlp_dqn", {}),
    ("mlp-cbp", "ceaseless.baselines.mlp_dqn", {"variant": "continual_backprop"}),
)

#: The entry that defines the board's compute multiplier.
REFERENCE = "sarsa-lambda"
