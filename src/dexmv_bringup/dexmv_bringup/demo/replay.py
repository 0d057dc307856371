"""Demo stage: the recorded human motion as a robot demonstration, replayed in MuJoCo.

What the demonstrations issue will do for every recording, here on the demo's one: retarget the
hand keypoints (batch API), resample the joints from the camera rate to the 100 Hz control rate,
place the simulated objects where the recording has them, compute the actions that reproduce the
motion (inverse dynamics, as DexMV does for GAIL+ and DAPG) and replay them with physics. It uses
the recording's ground-truth keypoints (the kinematic reference beside the human video); the
demos stage converts perception's poses from the bag.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from dexmv_bringup.demo.run_state import DemoRun

GIF_FPS = 20


def resample_joints(joints: np.ndarray, fps: float, dt: float, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Joint trajectory at `fps` -> every `dt` seconds by a cubic spline (smooth accelerations for
    inverse dynamics; linear interpolation would give impulses at every camera frame), clipped to
    the joint limits the spline may overshoot."""
    from scipy.interpolate import CubicSpline

    t_src = np.arange(len(joints)) / fps
    t = np.arange(0.0, t_src[-1] + 1e-9, dt)
    return np.clip(CubicSpline(t_src, joints, axis=0)(t), low, high)


def recorded_placement(task: str, meta: dict, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """Reset options that put the simulated objects (and the relocate target) where the recording had them."""
    from scipy.spatial.transform import Rotation

    options: dict[str, Any] = {}
    for name, info in meta["objects"].items():
        pose = arrays[f"object_pose/{name}"][0]
        quat_wxyz = np.roll(Rotation.from_matrix(pose[:3, :3]).as_quat(), 1)
        short = info["object_id"].split("_", 1)[1]
        if task.startswith("relocate-") and info["moved_by_hand"]:
            options.update(object_pos=pose[:3, 3], object_quat=quat_wxyz)
        elif task == "pour" and short == "mug":
            options["mug_pos"] = pose[:2, 3]
        elif task == "place_inside" and short == "banana":
            options.update(banana_pos=pose[:3, 3], banana_quat=quat_wxyz)
    if task.startswith("relocate-") and meta.get("target") is not None:
        options["target"] = meta["target"]
    return options


def _camera_frames(recording) -> list[np.ndarray]:
    """The colour frames of one camera's recording (RGB uint8)."""
    from dexmv_capture.recording import RecordingReader

    with RecordingReader(recording) as reader:
        return [frame.color for frame in reader]


def stage_replay(run: DemoRun) -> str:
    from dexmv_capture.synthetic.synthesize import load_ground_truth
    from dexmv_retarget import RetargetConfig, Retargeter
    from dexmv_sim.inverse_dynamics import compute_actions, replay, tracking_error
    from dexmv_sim.rendering import SceneRenderer
    from dexmv_sim.scene import CONTROL_DT
    from dexmv_sim.simulation import TaskSimulation
    from dexmv_sim.tasks.base import N_HAND
    from dexmv_sim.video import write_frames

    rec = run.need("recording")
    arrays, meta = load_ground_truth(rec.ground_truth)
    fps = float(meta["fps"])
    retargeted = Retargeter(RetargetConfig(fps=fps)).retarget(arrays["keypoints_world"])
    lines = [f"retargeted {len(retargeted.joints)} frames: task-vector error {retargeted.tsv_error_mm:.1f} mm, "
             f"{retargeted.solve_time_s.mean() * 1000:.2f} ms/frame"]
    graph = run.products.get("graph_joint_targets")
    frame, node_joints = graph if graph is not None else (np.zeros(0, int), None)  # by frame, from their stamps
    same = (frame >= 0) & (frame < len(retargeted.joints))
    if same.any():
        lines.append(f"retarget_node's targets vs this batch run: max difference "
                     f"{np.abs(node_joints[same] - retargeted.joints[frame[same]]).max():.2e} over {same.sum()} "
                     f"frames")

    sim = TaskSimulation(run.task)
    limits = sim.model.jnt_range[:N_HAND]
    q = resample_joints(retargeted.joints, fps, CONTROL_DT, limits[:, 0], limits[:, 1])
    options = recorded_placement(run.task, meta, arrays)
    sim.reset(np.random.default_rng(run.seed), {**options, "hand_qpos": q[0]})
    demo = compute_actions(sim, q)
    renderer = SceneRenderer(sim.model, 480, 360)
    frames: list[np.ndarray] = []
    every = max(1, round(1.0 / (CONTROL_DT * GIF_FPS)))
    # the control steps at the recording's frame times: the robot beside the human, frame by frame
    camera_frames = _camera_frames(rec.recordings[next(iter(rec.recordings))])
    at_frame = {min(round(k / fps / CONTROL_DT), len(q) - 1): k for k in range(len(camera_frames))}
    side = SceneRenderer(sim.model, camera_frames[0].shape[1], camera_frames[0].shape[0]) if camera_frames else None
    pairs: list[np.ndarray] = []
    heights: list[float] = []
    moved = [n for n, info in meta["objects"].items() if info["moved_by_hand"]]
    obj = sim.model.body(meta["objects"][moved[0]]["object_id"]).id if moved else None

    def on_step(t: int) -> None:
        if obj is not None:
            heights.append(float(sim.data.xpos[obj, 2]))
        if t % every == 0:
            frames.append(renderer.rgb(sim.data, "front"))
        if side is not None and t in at_frame:
            pairs.append(np.hstack([camera_frames[at_frame[t]], side.rgb(sim.data, "front")]))

    try:
        achieved = replay(sim, demo.actions, q[0], demo.qvel[0], on_step=on_step)
    finally:
        renderer.close()
        if side is not None:
            side.close()
    err = tracking_error(q, achieved)
    gif = run.out / "replay.gif"
    write_frames(gif, frames, fps=GIF_FPS)
    if pairs:
        write_frames(run.out / "human_vs_robot.mp4", pairs, fps=max(1, round(fps)))
        write_frames(run.out / "human_vs_robot.png", pairs)
    options_json = json.dumps({k: np.asarray(v).tolist() for k, v in options.items()})
    np.savez_compressed(run.out / "demonstration.npz", joints=q, actions=demo.actions, achieved=achieved,
                        reset_options_json=np.array(options_json))
    result = sim.evaluate()
    lines.append(f"{len(q)} control steps at 100 Hz, objects placed as recorded ({', '.join(options) or 'none'}); "
                 f"{demo.clipped:.1%} of action values clipped")
    lines.append(f"replay tracks the retargeted joints within {err['max_m'] * 1000:.1f} mm / {err['max_rad']:.3f} rad "
                 f"(RMS {err['rms_m'] * 1000:.1f} mm / {err['rms_rad']:.3f} rad)")
    if heights:
        lift_cm = (max(heights) - heights[0]) * 100
        lines.append(f"{meta['objects'][moved[0]]['object_id']} lifted up to {lift_cm:.1f} cm")
    lines.append(f"end of replay: success={result.success} score={result.score:.2f}; "
                 f"{gif} ({len(frames)} frames), {run.out / 'demonstration.npz'}")
    if pairs:
        lines.append(f"{run.out / 'human_vs_robot.mp4'}: camera1 beside the robot replay, {len(pairs)} frames")
    return "\n      ".join(lines)
