"""Synthetic D435 recordings of a human hand doing a task: the embedded default input of the stack.

Per camera of the rig, a RealSense recording (`<camera>.db3`, written through librealsense's
software device and recorder) of colour and aligned depth (D435 noise and holes, d435.py); plus
`ground_truth.npz` (keypoints in world, per camera in the optical frame and in pixels, wrist poses,
joint angles, object poses, intrinsics, extrinsics, timestamps) and `extrinsics.yaml` (the rig,
the format `extrinsics_publisher` reads). No pickle: the npz holds plain arrays and a JSON string.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dexmv_capture.d435 import D435_COLOR_640x480, Intrinsics, noisy_depth
from dexmv_capture.extrinsics import CameraExtrinsics, check_camera_name, save_extrinsics
from dexmv_capture.recording import RecordingWriter
from dexmv_capture.rig import default_rig, optical_pose

if TYPE_CHECKING:
    from dexmv_capture.synthetic.scene import SyntheticScene

GROUND_TRUTH = "ground_truth.npz"
EXTRINSICS = "extrinsics.yaml"


@dataclass(frozen=True)
class CameraView:
    """What one camera records of one frame."""

    color: np.ndarray  # (H, W, 3) uint8 RGB
    depth_mm: np.ndarray  # (H, W) uint16 depth units (noise and holes, as the D435 delivers it)
    depth_m: np.ndarray  # (H, W) float32 rendered depth in metres (no noise): ground truth


def render_frame(scene: SyntheticScene, t: int, rng: np.random.Generator) -> dict[str, CameraView]:
    """Frame t of the scene's motion from every camera, as the recordings hold it."""
    scene.set_frame(t)
    views = {}
    for cam in scene.camera_names:
        color, depth = scene.render(cam)
        views[cam] = CameraView(color, noisy_depth(depth, rng), depth)
    return views


@dataclass
class SynthResult:
    out_dir: Path
    recordings: dict[str, Path]
    ground_truth: Path
    extrinsics: Path
    frames: int
    detection_rate: dict[str, float] = field(default_factory=dict)


