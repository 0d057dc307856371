"""PNG plots of a retargeted trajectory: each task vector human vs robot, the joints, the error over time."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dexmv_retarget.kinematics import AdroitKinematics
from dexmv_retarget.retargeter import FrameStatus, TrajectoryResult
from dexmv_retarget.task_vectors import NUM_TASK_VECTORS, TASK, VECTOR_NAMES, task_vectors


def plot_trajectory(path: str | Path, kin: AdroitKinematics, result: TrajectoryResult, fps: float,
                    title: str = "") -> Path:
    """Write a 4x3 grid: ten panels of a task vector's x/y/z (scaled human dashed, robot solid, mm),
    arm/wrist joints, finger joints; held frames shaded. Returns the path written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.arange(len(result.joints)) / fps
    robot = task_vectors(kin.keypoints(result.joints))[:, TASK] * 1000.0
    human = np.where(result.weights[:, TASK, None] > 0, result.targets[:, TASK] * 1000.0, np.nan)
    held = result.status == FrameStatus.HELD
    fig, axes = plt.subplots(4, 3, figsize=(15, 13), sharex=True)
    colors = ("tab:red", "tab:green", "tab:blue")
    for i in range(NUM_TASK_VECTORS):
        ax = axes.flat[i]
        for c in range(3):
            ax.plot(t, human[:, i, c], "--", color=colors[c], lw=1.0)
            ax.plot(t, robot[:, i, c], "-", color=colors[c], lw=1.0)
        err = np.nanmean(result.vector_error_mm[:, i])
        ax.set_title(f"{VECTOR_NAMES[i]}  (mean error {err:.1f} mm)", fontsize=9)
        ax.set_ylabel("mm")
    ax = axes.flat[NUM_TASK_VECTORS]
    ax.plot(t, result.joints[:, :8], lw=1.0)
    ax.set_title("arm (m, rad) and wrist (rad) joints", fontsize=9)
    ax = axes.flat[NUM_TASK_VECTORS + 1]
    ax.plot(t, result.joints[:, 8:], lw=0.8)
    ax.set_title("finger joints (rad)", fontsize=9)
    for ax in axes.flat:
        if held.any():
            ax.fill_between(t, 0, 1, where=held, transform=ax.get_xaxis_transform(), color="0.85", lw=0)
    for ax in axes[-1]:
        ax.set_xlabel("time (s)")
    axes.flat[0].legend(["human x", "robot x", "human y", "robot y", "human z", "robot z"], fontsize=7, ncol=3)
    fig.suptitle(title or f"retargeting: mean task-vector error {result.tsv_error_mm:.2f} mm, "
                 f"{int(held.sum())} held frames (shaded)")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
