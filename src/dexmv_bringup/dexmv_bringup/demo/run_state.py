"""What one `dexmv demo` run knows: its settings and what earlier stages produced."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class DemoRun:
    out: Path  # every file the demo writes lies under here
    task: str
    seconds: float
    fps: float
    seed: int
    timeout: float  # seconds to wait for any one ROS exchange
    iterations: int = 5  # DAPG iterations
    trajectories: int = 20  # per DAPG iteration
    horizon: int = 200  # control steps per episode (training, evaluation, deployment)
    episodes: int = 10  # evaluation episodes
    rate: float = 0.1  # playback speed of the recording in the graph stage (1: real time)
    max_gap: float = 1.0  # s: longest perception gap the demos stage fills by interpolation
    products: dict[str, Any] = field(default_factory=dict)  # stage outputs by name, for later stages

    def need(self, name: str) -> Any:
        """An earlier stage's product; a clear error when that stage did not run."""
        if name not in self.products:
            raise RuntimeError(f"needs '{name}' from an earlier stage, which did not run")
        return self.products[name]
