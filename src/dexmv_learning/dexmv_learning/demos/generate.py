"""Convert many human trajectories of one task into one dataset, with the summary users read.

Used by `dexmv demos` and `dexmv bench demos`. The summary says which source each demonstration
came from (perception, ground truth, bag), which were dropped and why, the tracking error of the
physical replay, and replay success without refinement (the paper's kinematic demonstrations)
and with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from dexmv_learning.demos.conversion import ConversionConfig, ConversionResult, convert
from dexmv_learning.demos.trajectory import HumanTrajectory


def convert_all(task_id: str, trajectories: Iterable[HumanTrajectory], config: ConversionConfig, *, seed: int = 0,
                progress: Callable[[], None] | None = None) -> list[ConversionResult]:
    from dexmv_sim.simulation import TaskSimulation

    sim = TaskSimulation(task_id)
    results = []
    for k, traj in enumerate(trajectories):
        results.append(convert(traj, task_id, config, seed=seed + k, sim=sim))
        if progress:
            progress()
    return results


def summarize(task_id: str, results: list[ConversionResult], config: ConversionConfig) -> dict[str, Any]:
    kept = [r for r in results if r.demonstration is not None]

    def mean(key: str, part: str) -> float | None:
        values = [r.metrics[part][key] for r in kept if part in r.metrics]
        return None if not values else round(float(np.mean(values)), 4)

    summary: dict[str, Any] = {
        "task": task_id, "refine": config.refine, "fit_horizon": config.fit_horizon, "hand_start": config.hand_start,
        "time_factors": [r.metrics["time_fit"]["factor"] for r in kept if "time_fit" in r.metrics],
        "kept": len(kept), "dropped": len(results) - len(kept),
        "dropped_reasons": [{"source": r.source.get("path"), "reason": r.dropped} for r in results if r.dropped],
        "sources": sorted({r.source.get("source", "?") for r in results}),
        "kinematic_replay_success": mean("success", "kinematic"),
        "kinematic_replay_score": mean("score", "kinematic"),
        "kinematic_tracking_rms_mm": mean("tracking_rms_mm", "kinematic"),
        "kinematic_tracking_rms_rad": mean("tracking_rms_rad", "kinematic"),
        "per_demo": [{"source": r.source.get("path"), "from": r.source.get("source"), **r.metrics} for r in kept],
    }
    if config.refine != "none":
        refined = [r.metrics["refined"] for r in kept if "refined" in r.metrics]
        summary.update(robot_grasps=sum(m.get("grasp") == "robot" for m in refined),
                       refined_palm_deviation_rms_mm=mean("palm_deviation_rms_mm", "refined"),
                       refined_replay_success=mean("success", "refined"), refined_replay_score=mean("score", "refined"),
                       refined_tracking_rms_mm=mean("tracking_rms_mm", "refined"),
                       refined_tracking_rms_rad=mean("tracking_rms_rad", "refined"))
    return summary


def summary_lines(summary: dict[str, Any]) -> list[str]:
    lines = [f"{summary['task']}: {summary['kept']} demos kept, {summary['dropped']} dropped "
             f"(source: {', '.join(summary['sources'])})"]
    for d in summary["dropped_reasons"]:
        lines.append(f"  dropped {d['source']}: {d['reason']}")
    if summary["kept"] and summary.get("time_factors"):
        f = summary["time_factors"]
        lines.append(f"  fitted to {summary['fit_horizon']} steps: human motion sped up x{min(f):.2f}-{max(f):.2f}, "
                     f"hand start: {summary['hand_start']}")
    if summary["kept"]:
        judged = f" at step {summary['fit_horizon']}" if summary.get("fit_horizon") else " at the end"
        lines.append(f"  replay without refinement: success{judged} {summary['kinematic_replay_success']:.2f}, score "
                     f"{summary['kinematic_replay_score']:.2f}, tracking RMS {summary['kinematic_tracking_rms_mm']:.1f}"
                     f" mm / {summary['kinematic_tracking_rms_rad']:.3f} rad")
        if "refined_replay_success" in summary:
            lines.append(f"  replay with refinement ({summary['refine']}): success{judged} "
                         f"{summary['refined_replay_success']:.2f}, score {summary['refined_replay_score']:.2f}, "
                         f"tracking RMS {summary['refined_tracking_rms_mm']:.1f} mm / "
                         f"{summary['refined_tracking_rms_rad']:.3f} rad; {summary['robot_grasps']} of "
                         f"{summary['kept']} by the robot grasp, palm "
                         f"{summary['refined_palm_deviation_rms_mm']:.0f} mm RMS from the human's")
    return lines


def write_results(out: Path, task_id: str, results: list[ConversionResult], config: ConversionConfig, *,
                  state_only: bool = False, overwrite: bool = False) -> dict[str, Any]:
    import json

    from dexmv_learning.demos.dataset import DatasetError, write_demonstrations

    summary = summarize(task_id, results, config)
    demos = [r.demonstration for r in results if r.demonstration is not None]
    if not demos:
        raise DatasetError(f"{task_id}: every demonstration was dropped; nothing written to {out}")
    write_demonstrations(out, task_id, demos, summary=summary, overwrite=overwrite)
    if state_only:
        write_demonstrations(Path(f"{out}-state-only"), task_id, demos, state_only=True, summary=summary,
                             dataset_name="human-state-only", overwrite=overwrite)
    (Path(out) / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary
