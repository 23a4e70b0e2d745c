"""Streaming deep learners (PyTorch, the ``deep`` extra): stream Q(lambda) and stream AC(lambda).

Elsayed, Vasan & Mahmood 2024, "Streaming Deep Reinforcement Learning Finally Works"
(arXiv:2410.14606, https://github.com/mohmdelsayed/streaming-drl): no replay, no target network,
no batch; one transition, one update with eligibility traces and the overshooting-bounded ObGD
step, on a sparse-initialised LayerNorm MLP with normalised observations and scaled rewards.
``stream-q-l2init`` adds L2 Init (Kumar, Marklund & Van Roy 2023), a pull toward the initial
weights that keeps the network plastic. ``sb3-ppo`` and ``sb3-dqn`` are Stable-Baselines3's PPO and
DQN with their defaults, submitted unchanged through ``run(env)`` (:mod:`.sb3`).

This package imports no torch: ``BOARD`` can be listed without the extra, and the agents' modules
import it when loaded.
"""

from __future__ import annotations

#: (board name, module, options) of the streaming deep entries, in the form of ``ceaseless.baselines.BOARD``.
BOARD: tuple[tuple[str, str, dict], ...] = (
    ("stream-q", "ceaseless.baselines.deep.stream_q", {}),
    ("stream-ac", "ceaseless.baselines.deep.stream_ac", {}),
    ("stream-q-l2init", "ceaseless.baselines.deep.stream_q", {"l2_init": 1e-5}),
    ("sb3-ppo", "ceaseless.baselines.deep.sb3", {"algorithm": "PPO"}),
    ("sb3-dqn", "ceaseless.baselines.deep.sb3", {"algorithm": "DQN"}),
)
