"""Perception gaps: short ones are interpolated, held ones are carried, long ones make a demonstration unusable.

A hand frame is missing when its wrist or a palm keypoint (0, 5, 9, 13, 17) is missing or below
the confidence threshold: retargeting cannot place the palm there. An object frame is missing when
its pose is NaN or below the threshold, or when it jumps away from the track and back faster than
a hand carries an object (a registration that locked onto the hand or arm for a frame or a few:
the confidence of such a fit can be as high as a good one's). Gaps up to `max_gap_s` between good frames are filled
(keypoints and object positions linearly, object orientations by slerp), missing frames at the
start or end are cut off when they are short, or when only the hand is missing there and every
object stands still (the hand not yet in view, or gone after putting the object down: a real
recording starts and ends so), and anything longer is reported, not invented.
Single finger keypoints that stay missing are left to the retargeter (it holds that finger).

Held gaps: a grasp is where perception loses things (the hand hides the object, the object hides
the hand), and there a longer gap of one of them, up to `max_held_gap_s`, is not a guess: while
the hand holds the object they move as one rigid body. A gap of the hand (or of the object) is
carried by the other's motion when the other is seen throughout and, at both ends of the gap, the
hand holds the object: its palm within `HOLD_REACH_M` of the object and the palm's centre in the
object's frame the same at both ends (within `HOLD_TOLERANCE_M`; a hand approaching, or one that
let go and grasped elsewhere, is not). Each missing frame is the rigid motion of the seen one since
either end applied to what it carried there, the two blended across the gap. `AXIAL_OBJECTS`, whose
turn about their own axis perception does not follow while a hand holds them, also hold where the
palm is in the same place on the object moved from the gap's start by its axis's motion alone (the
least rotation between the two axes), and a hand is carried by that motion, not by the perceived
turn. An object's gap up to
`max_held_gap_s` across which it stood still (the same pose at both ends, `STILL_M`, `STILL_RAD`;
e.g. hidden by the hand reaching for it) is interpolated: a hand that moved it would not have put
it back to the centimetre within a second. Likewise a hand's gap up to `max_held_gap_s` across
which the object, seen throughout, stood still (a hand hidden by the object it reaches for, as it
closes on it) is interpolated: the hand moved nothing then, so what is lost is the shape of a free
approach, which a robot grasp plans anew (measured on perceived recordings: straight lines across
0.33-0.43 s approach gaps are 28-44 mm from the truth at the palm, the perceived low-confidence
frames they replace 19-70 mm). Gaps at the start or end have one end only and are never carried.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from dexmv_learning.demos.axis_swing import swing
from dexmv_learning.demos.trajectory import HumanTrajectory

PALM = (0, 5, 9, 13, 17)
# a gap of exactly --max-gap is "up to" it: 9 intervals of 1/30 s sum to 0.30000000000000004
STAMP_TOLERANCE_S = 1e-6
MAX_OBJECT_SPEED_M_S = 2.0  # a hand carrying an object in these tasks peaks near 1 m/s
MAX_HELD_GAP_S = 1.0  # default --max-held-gap
HOLD_REACH_M = 0.15  # the palm's centre this near the object's origin (the objects are up to 0.2 m long)
# the palm's centre in the object's frame moves less than this between the two ends of a held gap
# (through perception, holds: 0.7-3.1 cm, hands approaching the object: 8-19 cm)
HOLD_TOLERANCE_M = 0.04
STILL_M, STILL_RAD = 0.01, np.radians(10.0)  # an object this close to its pose at both ends stood still
# objects whose turn about their model z axis perception does not follow while held: the can's shape
# has none (dexmv_perception.objects.symmetry), and a held mug's one cue, its handle, is in the
# fingers (perceived pours, seeds 0-4 and 100-104: its axis within 3-7 degrees of the truth on
# average, its turn about it 25-64 degrees off, jumping by up to 180 degrees in the tilt)
AXIAL_OBJECTS = frozenset({"005_tomato_soup_can", "025_mug"})


@dataclass
class RepairReport:
    filled_hand_frames: int = 0
    filled_object_frames: int = 0
    trimmed_frames: int = 0
    longest_gap_s: float = 0.0
    rejected_object_frames: int = 0  # confident poses that jumped off the track and back
    carried_frames: int = 0  # frames of held gaps carried with the other's motion
    still_frames: int = 0  # frames of an object's long gaps filled because it stood still across them
    approach_frames: int = 0  # frames of the hand's long gaps filled because the object stood still across them
    idle_trimmed_s: float = 0.0  # s cut at the start or end where only the hand was missing and nothing moved
    reason: str = ""  # why the trajectory is unusable; empty when it is usable


def _longer_than(length: float, limit: float) -> bool:
    """Whether a span is over `limit`; one of exactly `limit` (within float error of summed stamps) is not."""
    return length > limit + STAMP_TOLERANCE_S


def _runs(bad: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) index runs where `bad` is True."""
    padded = np.concatenate([[False], bad, [False]]).astype(int)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def _interpolated_track(poses: np.ndarray, good: np.ndarray, stamps: np.ndarray) -> np.ndarray:
    """An object's poses (N, 7: xyz + quaternion xyzw) with the frames not `good` interpolated from
    the good ones (positions linearly, orientations by slerp; held beyond the first and last)."""
    from scipy.spatial.transform import Rotation, Slerp

    out = poses.copy()
    bad = ~good
    if not bad.any():
        return out
    idx = np.flatnonzero(good)
    for c in range(3):
        out[bad, c] = np.interp(stamps[bad], stamps[idx], poses[idx, c])
    slerp = Slerp(stamps[idx], Rotation.from_quat(poses[idx, 3:]))
    out[bad, 3:] = slerp(np.clip(stamps[bad], stamps[idx[0]], stamps[idx[-1]])).as_quat()
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


