"""What every benchmark prints beside its figures: the load the machine was under."""

from __future__ import annotations

import os


def load_average() -> str:
    """The 1, 5 and 15-minute load averages and the number of cores, such as
    "0.42, 0.30, 0.25 on 2 cores"; "unknown" where the system does not say."""
    try:
        values = os.getloadavg()
    except OSError:
        return "unknown"
    return ", ".join(f"{value:.2f}" for value in values) + f" on {os.cpu_count()} cores"
