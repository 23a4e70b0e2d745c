"""Render one frame of every world into docs/gallery/ (the README's world gallery).

    python scripts/render_gallery.py [--steps 3000] [--seed 0]

Each world runs its oracle for ``--steps`` steps (so the frame shows the world in motion), then
``render_rgb`` is saved as a PNG, scaled up with nearest-neighbour pixels.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ceaseless import worlds

OUT = Path(__file__).resolve().parents[1] / "docs" / "gallery"


def save_png(image: np.ndarray, path: Path, min_size: int = 240) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scale = max(1, int(np.ceil(min_size / min(image.shape[:2]))))
    image = np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)
    plt.imsave(path, image)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    for world_id, world_class in worlds.WORLDS.items():
        world = world_class(num_envs=1)
        world.reset([args.seed])
        for _ in range(args.steps):
            world.step(world.oracle_action())
        path = OUT / f"{world_id.split('/')[-1]}.png"
        save_png(world.render_rgb(0), path)
        print(f"wrote {path.relative_to(OUT.parents[1])}")


if __name__ == "__main__":
    main()
