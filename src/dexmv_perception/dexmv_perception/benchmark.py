"""How well and how fast perception does on a synthetic recording with ground truth.

One process runs the whole pipeline (recording decode, MediaPipe on both cameras, depth lifting,
fusion, filter, object poses) frame by frame, as `dexmv perceive` does, and compares with the
recording's ground truth:
- hand_mpjpe_mm: mean per-joint position error of the fused, filtered keypoints in `world`, over
  the frames with a hand and the keypoints observed in them (the DexMV paper reports hand pose
  error the same way, as MPJPE in mm); hand_mpjpe_mm_unfiltered: the same before the filter;
  hand_mpjpe_mm_smoothed_offline: the same keypoints smoothed over the whole recording both ways, as
  `dexmv perceive` smooths them, instead of filtered online (not possible live; the command also adds
  MediaPipe's reverse pass, which this benchmark of the live pipeline does not run);
  hand_mpjpe_mm_perceive (with `--perceive`): what `dexmv perceive` itself writes, run after the timed loop;
- hand_mpjpe_mm_per_camera: each camera's own depth-lifted keypoints (before fusion);
- detection_rate: share of frames (moments) with a fused hand;
- object_translation_error_mm / object_rotation_error_deg: mean over frames with an estimate, per
  object and overall (rotation symmetry-aware where the object is symmetric);
- fps: moments (both cameras) per second of the whole loop, models loaded beforehand (the first
  moment's search for the objects counted); decode_fps: the same recording only decoded, measured
  in the same run, so a slow machine shows in both.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dexmv_perception.hand.tracker import HandTrackerConfig


@dataclass(frozen=True)
class BenchSettings:
    hand: HandTrackerConfig = field(default_factory=HandTrackerConfig)
    objects: bool = True
    seed: int = 0
    # also run `dexmv perceive` on the recording after the timed loop: hand_mpjpe_mm_perceive
    perceive: bool = False


def decode_rate(directory: Path, max_frames: int | None = None) -> float:
    """Moments per second of decoding the recording alone (the reference for fps)."""
    from dexmv_perception.rig_recording import iterate_moments, open_rig_recording

    rig = open_rig_recording(directory)
    start, count = time.perf_counter(), 0
    for _ in iterate_moments(rig, max_frames):
        count += 1
    return count / (time.perf_counter() - start)


def perceive_mpjpe(directory: str | Path) -> float | None:
    """Hand MPJPE (mm) of what `dexmv perceive` writes for the recording with its defaults (full model
    with the lite fallback, reverse pass, offline smoothing), hand only: the offline figure, made by
    the command itself rather than estimated from the live loop. Not timed."""
    import argparse
    import tempfile

    from dexmv_capture.synthetic.synthesize import load_ground_truth
    from dexmv_perception.cli.perceive import add_arguments, perceive_recording
    from dexmv_perception.pose_file import load_poses

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    with tempfile.TemporaryDirectory(prefix="dexmv-bench-perceive-") as tmp:
        args = parser.parse_args(["--recording", str(directory), "--out", str(Path(tmp) / "poses.npz"),
                                  "--objects", "--no-progress"])
        path, _ = perceive_recording(args)
        poses = load_poses(path)
    arrays, _ = load_ground_truth(Path(directory) / "ground_truth.npz")
    truth_stamps = arrays["timestamps_ms"] / 1000.0
    nearest = np.abs(truth_stamps[None, :] - np.asarray(poses["stamps"])[:, None]).argmin(axis=1)
    seen = poses["confidence"] > 0
    if not seen.any():
        return None
    error = np.linalg.norm(poses["keypoints"] - arrays["keypoints_world"][nearest], axis=2)[seen]
    return round(float(np.mean(1000.0 * error)), 2)


def _smoothed_mpjpe(stamps: list[float], raw: list[np.ndarray], confidence: list[np.ndarray],
                    truth: list[np.ndarray]) -> float | None:
    """Hand MPJPE (mm) of the keypoints `dexmv perceive` writes: the unfiltered ones smoothed over
    the whole recording both ways (hand/offline_smoothing.py), over the same keypoints as the online figure."""
    from dexmv_perception.hand.offline_smoothing import smooth_keypoints

    if not stamps:
        return None
    conf = np.array(confidence)
    smoothed = smooth_keypoints(np.array(stamps), np.array(raw), conf)
    seen = conf > 0
    if not seen.any():
        return None
    return round(float(np.mean(1000.0 * np.linalg.norm(smoothed - np.array(truth), axis=2)[seen])), 2)


def run_benchmark(directory: str | Path, settings: BenchSettings = BenchSettings(),
                  progress: Callable[[int, int], None] | None = None) -> dict:
    """The benchmark's JSON-ready result for a `dexmv synth` recording folder."""
    from dexmv_capture.synthetic.synthesize import load_ground_truth
    from dexmv_perception.cli.perceive import objects_of_synthetic_recording
    from dexmv_perception.perception import Perception
    from dexmv_perception.rig_recording import READ_AHEAD, iterate_moments, open_rig_recording

    directory = Path(directory)
    arrays, meta = load_ground_truth(directory / "ground_truth.npz")
    rig = open_rig_recording(directory)
    ids, scales = objects_of_synthetic_recording(directory) if settings.objects else ([], {})
    if ids:
        from dexmv_perception.objects import rotation_error_deg  # symmetry-aware
    perception = Perception(rig.cameras, settings.hand, object_ids=ids, object_scales=scales, seed=settings.seed)
    gt_stamps = arrays["timestamps_ms"] / 1000.0
    gt_kp = arrays["keypoints_world"]
    gt_objects = {o["object_id"]: arrays[f"object_pose/{name}"] for name, o in meta.get("objects", {}).items()}
    errors, raw_errors = [], []
    track_stamps, track_raw, track_conf, track_truth = [], [], [], []  # for the offline smoothing's figure
    per_camera: dict[str, list[np.ndarray]] = {c: [] for c in rig.cameras}
    seen_by: dict[str, int] = dict.fromkeys(rig.cameras, 0)
    obj_t: dict[str, list[float]] = {i: [] for i in ids}
    obj_r: dict[str, list[float]] = {i: [] for i in ids}
    frames = detected = 0
    total = int(meta["frames"])
    # the models loaded before the clock starts, as perception_node does before its first frame
    # (0.2 s here: 2 % of a 4 s recording's time)
    perception.warm_up()
    start = time.perf_counter()
    try:
        for stamp, _, result in perception.stream(iterate_moments(rig, read_ahead=READ_AHEAD)):
            t = int(np.argmin(np.abs(gt_stamps - stamp)))
            hand = result.hand
            frames += 1
            if hand.detected:
                detected += 1
                ok = hand.confidence > 0
                errors.append(1000.0 * np.linalg.norm(hand.keypoints[ok] - gt_kp[t][ok], axis=1))
                raw_errors.append(1000.0 * np.linalg.norm(hand.raw[ok] - gt_kp[t][ok], axis=1))
            track_stamps.append(stamp)
            track_raw.append(hand.raw if hand.detected else np.full((21, 3), np.nan))
            track_conf.append(hand.confidence if hand.detected else np.zeros(21))
            track_truth.append(gt_kp[t])
            for cam, seen in hand.cameras.items():
                seen_by[cam] += 1
                d = 1000.0 * np.linalg.norm(seen.points_world - gt_kp[t], axis=1)
                per_camera[cam].append(d[np.isfinite(d)])
            for est in result.objects:
                truth = gt_objects.get(est.object_id)
                if truth is None or est.confidence <= 0:
                    continue
                obj_t[est.object_id].append(1000.0 * float(np.linalg.norm(est.T_world_object[:3, 3] - truth[t][:3, 3])))
                obj_r[est.object_id].append(rotation_error_deg(est.T_world_object[:3, :3], truth[t][:3, :3],
                                                               est.object_id))
            if progress:
                progress(frames, total)
    finally:
        elapsed = time.perf_counter() - start
        perception.close()

    def mean(chunks: list[np.ndarray]) -> float | None:
        return round(float(np.mean(np.concatenate(chunks))), 2) if chunks and sum(map(len, chunks)) else None

    def overall(values: dict[str, list[float]]) -> float | None:
        flat = [v for vs in values.values() for v in vs]
        return round(float(np.mean(flat)), 2) if flat else None

    return {
        "recording": str(directory), "task": meta.get("task"), "seed": meta.get("seed"), "frames": frames,
        "hand_mpjpe_mm": mean(errors),
        "hand_mpjpe_mm_unfiltered": mean(raw_errors),
        "hand_mpjpe_mm_smoothed_offline": _smoothed_mpjpe(track_stamps, track_raw, track_conf, track_truth),
        "hand_mpjpe_mm_per_camera": {c: mean(v) for c, v in per_camera.items()},
        "camera_detection_rate": {c: round(n / max(frames, 1), 4) for c, n in seen_by.items()},
        "detection_rate": round(detected / max(frames, 1), 4),
        "object_translation_error_mm": overall(obj_t),
        "object_rotation_error_deg": overall(obj_r),
        "objects": {i: {"translation_error_mm": overall({i: obj_t[i]}), "rotation_error_deg": overall({i: obj_r[i]}),
                        "frames_with_estimate": len(obj_t[i])} for i in ids},
        "fps": round(frames / elapsed, 2) if elapsed > 0 else None,
        "model_complexity": settings.hand.model_complexity, "crop": settings.hand.crop,
        "notes": perception.notes,
        **({"hand_mpjpe_mm_perceive": perceive_mpjpe(directory)} if settings.perceive else {}),
    }


