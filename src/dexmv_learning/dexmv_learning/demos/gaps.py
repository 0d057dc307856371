"""Perception gaps: short ones are interpolated, long ones make a demonstration unusable.

A hand frame is missing when its wrist or a palm keypoint (0, 5, 9, 13, 17) is missing or below
the confidence threshold: retargeting cannot place the palm there. An object frame is missing when
its pose is NaN or below the threshold, or when it jumps away from the track and back faster than
a hand carries an object (a registration that locked onto the hand or arm for a frame or a few:
the confidence of such a fit can be as high as a good one's). Gaps up to `max_gap_s` between good frames are filled
(keypoints and object positions linearly, object orientations by slerp), missing frames at the
start or end are cut off when they are short, and anything longer is reported, not invented.
Single finger keypoints that stay missing are left to the retargeter (it holds that finger).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from dexmv_learning.demos.trajectory import HumanTrajectory

PALM = (0, 5, 9, 13, 17)
# a gap of exactly --max-gap is "up to" it: 9 intervals of 1/30 s sum to 0.30000000000000004
STAMP_TOLERANCE_S = 1e-6
MAX_OBJECT_SPEED_M_S = 2.0  # a hand carrying an object in these tasks peaks near 1 m/s


@dataclass
class RepairReport:
    filled_hand_frames: int = 0
    filled_object_frames: int = 0
    trimmed_frames: int = 0
    longest_gap_s: float = 0.0
    rejected_object_frames: int = 0  # confident poses that jumped off the track and back
    reason: str = ""  # why the trajectory is unusable; empty when it is usable


def _longer_than(length: float, limit: float) -> bool:
    """Whether a span is over `limit`; one of exactly `limit` (within float error of summed stamps) is not."""
    return length > limit + STAMP_TOLERANCE_S


def _runs(bad: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) index runs where `bad` is True."""
    padded = np.concatenate([[False], bad, [False]]).astype(int)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def _slerp_fill(quat: np.ndarray, good: np.ndarray, stamps: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation, Slerp

    idx = np.flatnonzero(good)
    slerp = Slerp(stamps[idx], Rotation.from_quat(quat[idx]))
    out = quat.copy()
    bad = ~good
    t = np.clip(stamps[bad], stamps[idx[0]], stamps[idx[-1]])
    out[bad] = slerp(t).as_quat()
    return out


def track_outliers(positions: np.ndarray, good: np.ndarray, stamps: np.ndarray, *,
                   max_speed: float = MAX_OBJECT_SPEED_M_S, max_run_s: float = 0.3) -> np.ndarray:
    """Frames of `good` that leave the track and come back: a run of good frames entered and left by a
    jump faster than `max_speed`, at most `max_run_s` long, whose two neighbours agree with each other
    (the object could have gone from one to the other). A real fast motion does not come back."""
    idx = np.flatnonzero(good)
    out = np.zeros(len(good), dtype=bool)
    if idx.size < 3:
        return out
    p, t = positions[idx], stamps[idx]

    def speed(a: int, b: int) -> float:
        return float(np.linalg.norm(p[b] - p[a]) / max(t[b] - t[a], 1e-6))

    jumps = [i for i in range(len(idx) - 1) if speed(i, i + 1) > max_speed]  # between idx[i] and idx[i+1]
    used = -1
    for a_pos, a in enumerate(jumps):
        if a <= used:
            continue
        for b in jumps[a_pos + 1:]:
            if _longer_than(t[b] - t[a + 1], max_run_s):
                break
            if speed(a, b + 1) <= max_speed:
                out[idx[a + 1:b + 1]] = True
                used = b
                break
    return out


def repair_gaps(traj: HumanTrajectory, object_ids: list[str], *, max_gap_s: float = 0.3,
                min_confidence: float = 0.3) -> tuple[HumanTrajectory, RepairReport]:
    """A copy of `traj` with short gaps of the hand and of `object_ids` filled (see module docstring)."""
    report = RepairReport()
    kp = traj.keypoints.copy()
    conf = traj.confidence.copy()
    stamps = traj.stamps
    valid_kp = np.isfinite(kp).all(axis=-1) & (conf >= min_confidence)
    hand_bad = ~valid_kp[:, PALM].all(axis=1)
    obj_cols = [traj.object_index(o) for o in object_ids]
    poses = traj.object_poses.copy()
    obj_bad = {k: ~(np.isfinite(poses[:, k]).all(axis=1) & (traj.object_confidence[:, k] >= min_confidence))
               for k in obj_cols}
    for k, bad in obj_bad.items():
        jumped = track_outliers(poses[:, k, :3], ~bad, stamps, max_run_s=max_gap_s)
        report.rejected_object_frames += int(jumped.sum())
        bad |= jumped
    any_bad = hand_bad.copy()
    for bad in obj_bad.values():
        any_bad |= bad
    if any_bad.all():
        report.reason = "no frame has both the hand and the object(s)"
        return traj, report
    # cut short missing stretches at either end
    first, last = np.flatnonzero(~any_bad)[[0, -1]]
    head, tail = stamps[first] - stamps[0], stamps[-1] - stamps[last]
    why = {"hand": f"wrist or a knuckle not perceived or below confidence {min_confidence:g}"}
    why.update({traj.object_ids[k]: f"not perceived, below confidence {min_confidence:g} or off its track"
                for k in obj_cols})
    for where, length, part in (("start", head, slice(0, first)), ("end", tail, slice(last + 1, None))):
        if _longer_than(length, max_gap_s):
            channels = [("hand", hand_bad), *((traj.object_ids[k], v) for k, v in obj_bad.items())]
            missing = [label for label, bad in channels if bad[part].any()]
            what = " and ".join(missing) or "hand or object"
            report.reason = f"{what} missing for the {'first' if where == 'start' else 'last'} {length:.2f} s " \
                            f"({'; '.join(why[m] for m in missing if m in why)}; more than --max-gap {max_gap_s:g} s)"
            return traj, report
    sl = slice(first, last + 1)
    report.trimmed_frames = int(first + len(stamps) - 1 - last)
    kp, conf, stamps, poses = kp[sl], conf[sl], stamps[sl], poses[sl]
    valid_kp, hand_bad = valid_kp[sl], hand_bad[sl]
    obj_bad = {k: v[sl] for k, v in obj_bad.items()}
    for label, bad in [("hand", hand_bad), *((traj.object_ids[k], v) for k, v in obj_bad.items())]:
        for a, b in _runs(bad):
            inner = a > 0 and b < len(stamps)
            length = stamps[b] - stamps[a - 1] if inner else stamps[min(b, len(stamps) - 1)] - stamps[a]
            report.longest_gap_s = max(report.longest_gap_s, float(length))
            if _longer_than(length, max_gap_s):
                report.reason = f"{label} missing for {length:.2f} s at t={stamps[a] - stamps[0]:.2f} s " \
                                f"({why[label]}; more than --max-gap {max_gap_s:g} s)"
                return traj, report
    # fill every keypoint channel's interior gaps (short ones; long finger gaps stay missing)
    for j in range(21):
        bad = ~valid_kp[:, j]
        if not bad.any() or bad.all():
            continue
        for a, b in _runs(bad):
            if a == 0 or b == len(stamps) or _longer_than(stamps[b] - stamps[a - 1], max_gap_s):
                continue
            w = (stamps[a:b] - stamps[a - 1]) / (stamps[b] - stamps[a - 1])
            kp[a:b, j] = (1 - w)[:, None] * kp[a - 1, j] + w[:, None] * kp[b, j]
            conf[a:b, j] = max(min_confidence, 0.5)
    report.filled_hand_frames = int(hand_bad.sum())
    for k, bad in obj_bad.items():
        if not bad.any():
            continue
        good = ~bad
        for c in range(3):
            poses[bad, k, c] = np.interp(stamps[bad], stamps[good], poses[good, k, c])
        poses[:, k, 3:] = _slerp_fill(poses[:, k, 3:], good, stamps)
        report.filled_object_frames += int(bad.sum())
    oconf = traj.object_confidence[sl].copy()
    for k, bad in obj_bad.items():
        oconf[bad, k] = max(min_confidence, 0.5)
    fixed = replace(traj, keypoints=kp, confidence=conf, stamps=stamps, object_poses=poses, object_confidence=oconf)
    return fixed, report
