"""PNG plots of a retargeted trajectory: each task vector human vs robot, the joints, the error over time."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dexmv_retarget.kinematics import AdroitKinematics
from dexmv_retarget.retargeter import FrameStatus, TrajectoryResult
from dexmv_retarget.task_vectors import NUM_TASK_VECTORS, TASK, VECTOR_NAMES, task_vectors


def plot_trajectory(path: str | Path, kin: AdroitKinematics, result: TrajectoryResult, fps: float,
                    title: str = "", paper=None) -> Path:
    """Write a 4x3 grid: ten panels of a task vector's x/y/z (scaled human dashed, robot solid, mm),
    arm/wrist joints, finger joints; held frames shaded. Returns the path written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.arange(len(result.joints)) / fps
    robot = task_vectors(kin.keypoints(result.joints))[:, TASK] * 1000.0
    human = np.where(result.weights[:, TASK, None] > 0, result.targets[:, TASK] * 1000.0, np.nan)
    held = (result.status == FrameStatus.HELD) | (result.status == FrameStatus.REJECTED)
    fig, axes = plt.subplots(4, 3, figsize=(15, 13), sharex=True)
    colors = ("tab:red", "tab:green", "tab:blue")
    for i in range(NUM_TASK_VECTORS):
        ax = axes.flat[i]
        for c in range(3):
            ax.plot(t, human[:, i, c], "--", color=colors[c], lw=1.0)
            ax.plot(t, robot[:, i, c], "-", color=colors[c], lw=1.0)
        column = paper.errors_mm[:, i] if paper is not None else result.vector_error_mm[:, i]
        err = np.nanmean(column) if np.isfinite(column).any() else float("nan")
        ax.set_title(f"{VECTOR_NAMES[i]}  (mean error {err:.1f} mm)", fontsize=9)
        ax.set_ylabel("mm")
    ax = axes.flat[NUM_TASK_VECTORS]
    ax.plot(t, result.joints[:, :8], lw=1.0)
    ax.set_title("arm (m, rad) and wrist (rad) joints", fontsize=9)
    ax = axes.flat[NUM_TASK_VECTORS + 1]
    from dexmv_sim.adroit import ADROIT_JOINTS

    styles = ("-", "--", ":", "-.", (0, (1, 3)))
    for finger, prefix, color in zip(("thumb", "index", "middle", "ring", "little"), ("TH", "FF", "MF", "RF", "LF"),
                                     ("tab:red", "tab:orange", "tab:green", "tab:blue", "tab:purple"), strict=True):
        columns = [j for j, name in enumerate(ADROIT_JOINTS) if name.startswith(prefix)]
        for k, j in enumerate(columns):
            ax.plot(t, result.joints[:, j], linestyle=styles[k % len(styles)], color=color, lw=0.9,
                    label=finger if k == 0 else None)
    ax.legend(fontsize=7, ncol=5, title="colour: finger; style: joint (J4/J3 ... J0)", title_fontsize=7)
    ax.set_title("finger joints (rad)", fontsize=9)
    for ax in axes.flat:
        if held.any():
            ax.fill_between(t, 0, 1, where=held, transform=ax.get_xaxis_transform(), color="0.85", lw=0)
    for ax in axes[-1]:
        ax.set_xlabel("time (s)")
    axes.flat[0].legend(["human x", "robot x", "human y", "robot y", "human z", "robot z"], fontsize=7, ncol=3)
    headline = paper.tsv_error_mm if paper is not None else result.tsv_error_mm
    fig.suptitle(title or f"retargeting: DexMV task-vector error {headline:.2f} mm (ten wrist->tip/PIP vectors, "
                 f"one scale), {int(held.sum())} held or rejected frames (shaded)")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