def _pose_matrix(pose7: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from scipy.spatial.transform import Rotation

    return Rotation.from_quat(pose7[3:]).as_matrix(), pose7[:3]


def holds(palm_a: np.ndarray, pose_a: np.ndarray, palm_b: np.ndarray, pose_b: np.ndarray,
          object_id: str = "") -> bool:
    """Whether a hand (its palm keypoints, (5, 3)) holds an object (xyz + quaternion xyzw) at two
    moments: near it at both, and in the same place on it (see the module docstring; for
    AXIAL_OBJECTS also: in the same place on the object turned from the first moment by its axis's
    motion alone); not when a pose or the palm is unknown."""
    if not all(np.isfinite(x).all() for x in (palm_a, pose_a, palm_b, pose_b)):
        return False
    ra, ta = _pose_matrix(pose_a)
    rb, tb = _pose_matrix(pose_b)
    centre_a, centre_b = palm_a.mean(axis=0), palm_b.mean(axis=0)
    if max(np.linalg.norm(centre_a - ta), np.linalg.norm(centre_b - tb)) > HOLD_REACH_M:
        return False
    in_a = (centre_a - ta) @ ra  # the palm in the object's frame
    frames = [rb, swing(ra[:, 2], rb[:, 2]).as_matrix() @ ra] if object_id in AXIAL_OBJECTS else [rb]
    return any(float(np.linalg.norm(in_a - (centre_b - tb) @ r)) <= HOLD_TOLERANCE_M for r in frames)


def stood_still(pose_a: np.ndarray, pose_b: np.ndarray, object_id: str = "") -> bool:
    """Whether an object's poses at two moments are the same (within STILL_M, STILL_RAD), up to the
    shape symmetries of `object_id`: perception's pose of a can may turn about its axis, or a box's by
    a half turn, while the object itself stands still (tracks hidden by a reaching hand do)."""
    from dexmv_perception.objects.symmetry import rotation_error_deg

    ra, ta = _pose_matrix(pose_a)
    rb, tb = _pose_matrix(pose_b)
    angle = np.radians(rotation_error_deg(rb, ra, object_id))
    return bool(np.linalg.norm(ta - tb) <= STILL_M and angle <= STILL_RAD)


def _carry_hand(kp: np.ndarray, poses: np.ndarray, stamps: np.ndarray, a: int, b: int, fill: np.ndarray,
                axial: bool = False) -> None:
    """Keypoints of frames [a, b) where `fill` (b - a, 21) carried with the object from frames a - 1 and b;
    `axial`: with the motion of the object's axis only (each end's frame turned by the least rotation
    that takes its axis to the axis now), not its perceived turn about it."""
    ends = [_pose_matrix(poses[end]) for end in (a - 1, b)]
    on_object = [(kp[end] - t_end) @ r_end for end, (r_end, t_end) in zip((a - 1, b), ends, strict=True)]
    for f in range(a, b):
        w = (stamps[f] - stamps[a - 1]) / (stamps[b] - stamps[a - 1])
        r_now, t_now = _pose_matrix(poses[f])
        frames = [swing(r_end[:, 2], r_now[:, 2]).as_matrix() @ r_end if axial else r_now for r_end, _ in ends]
        out = (1.0 - w) * (on_object[0] @ frames[0].T) + w * (on_object[1] @ frames[1].T) + t_now
        kp[f, fill[f - a]] = out[fill[f - a]]


def _carry_object(poses: np.ndarray, kp: np.ndarray, stamps: np.ndarray, a: int, b: int) -> None:
    """Object poses of frames [a, b) carried with the palm from frames a - 1 and b (positions blended,
    orientations slerped)."""
    from scipy.spatial.transform import Rotation, Slerp

    from dexmv_retarget.palm_frame import fit_rotation

    palm = list(PALM)
    ends = [(kp[end, palm], *_pose_matrix(poses[end])) for end in (a - 1, b)]
    for f in range(a, b):
        w = (stamps[f] - stamps[a - 1]) / (stamps[b] - stamps[a - 1])
        now = kp[f, palm]
        rots, places = [], []
        for then, r_end, t_end in ends:  # the palm's rigid motion since that end, applied to the object there
            rot = fit_rotation(then - then.mean(axis=0), now - now.mean(axis=0))
            rots.append(rot @ r_end)
            places.append(rot @ (t_end - then.mean(axis=0)) + now.mean(axis=0))
        pair = Slerp([0.0, 1.0], Rotation.from_matrix(np.stack(rots)))
        poses[f, :3] = (1.0 - w) * places[0] + w * places[1]
        poses[f, 3:] = pair([w]).as_quat()[0]


def repair_gaps(traj: HumanTrajectory, object_ids: list[str], *, max_gap_s: float = 0.3,
                max_held_gap_s: float = MAX_HELD_GAP_S,
                min_confidence: float = 0.3) -> tuple[HumanTrajectory, RepairReport]:
    """A copy of `traj` with short gaps of the hand and of `object_ids` filled and held gaps carried
    (see module docstring); a `max_held_gap_s` under `max_gap_s` counts as `max_gap_s`."""
    max_held_gap_s = max(max_held_gap_s, max_gap_s)
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
            span = (0, first + 1) if where == "start" else (last, len(stamps))
            if missing == ["hand"] and _objects_stood_still(poses, obj_bad, traj.object_ids, *span):
                report.idle_trimmed_s += float(length)  # the hand not yet in view, or gone: nothing moved
                continue
            what = " and ".join(missing) or "hand or object"
            report.reason = f"{what} missing for the {'first' if where == 'start' else 'last'} {length:.2f} s " \
                            f"({'; '.join(why[m] for m in missing if m in why)}; more than --max-gap {max_gap_s:g} s)"
            return traj, report
    sl = slice(first, last + 1)
    report.trimmed_frames = int(first + len(stamps) - 1 - last)
    kp, conf, stamps, poses = kp[sl], conf[sl], stamps[sl], poses[sl]
    valid_kp, hand_bad = valid_kp[sl], hand_bad[sl]
    obj_bad = {k: v[sl] for k, v in obj_bad.items()}
    # long gaps: carried while held (at most one object: whose motion would carry the hand otherwise?),
    # else the demonstration is dropped
    long_runs: dict[str, list[tuple[int, int]]] = {}
    channels = [("hand", hand_bad), *((traj.object_ids[k], v) for k, v in obj_bad.items())]
    for label, bad in channels:
        for a, b in _runs(bad):
            length = stamps[b] - stamps[a - 1]  # interior: the ends were trimmed above
            report.longest_gap_s = max(report.longest_gap_s, float(length))
            if _longer_than(length, max_gap_s):
                long_runs.setdefault(label, []).append((a, b))
    held: list[tuple[str, int, int, int]] = []  # channel, gap [a, b), the object's column
    approach = np.zeros(len(stamps), dtype=bool)  # long hand gaps interpolated: the object stood still
    for label, runs in long_runs.items():
        for a, b in runs:
            length = stamps[b] - stamps[a - 1]
            other = _held_other(label, a, b, traj.object_ids, obj_cols, long_runs)
            problem = ""
            if label == "hand" and not _longer_than(length, max_held_gap_s) and \
                    _objects_stood_still(poses, obj_bad, traj.object_ids, a - 1, b + 1):
                report.approach_frames += b - a
                approach[a:b] = True
                continue
            if label != "hand" and not _longer_than(length, max_held_gap_s) and \
                    stood_still(poses[a - 1, traj.object_index(label)], poses[b, traj.object_index(label)], label):
                report.still_frames += b - a  # interpolated below: it did not move
                continue
            if _longer_than(length, max_held_gap_s):
                problem = f"more than --max-held-gap {max_held_gap_s:g} s, the longest carried while held"
            elif other is None and len(obj_cols) != 1:
                problem = "held gaps are carried for one object only"
            elif other is None:
                problem = "the hand and the object both missing then"
            else:
                # either end may fall in a short gap of the other channel (filled below): bridged here
                obj_ends = _interpolated_track(poses[:, other], ~obj_bad[other], stamps)[[a - 1, b]]
                palm_ends = [_bridged_keypoints(kp, valid_kp, stamps, f)[list(PALM)] for f in (a - 1, b)]
                if not holds(palm_ends[0], obj_ends[0], palm_ends[1], obj_ends[1], traj.object_ids[other]):
                    problem = "the hand does not hold the object at both ends, so it is not carried"
            if problem:
                report.reason = f"{label} missing for {length:.2f} s at t={stamps[a] - stamps[0]:.2f} s " \
                                f"({why[label]}; more than --max-gap {max_gap_s:g} s, and {problem})"
                return traj, report
            held.append((label, a, b, other))
    # fill every keypoint channel's interior gaps (short ones; long finger gaps stay missing)
    for j in range(21):
        bad = ~valid_kp[:, j]
        if not bad.any() or bad.all():
            continue
        for a, b in _runs(bad):
            if a == 0 or b == len(stamps) or \
                    (_longer_than(stamps[b] - stamps[a - 1], max_gap_s) and not approach[a:b].all()):
                continue
            w = (stamps[a:b] - stamps[a - 1]) / (stamps[b] - stamps[a - 1])
            kp[a:b, j] = (1 - w)[:, None] * kp[a - 1, j] + w[:, None] * kp[b, j]
            conf[a:b, j] = max(min_confidence, 0.5)
    report.filled_hand_frames = int(hand_bad.sum()) - sum(b - a for label, a, b, _ in held if label == "hand")
    carried = {label: np.zeros(len(stamps), dtype=bool) for label, _, _, _ in held}
    for label, a, b, _ in held:
        carried[label][a:b] = True
    for k, bad in obj_bad.items():
        short = bad & ~carried.get(traj.object_ids[k], np.zeros_like(bad))
        if not short.any():
            continue
        poses[short, k] = _interpolated_track(poses[:, k], ~bad, stamps)[short]
        report.filled_object_frames += int(short.sum())
    # held gaps, now that the other side's short gaps are filled
    for label, a, b, k in held:
        if label == "hand":
            fill = ~valid_kp[a:b] & valid_kp[a - 1] & valid_kp[b]  # the palm's always: the ends are hand frames
            _carry_hand(kp, poses[:, k], stamps, a, b, fill, traj.object_ids[k] in AXIAL_OBJECTS)
            conf[a:b][fill] = max(min_confidence, 0.5)
        else:
            _carry_object(poses[:, k], kp, stamps, a, b)
        report.carried_frames += b - a
    oconf = traj.object_confidence[sl].copy()
    for k, bad in obj_bad.items():
        oconf[bad, k] = max(min_confidence, 0.5)
    fixed = replace(traj, keypoints=kp, confidence=conf, stamps=stamps, object_poses=poses, object_confidence=oconf)
    return fixed, report


def _bridged_keypoints(kp: np.ndarray, valid: np.ndarray, stamps: np.ndarray, f: int) -> np.ndarray:
    """The hand's keypoints (21, 3) at frame f, those not valid there interpolated from the frames
    around where they are (NaN for a keypoint never valid)."""
    out = kp[f].copy()
    for j in np.flatnonzero(~valid[f]):
        good = valid[:, j]
        if good.any():
            out[j] = [np.interp(stamps[f], stamps[good], kp[good, j, c]) for c in range(3)]
    return out


def _objects_stood_still(poses: np.ndarray, obj_bad: dict[int, np.ndarray], object_ids: list[str],
                         a: int, b: int) -> bool:
    """Whether every object was seen at frames a and b - 1 and stayed at its pose of frame a in every
    frame of [a, b) it was seen (see `stood_still`; its own gaps between are judged as its own)."""
    for k, bad in obj_bad.items():
        if bad[a] or bad[b - 1]:
            return False
        if not all(stood_still(poses[a, k], poses[f, k], object_ids[k]) for f in range(a, b) if not bad[f]):
            return False
    return True


def _held_other(label: str, a: int, b: int, object_ids: list[str], obj_cols: list[int],
                long_runs: dict[str, list[tuple[int, int]]]) -> int | None:
    """The object's column for a held gap of channel `label` over [a, b) (the hand, carried by the
    object, or the object, carried by the hand), or None when the carrier is missing long then too
    or there is no single object."""
    if len(obj_cols) != 1:
        return None
    other = object_ids[obj_cols[0]] if label == "hand" else "hand"
    if any(c < b + 1 and a - 1 < d for c, d in long_runs.get(other, [])):  # [c, d) overlaps [a - 1, b]
        return None
    return obj_cols[0]
