"""How often MediaPipe Hands finds the synthetic hand, per task and camera, and how fast we render.

For each task the synthetic recording's colour frames are rendered as `dexmv synth` records them
(the same scene, cameras and intrinsics; depth is not needed here) and go, in order, through
MediaPipe Hands in video (tracking) mode with the full model and default confidences: the way
perception runs on a camera stream. A frame counts as detected when MediaPipe reports a hand, and
as on the hand when the mean distance of its 21 landmarks to the ground-truth keypoints (projected
with the recorded intrinsics) is under ON_HAND_ERROR of the hand's size in the image; so a shadow or
an object taken for a hand does not count as a hit. Frames where the hand is outside the image are
counted as well (in view), since no detector can find those.

The speed of a whole synthetic frame (colour, depth, depth noise: synthesize.render_frame) is
compared with MuJoCo's default render quality (4x multisampling, 4096 px shadow map, the lights
casting shadows) on the same frames, measured in the same run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dexmv_capture.d435 import Intrinsics
from dexmv_capture.extrinsics import CameraExtrinsics
from dexmv_capture.rig import optical_pose

ON_HAND_ERROR = 0.35  # mean landmark error below this share of the hand's image size: the hand was found
IN_VIEW_SHARE = 0.8  # share of the 21 keypoints inside the image for the hand to count as in view


@dataclass(frozen=True)
class CameraResult:
    """Per-frame outcome for one camera of one task."""

    detected: np.ndarray  # (T,) bool: MediaPipe reported a hand
    on_hand: np.ndarray  # (T,) bool: ... and its landmarks lie on the true hand
    in_view: np.ndarray  # (T,) bool: the hand is (mostly) inside the image
    error: np.ndarray  # (T,) mean landmark error / hand size in the image (NaN where nothing was detected)
    detect_s: float  # seconds MediaPipe took for all frames

    def summary(self, phases: np.ndarray, phase_names: tuple[str, ...]) -> dict:
        by_phase = {phase_names[p]: round(float(self.on_hand[phases == p].mean()), 4) for p in np.unique(phases)}
        return {"detection_rate": round(float(self.detected.mean()), 4),
                "on_hand_rate": round(float(self.on_hand.mean()), 4),
                "in_view_rate": round(float(self.in_view.mean()), 4),
                "median_landmark_error": None if not self.detected.any()
                else round(float(np.nanmedian(self.error)), 4),
                "on_hand_rate_by_phase": by_phase,
                "mediapipe_ms_per_frame": round(1000.0 * self.detect_s / len(self.detected), 2)}


@dataclass(frozen=True)
class TaskResult:
    task: str
    seed: int
    frames: int
    grasp_type: str
    cameras: dict[str, CameraResult]
    phases: np.ndarray
    render_s: float  # seconds to pose the scene and render the colour images of all frames and cameras

    def summary(self) -> dict:
        from dexmv_capture.synthetic.hand_motion import PHASES

        return {"task": self.task, "seed": self.seed, "frames": self.frames, "grasp_type": self.grasp_type,
                "color_images_per_s": round(self.frames * len(self.cameras) / self.render_s, 2),
                "cameras": {cam: res.summary(self.phases, PHASES) for cam, res in self.cameras.items()}}


def hand_in_image(pixels: np.ndarray, depth: np.ndarray, intrinsics: Intrinsics) -> tuple[np.ndarray, np.ndarray]:
    """(in view (T,) bool, hand size in pixels (T,)) of keypoints (T, 21, 2) at optical depths (T, 21)."""
    inside = ((depth > 0) & (pixels[..., 0] >= 0) & (pixels[..., 0] < intrinsics.width)
              & (pixels[..., 1] >= 0) & (pixels[..., 1] < intrinsics.height))
    size = np.linalg.norm(pixels.max(axis=1) - pixels.min(axis=1), axis=-1)
    return inside.mean(axis=1) >= IN_VIEW_SHARE, size


def measure_task(task: str, seed: int, seconds: float, fps: float, rig: list[CameraExtrinsics],
                 intrinsics: Intrinsics, model_complexity: int = 1, confidences: tuple[float, float] = (0.5, 0.5),
                 progress: Callable[[int, int], None] | None = None) -> TaskResult:
    """Render `task` from every camera of `rig` and run MediaPipe on each camera's frames in order.

    confidences: MediaPipe's (min_detection_confidence, min_tracking_confidence); 0.5 each is its default.
    """
    from dexmv_capture.hand_detection import HandDetector
    from dexmv_capture.synthetic.hand_motion import task_motion
    from dexmv_capture.synthetic.scene import SyntheticScene

    motion = task_motion(task, seed, seconds, fps)
    poses = {c.camera_name: optical_pose(c) for c in rig}
    scene = SyntheticScene(motion, poses, intrinsics)
    detectors = {cam: HandDetector(model_complexity, *confidences) for cam in poses}
    found = {cam: np.zeros(motion.frames, bool) for cam in poses}
    landmarks = {cam: np.full((motion.frames, 21, 2), np.nan) for cam in poses}
    render_s, detect_s = 0.0, dict.fromkeys(poses, 0.0)
    try:
        for t in range(motion.frames):
            start = time.perf_counter()
            scene.set_frame(t)
            images = {cam: scene.render_color(cam) for cam in poses}
            render_s += time.perf_counter() - start
            for cam, image in images.items():
                start = time.perf_counter()
                det = detectors[cam].detect(image)
                detect_s[cam] += time.perf_counter() - start
                if det.found:
                    found[cam][t] = True
                    landmarks[cam][t] = det.landmarks_px
            if progress:
                progress(t + 1, motion.frames)
    finally:
        scene.close()
        for det in detectors.values():
            det.close()
    results = {}
    for cam, pose in poses.items():
        local = (motion.keypoints - pose[:3, 3]) @ pose[:3, :3]
        pixels = intrinsics.project(local)
        in_view, size = hand_in_image(pixels, local[..., 2], intrinsics)
        error = np.linalg.norm(landmarks[cam] - pixels, axis=-1).mean(axis=1) / np.maximum(size, 1.0)
        on_hand = found[cam] & (error < ON_HAND_ERROR)
        results[cam] = CameraResult(found[cam], on_hand, in_view, error, detect_s[cam])
    return TaskResult(task, seed, motion.frames, motion.grasp_type, results, motion.phase, render_s)


def reference_render_speed(task: str, seed: int, seconds: float, fps: float, rig: list[CameraExtrinsics],
                           intrinsics: Intrinsics, frames: int) -> tuple[float, float]:
    """(ours, MuJoCo default quality) camera frames per second (colour + depth + noise) on the same frames."""
    from dexmv_capture.synthetic.hand_motion import task_motion
    from dexmv_capture.synthetic.scene import SyntheticScene
    from dexmv_capture.synthetic.synthesize import render_frame

    motion = task_motion(task, seed, seconds, fps)
    poses = {c.camera_name: optical_pose(c) for c in rig}
    picks = np.linspace(0, motion.frames - 1, min(frames, motion.frames)).round().astype(int)
    rates = []
    for default_quality in (False, True):
        scene = SyntheticScene(motion, poses, intrinsics)
        if default_quality:
            import mujoco

            defaults = mujoco.MjModel.from_xml_string("<mujoco/>").vis.quality
            scene.model.vis.quality.offsamples = defaults.offsamples
            scene.model.vis.quality.shadowsize = defaults.shadowsize
            scene.model.light_castshadow[:] = 1
        rng = np.random.default_rng(0)
        try:
            render_frame(scene, int(picks[0]), rng)  # contexts and textures are made on first use
            start = time.perf_counter()
            for t in picks:
                render_frame(scene, int(t), rng)
            rates.append(len(picks) * len(poses) / (time.perf_counter() - start))
        finally:
            scene.close()
    return rates[0], rates[1]
