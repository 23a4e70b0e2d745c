"""Shared test settings.

Long checks carry ``@pytest.mark.slow`` and read their size from :func:`scaled`: CI runs them
at the small size; ``CEASELESS_FULL=1 pytest`` runs them at full size.
"""

from __future__ import annotations

import os

FULL = os.environ.get("CEASELESS_FULL", "") not in ("", "0")


def scaled(full: int, ci: int) -> int:
    """The size of a slow check: ``full`` under CEASELESS_FULL=1, else ``ci``."""
    return full if FULL else ci
