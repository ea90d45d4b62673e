"""Where CNN Lab keeps its files: the home folder (`CNNLAB_HOME`, default `~/.cnnlab`), the
datasets below it in `data/`, and the saved model library in `models/`.

Only paths are worked out here; nothing is created until a caller asks for a folder.
"""

from __future__ import annotations

import os
from pathlib import Path


def cnnlab_home() -> Path:
    """The folder named by CNNLAB_HOME, or ~/.cnnlab when it is unset or empty."""
    value = os.environ.get("CNNLAB_HOME", "").strip()
    return Path(value).expanduser() if value else Path.home() / ".cnnlab"


def data_dir(home: Path | None = None) -> Path:
    return (home or cnnlab_home()) / "data"


def models_dir(home: Path | None = None) -> Path:
    return (home or cnnlab_home()) / "models"


def offline() -> bool:
    """True when CNNLAB_OFFLINE is set to 1/true/yes: use only files already on disk.

    Tests and the browser harness set it so that no loader waits on a network download.
    """
    return os.environ.get("CNNLAB_OFFLINE", "").strip().lower() in ("1", "true", "yes")