def synthesize(task: str, seconds: float, seed: int, out_dir: str | Path, *, fps: float = 30.0,
               rig: list[CameraExtrinsics] | None = None, intrinsics: Intrinsics = D435_COLOR_640x480,
               detect: bool = False, save_clean_depth: bool = False, pace: bool = True,
               progress: Callable[[int, int], None] | None = None) -> SynthResult:
    """Render `task` from every camera of `rig` (default: the packaged layout) and write the recordings.

    progress(done, total) is called after each rendered frame. With `detect`, MediaPipe Hands runs
    on every colour frame and the share of frames with a hand is returned per camera.
    """
    from dexmv_capture.synthetic.hand_motion import PHASES, task_motion
    from dexmv_capture.synthetic.scene import SyntheticScene

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"{out}: exists and is not a folder")
    rig = rig or default_rig()
    for cam in rig:  # names become file names: none may leave the folder
        check_camera_name(cam.camera_name)
    motion = task_motion(task, seed, seconds, fps)  # checks the task before anything is written
    out.mkdir(parents=True, exist_ok=True)
    poses = {c.camera_name: optical_pose(c) for c in rig}
    scene = SyntheticScene(motion, poses, intrinsics)
    rng = np.random.default_rng([seed, 7])
    colors = {c: np.empty((motion.frames, intrinsics.height, intrinsics.width, 3), np.uint8) for c in poses}
    depths = {c: np.empty((motion.frames, intrinsics.height, intrinsics.width), np.uint16) for c in poses}
    clean = {c: np.empty((motion.frames, intrinsics.height, intrinsics.width), np.float32) for c in poses} \
        if save_clean_depth else {}
    try:
        for t in range(motion.frames):
            for cam, view in render_frame(scene, t, rng).items():
                colors[cam][t] = view.color
                depths[cam][t] = view.depth_mm
                if save_clean_depth:
                    clean[cam][t] = view.depth_m
            if progress:
                progress(t + 1, motion.frames)
    finally:
        scene.close()
    recordings = {cam: out / f"{cam}.db3" for cam in poses}
    for path in recordings.values():
        path.unlink(missing_ok=True)
    writers = [RecordingWriter(recordings[c.camera_name], intrinsics, fps, pace=pace and k == 0,
                               serial_no=str(c.extra.get("serial_no", f"{900000000000 + k + 1}")))
               for k, c in enumerate(rig)]
    try:
        stamps = np.arange(motion.frames) * 1000.0 / fps
        for t in range(motion.frames):
            for writer, cam in zip(writers, poses, strict=True):
                writer.write(colors[cam][t], depths[cam][t], stamps[t])
    finally:
        for writer in writers:
            writer.close()
    # ground truth
    arrays: dict[str, np.ndarray] = {
        "keypoints_world": motion.keypoints, "wrist_pose": motion.wrist_pose, "times": motion.times,
        "timestamps_ms": np.arange(motion.frames) * 1000.0 / fps, "joint_angles": motion.angles.to_vector(),
        "phase": motion.phase,
    }
    for name, track in motion.objects.items():
        arrays[f"object_pose/{name}"] = track.poses
    for cam, pose in poses.items():
        rot, trans = pose[:3, :3], pose[:3, 3]
        local = (motion.keypoints - trans) @ rot
        arrays[f"{cam}/keypoints_camera"] = local
        arrays[f"{cam}/keypoints_pixels"] = intrinsics.project(local)
        arrays[f"{cam}/camera_matrix"] = intrinsics.matrix()
        arrays[f"{cam}/world_from_optical"] = pose
        if save_clean_depth:
            arrays[f"{cam}/clean_depth_m"] = clean[cam]
    extrinsics = [CameraExtrinsics(c.camera_name, c.parent_frame_id, c.child_frame_id, c.translation, c.rotation,
                                   {**c.extra, "serial_no": str(c.extra.get("serial_no", f"{900000000000 + k + 1}"))})
                  for k, c in enumerate(rig)]
    meta = {
        "task": task, "seed": seed, "fps": fps, "frames": motion.frames, "grasp_type": motion.grasp_type,
        "cameras": list(poses), "phases": list(PHASES),
        "objects": {name: {"object_id": tr.object_id, "scale": tr.scale, "moved_by_hand": tr.moved_by_hand}
                    for name, tr in motion.objects.items()},
        "fixtures": motion.fixtures,
        "target": None if motion.target is None else [float(v) for v in motion.target],
        "hand_shape": {"hand_length": motion.shape.hand_length, "hand_breadth": motion.shape.hand_breadth,
                       "scale": motion.shape.scale, "bone_scale": np.asarray(motion.shape.bone_scale).tolist()},
        "intrinsics": {"width": intrinsics.width, "height": intrinsics.height, "fx": intrinsics.fx,
                       "fy": intrinsics.fy, "ppx": intrinsics.ppx, "ppy": intrinsics.ppy},
        "depth_units_m": 0.001,
        "keypoint_order": "0 wrist; 1-4 thumb CMC, MCP, IP, tip; 5-8 index MCP, PIP, DIP, tip; 9-12 middle; "
                          "13-16 ring; 17-20 little",
        "frames_note": "frame k of every recording is ground-truth row k (timestamps_ms)",
    }
    arrays["meta_json"] = np.array(json.dumps(meta))
    gt = out / GROUND_TRUTH
    np.savez_compressed(gt, **arrays)
    ext_path = out / EXTRINSICS
    save_extrinsics(ext_path, extrinsics)
    rates: dict[str, float] = {}
    if detect:
        from dexmv_capture.hand_detection import detection_rate

        for cam in poses:
            rates[cam], _ = detection_rate(colors[cam])
    return SynthResult(out, recordings, gt, ext_path, motion.frames, rates)


def load_ground_truth(path: str | Path) -> tuple[dict[str, np.ndarray], dict]:
    """(arrays, meta) of a ground_truth.npz, without unpickling anything."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files if k != "meta_json"}
        meta = json.loads(str(data["meta_json"]))
    return arrays, meta