# the targets perception is held to (synthetic recording, 2 cores), for the summary's counts: errors
# under these, rates at least these
TARGETS = {"hand_mpjpe_mm": 15.0, "object_translation_error_mm": 10.0, "object_rotation_error_deg": 5.0}
AT_LEAST = {"detection_rate": 0.9, "fps": 15.0}


def summarize(results: list[dict]) -> dict:
    """Mean, median, range and the number meeting its target of each figure over the recordings
    that have it (a recording without objects has no object figures)."""
    out: dict = {"recordings": len(results)}
    for key in ("hand_mpjpe_mm", "hand_mpjpe_mm_unfiltered", "hand_mpjpe_mm_smoothed_offline",
                "hand_mpjpe_mm_perceive", "object_translation_error_mm",
                "object_rotation_error_deg", "detection_rate", "fps", "decode_fps"):
        values = np.array([r[key] for r in results if r.get(key) is not None], dtype=float)
        if not len(values):
            continue
        entry = {"mean": round(float(values.mean()), 2), "median": round(float(np.median(values)), 2),
                 "min": round(float(values.min()), 2), "max": round(float(values.max()), 2), "count": len(values)}
        if key in TARGETS:
            entry["under_target"] = int((values < TARGETS[key]).sum())
        if key in AT_LEAST:
            entry["at_least_target"] = int((values >= AT_LEAST[key]).sum())
        out[key] = entry
    return out
