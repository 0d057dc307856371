"""Robot demonstrations: the Minari dataset format (dataset.py), the human-to-robot conversion
(pipeline.py and its stages), small scripted demonstrations for tests (synthetic.py) and where
demonstrations live by default (`default_location`, shared with `dexmv train`).
"""

from __future__ import annotations

import os
from pathlib import Path

DEMOS_DIR_ENV = "DEXMV_DEMOS_DIR"
DEFAULT_DEMOS_DIR = Path("data") / "demos"


def default_location(task_id: str) -> Path:
    """Where `dexmv demos --default` writes a task's demonstrations and `dexmv train` looks for them:
    `$DEXMV_DEMOS_DIR/<task_id>` when the variable is set, else `data/demos/<task_id>` under the
    current working directory."""
    root = os.environ.get(DEMOS_DIR_ENV)
    return (Path(root) if root else DEFAULT_DEMOS_DIR) / task_id
