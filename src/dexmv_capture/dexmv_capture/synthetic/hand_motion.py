"""Scripted, varied, human-like right-hand motions for each DexMV task, in the `world` (table) frame.

`task_motion(task, seed, seconds)` returns per-frame wrist poses, joint angles and the 21 keypoints
of a human hand (human_hand.py) together with the poses of the objects it moves. The layout is the
simulation's (dexmv_sim tasks): the person sits at -y and reaches towards +y, table top at z = 0.

How the motions are made human-like:
- phases of a real demonstration: reach, approach, grasp (fingers close until they touch the
  object), lift and move (relocate: to the target, then hold; pour: over the container, tilt,
  pour, tilt back, put the mug down, release; place_inside: over the mug, tilt and lower the
  banana, release it into the mug), retreat;
- minimum-jerk timing of every segment (Flash & Hogan 1985: bell-shaped speed profiles of human
  reaches), lifting arcs on transport paths;
- the hand opens during the reach to its widest at about 70 % of the reach and closes on the object
  (Jeannerod 1984's grasp aperture);
- physiological tremor (8-12 Hz, ~0.3 mm) and slow postural drift (0.2-1.2 Hz, ~1.5 mm, ~0.7 deg);
- per-seed variation: hand size and proportions, speed of each phase, approach direction, grasp
  type (side power grasp with the thumb up, or a grasp from above), grasp height, path arcs,
  object placement and relocate target (the simulation's sampling ranges).

Same task, seed, seconds and fps: identical trajectory.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from dexmv_capture.synthetic.grasp import PALM_HALF_THICKNESS, ObjectProxy, close_on_object, object_proxy
from dexmv_capture.synthetic.human_hand import HandAngles, HandShape, hand_keypoints

PHASES = ("idle", "reach", "approach", "close", "lift", "move", "hold", "tilt", "pour", "untilt", "place",
          "release", "retreat")
# Nominal seconds of each phase (for a 6 s demonstration); scaled to the requested length.
_PLANS = {
    "relocate": (("idle", 0.3), ("reach", 1.1), ("approach", 0.45), ("close", 0.4), ("lift", 0.5), ("move", 1.3),
                 ("hold", 1.95)),
    "pour": (("idle", 0.2), ("reach", 0.95), ("approach", 0.4), ("close", 0.35), ("lift", 0.45), ("move", 0.75),
             ("tilt", 0.55), ("pour", 0.45), ("untilt", 0.4), ("place", 0.65), ("release", 0.3), ("retreat", 0.6)),
    "place_inside": (("idle", 0.25), ("reach", 1.0), ("approach", 0.4), ("close", 0.35), ("lift", 0.45),
                     ("move", 0.95), ("place", 0.6), ("release", 0.3), ("retreat", 0.8), ("hold", 0.9)),
}
RELOCATE_OBJECTS = ("mustard_bottle", "sugar_box", "tomato_soup_can", "large_clamp", "mug")
TASKS = (*tuple(f"relocate-{name}" for name in RELOCATE_OBJECTS), "pour", "place_inside")
# Grasps a person uses on each object (first = most common), with their probabilities.
_GRASPS = {
    "006_mustard_bottle": (("side", 0.85), ("top", 0.15)),
    "004_sugar_box": (("side", 0.9), ("top", 0.1)),
    "005_tomato_soup_can": (("side", 0.55), ("top", 0.45)),
    "025_mug": (("side", 0.75), ("top", 0.25)),
    "051_large_clamp": (("top", 1.0),),
    "011_banana": (("top", 1.0),),
}
_Z = np.array([0.0, 0.0, 1.0])
TABLE_CLEARANCE = 0.010  # m, lowest keypoint of the open hand above the table top at the grasp


class MotionError(ValueError):
    """An unknown task or an unusable argument; the message names it."""


@dataclass(frozen=True)
class ObjectTrack:
    """Poses (T, 4, 4) of one object's model frame in `world` (dexmv_sim.objects conventions)."""

    object_id: str
    name: str
    poses: np.ndarray
    scale: float = 1.0
    moved_by_hand: bool = False


@dataclass(frozen=True)
class HandTrajectory:
    """One synthetic demonstration: the hand and the objects, frame by frame, in `world`."""

    task: str
    seed: int
    fps: float
    times: np.ndarray  # (T,) seconds from the start
    shape: HandShape
    wrist_pose: np.ndarray  # (T, 4, 4) world <- hand frame (human_hand.py)
    angles: HandAngles  # batched over T
    keypoints: np.ndarray  # (T, 21, 3) world, metres, MediaPipe keypoint order
    objects: dict[str, ObjectTrack]
    manipulated: str  # key of `objects` that the hand moves
    phase: np.ndarray  # (T,) index into PHASES
    grasp_type: str
    target: np.ndarray | None = None  # relocate: where the object's centre should end (world)
    fixtures: dict[str, dict] = field(default_factory=dict)  # static non-YCB parts (pour's container)

    @property
    def frames(self) -> int:
        return int(self.times.shape[0])

    @property
    def object_pose(self) -> np.ndarray:
        """(T, 4, 4) pose of the manipulated object."""
        return self.objects[self.manipulated].poses

    def phase_names(self) -> list[str]:
        return [PHASES[i] for i in self.phase]


# ------------------------------------------------------------------------------------ small tools
def minimum_jerk(tau: np.ndarray) -> np.ndarray:
    """Position fraction of a minimum-jerk movement at normalized time tau in [0, 1]."""
    t = np.clip(tau, 0.0, 1.0)
    return t**3 * (10.0 - 15.0 * t + 6.0 * t**2)


def _pose(rot: np.ndarray, pos: np.ndarray) -> np.ndarray:
    out = np.eye(4)
    out[:3, :3] = rot
    out[:3, 3] = pos
    return out


def _inv(pose: np.ndarray) -> np.ndarray:
    out = np.eye(4)
    out[:3, :3] = pose[:3, :3].T
    out[:3, 3] = -pose[:3, :3].T @ pose[:3, 3]
    return out


def _yaw(angle: float) -> np.ndarray:
    return Rotation.from_euler("z", angle).as_matrix()


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


@dataclass
class _Key:
    time: float
    pose: np.ndarray
    arc: float = 0.0  # height (m) of an upward arc on the segment that ends at this key


def _interpolate_poses(keys: list[_Key], times: np.ndarray) -> np.ndarray:
    """Piecewise minimum-jerk poses through the keys (held before the first and after the last)."""
    out = np.repeat(keys[0].pose[None], len(times), axis=0)
    for a, b in itertools.pairwise(keys):
        inside = (times >= a.time) & (times <= b.time)
        if b.time <= a.time or not inside.any():
            continue
        s = minimum_jerk((times[inside] - a.time) / (b.time - a.time))
        pos = a.pose[:3, 3] + (b.pose[:3, 3] - a.pose[:3, 3]) * s[:, None] + b.arc * np.sin(np.pi * s)[:, None] * _Z
        rots = Rotation.from_matrix(np.stack([a.pose[:3, :3], b.pose[:3, :3]]))
        out[inside, :3, :3] = Slerp([0.0, 1.0], rots)(s).as_matrix()
        out[inside, :3, 3] = pos
    out[times > keys[-1].time] = keys[-1].pose
    return out


def _interpolate_angles(keys: list[tuple[float, HandAngles]], times: np.ndarray) -> np.ndarray:
    """(T, 21) angle vectors, piecewise minimum jerk through the keys."""
    vecs = np.stack([a.to_vector() for _, a in keys])
    out = np.repeat(vecs[:1], len(times), axis=0)
    for k in range(len(keys) - 1):
        t0, t1 = keys[k][0], keys[k + 1][0]
        inside = (times >= t0) & (times <= t1)
        if t1 <= t0 or not inside.any():
            continue
        s = minimum_jerk((times[inside] - t0) / (t1 - t0))
        out[inside] = vecs[k] + (vecs[k + 1] - vecs[k]) * s[:, None]
    out[times > keys[-1][0]] = vecs[-1]
    return out


def _band_noise(rng: np.random.Generator, times: np.ndarray, low: float, high: float, rms: float,
                dims: int, waves: int = 6) -> np.ndarray:
    """Smooth random signal (T, dims): a sum of sinusoids with frequencies in [low, high] Hz."""
    freq = rng.uniform(low, high, (waves, dims))
    phase = rng.uniform(0.0, 2.0 * np.pi, (waves, dims))
    amp = rms * np.sqrt(2.0 / waves)
    return amp * np.sin(2.0 * np.pi * freq[None] * times[:, None, None] + phase[None]).sum(axis=1)


# ------------------------------------------------------------------------------------ the scene
def _parse_task(task: str) -> tuple[str, str]:
    """(kind, object id of the manipulated object)."""
    from dexmv_sim.objects import OBJECT_BY_SHORT_NAME

    if task.startswith("relocate-") and task.removeprefix("relocate-") in RELOCATE_OBJECTS:
        return "relocate", OBJECT_BY_SHORT_NAME[task.removeprefix("relocate-")]
    if task == "pour":
        return "pour", "025_mug"
    if task == "place_inside":
        return "place_inside", "011_banana"
    raise MotionError(f"unknown task {task!r}; tasks: {', '.join(TASKS)}")


def _initial_object_pose(kind: str, object_id: str, rng: np.random.Generator) -> np.ndarray:
    """Where the simulation's task puts the object (its sampling ranges and yaws)."""
    from dexmv_sim.objects import SHORT_NAMES, resting_height

    if kind == "relocate":
        from dexmv_sim.tasks.relocate import OBJECT_XY_HIGH, OBJECT_XY_LOW, OBJECT_YAW

        xy = rng.uniform(OBJECT_XY_LOW, OBJECT_XY_HIGH)
        yaw = OBJECT_YAW[SHORT_NAMES[object_id]]
    elif kind == "pour":
        from dexmv_sim.tasks.pour import CONTAINER_POS, MUG_JITTER_HIGH, MUG_JITTER_LOW, MUG_OFFSET, MUG_YAW

        xy = CONTAINER_POS + MUG_OFFSET + rng.uniform(MUG_JITTER_LOW, MUG_JITTER_HIGH)
        yaw = MUG_YAW
    else:
        from dexmv_sim.tasks.place_inside import BANANA_XY_HIGH, BANANA_XY_LOW

        xy = rng.uniform(BANANA_XY_LOW, BANANA_XY_HIGH)
        yaw = rng.uniform(-0.3, 0.3)  # lying roughly across the reach, as a person would leave it
    return _pose(_yaw(yaw), np.array([xy[0], xy[1], resting_height(object_id)]))


def _rest_pose(rng: np.random.Generator) -> np.ndarray:
    """The right hand resting near the person's edge of the table, palm down, fingers forward."""
    pos = np.array([rng.uniform(0.10, 0.20), rng.uniform(-0.42, -0.36), rng.uniform(0.12, 0.15)])
    x = _unit(np.array([rng.uniform(-0.35, -0.1), 1.0, -0.15]))  # fingers forward, a bit inward and down
    y = _unit(np.cross(_Z, x))  # thumb to the left (radial side of a palm-down right hand)
    return _pose(np.column_stack([x, y, np.cross(x, y)]), pos)


@dataclass(frozen=True)
class _Grasp:
    kind: str
    hand_in_object: np.ndarray  # object <- hand at the grasp
    open_angles: HandAngles
    angles: HandAngles


def _plan_grasp(kind: str, object_pose: np.ndarray, proxy: ObjectProxy, shape: HandShape, start: np.ndarray,
                rng: np.random.Generator, along: float = 0.0, pitch: tuple[float, float] = (0.0, 0.25)) -> _Grasp:
    """Hand pose and finger closure for a `kind` grasp ("side" or "top") of the object at object_pose.

    along: where along the object's x axis (m from its centre) a top grasp takes it (the banana by
    one end); pitch: range of the fingers' downward tilt of a top grasp (rad)."""
    centre = object_pose[:3, :3] @ (proxy.center + np.array([along, 0.0, 0.0])) + object_pose[:3, 3]
    reach = centre - start[:3, 3]
    reach[2] = 0.0
    a = _yaw(rng.uniform(-0.2, 0.2)) @ _unit(reach)
    hl = shape.hand_length * shape.scale
    if kind == "side":
        # thumb up, palm facing the object's side, fingers forward wrapping around its far side
        x, y = a, _Z
        rot = np.column_stack([x, y, np.cross(x, y)])
        rot = rot @ Rotation.from_euler("xz", [rng.uniform(-0.12, 0.12), rng.uniform(-0.1, 0.1)]).as_matrix()
        palm_normal = -rot[:, 2]
        depth = proxy.support(object_pose[:3, :3].T @ palm_normal)
        tall = 2 * proxy.half_size[2]
        height = float(np.clip(rng.uniform(0.35, 0.55) * tall, 0.045, max(0.045, tall - 0.015)))
        # object centre in the hand frame: beside the palm near the knuckles; the middle finger at `height`
        c_hand = np.array([0.36 * hl + rng.uniform(-0.01, 0.01), centre[2] - height,
                           -(PALM_HALF_THICKNESS + depth + 0.002)])
        open_angles = HandAngles.from_curl(mcp=0.1, pip=0.15, abduction=0.12, thumb=[-0.15, 0.45, 0.05, 0.05])
        closed = HandAngles.from_curl(mcp=1.5, pip=1.85, abduction=0.0, thumb=[0.85, 0.55, 0.9, 1.2],
                                      palm_arch=0.3)
    else:
        # from above: palm down over the object, fingers on its far side, thumb on its near side
        x = a
        y = np.cross(_Z, x)
        rot = np.column_stack([x, y, _Z])
        rot = rot @ Rotation.from_euler("xy", [rng.uniform(-0.1, 0.1), rng.uniform(*pitch)]).as_matrix()
        up = rot[:, 2]
        height = proxy.support(object_pose[:3, :3].T @ up)
        c_hand = np.array([0.42 * hl + rng.uniform(-0.01, 0.01), 0.01,
                           -(PALM_HALF_THICKNESS + height + 0.012)])
        open_angles = HandAngles.from_curl(mcp=0.05, pip=0.1, abduction=0.15, thumb=[-0.2, 0.5, 0.05, 0.05])
        closed = HandAngles.from_curl(mcp=1.35, pip=1.6, abduction=0.02, thumb=[0.85, 0.7, 0.8, 1.1],
                                      palm_arch=0.2)
    pos = centre - rot @ c_hand
    # the open hand must clear the table where it arrives: raise the grasp if a digit would be below it
    lowest = (hand_keypoints(shape, _pose(rot, pos), open_angles)[:, 2]).min()
    pos[2] += max(0.0, TABLE_CLEARANCE - lowest)
    hand_world = _pose(rot, pos)
    hand_in_object = _inv(object_pose) @ hand_world
    angles = close_on_object(shape, hand_in_object, proxy, open_angles, closed, object_pose=object_pose)
    return _Grasp(kind, hand_in_object, open_angles, angles)


def _mug_top() -> np.ndarray:
    """Centre of the opening of place_inside's fixed (enlarged) mug, world."""
    from dexmv_sim.objects import object_cavity, resting_height
    from dexmv_sim.tasks.place_inside import MUG_SCALE

    cavity = object_cavity("025_mug", MUG_SCALE)
    return np.array([cavity.center_xy[0], cavity.center_xy[1],
                     resting_height("025_mug", scale=MUG_SCALE) + cavity.z_top])


MUG_CLEARANCE = 0.015  # m, the grasping hand's keypoints from the enlarged mug's wall (place_inside)


def hand_clearance_from_mug(keypoints: np.ndarray) -> float:
    """Smallest horizontal distance (m) from place_inside's mug wall of the keypoints below its rim,
    negative inside its footprint; inf when every keypoint is above the rim."""
    from dexmv_sim.objects import MUG_WALL, object_cavity
    from dexmv_sim.tasks.place_inside import MUG_SCALE

    top = _mug_top()
    radius = object_cavity("025_mug", MUG_SCALE).radius + MUG_WALL * MUG_SCALE
    low = keypoints[keypoints[:, 2] < top[2]]
    if len(low) == 0:
        return float("inf")
    return float(np.min(np.linalg.norm(low[:, :2] - top[:2], axis=1)) - radius)


def _grasp_beside_the_mug(obj0: np.ndarray, proxy: ObjectProxy, shape: HandShape, start: np.ndarray,
                          rng: np.random.Generator) -> _Grasp:
    """place_inside: a top grasp of the banana that keeps the hand out of the mug's footprint.

    The banana lies beyond the 16 cm tall mug from the person, so a grasp of its middle puts the
    palm and wrist where the mug stands. People take it by the end farther from the mug, fingers
    as near its middle as allows: tried from 2 to 7 cm out towards that end (then the other), the first whose
    keypoints below the rim keep MUG_CLEARANCE from the wall is taken, else the clearest (a banana
    left within a centimetre of the wall cannot be taken from above without the thumb, on its near
    side, brushing the mug: its joints come within a few millimetres of the wall)."""
    top = _mug_top()
    signs = sorted((1.0, -1.0), key=lambda sign: -float(np.linalg.norm(
        (obj0[:3, :3] @ np.array([sign * 0.05, 0.0, 0.0]) + obj0[:3, 3])[:2] - top[:2])))
    best, best_clear = None, -np.inf
    for sign in signs:
        for along in (0.02, 0.03, 0.04, 0.05, 0.06, 0.07):
            trial = np.random.default_rng(rng.integers(2**32))
            grasp = _plan_grasp("top", obj0, proxy, shape, start, trial, along=sign * along)
            clear = hand_clearance_from_mug(hand_keypoints(shape, obj0 @ grasp.hand_in_object, grasp.angles))
            if clear >= MUG_CLEARANCE:
                return grasp
            if clear > best_clear:
                best, best_clear = grasp, clear
    return best


def _phase_times(kind: str, seconds: float, rng: np.random.Generator) -> dict[str, tuple[float, float]]:
    plan = _PLANS[kind]
    durations = np.array([d for _, d in plan]) * rng.uniform(0.85, 1.15, len(plan))
    durations *= seconds / durations.sum()
    ends = np.cumsum(durations)
    return {name: (float(e - d), float(e)) for (name, _), d, e in zip(plan, durations, ends, strict=True)}


def task_motion(task: str, seed: int, seconds: float, fps: float = 30.0,
                object_pose: np.ndarray | None = None) -> HandTrajectory:
    """A human right hand doing `task` (task ids as in dexmv_sim.tasks) for `seconds` at `fps`, in `world`.

    object_pose: 4x4 world pose of the manipulated object's model frame at the start; default: drawn
    from the simulation's ranges with `seed`.
    """
    kind, object_id = _parse_task(task)
    if not np.isfinite(seconds) or seconds < 1.0:
        raise MotionError(f"seconds must be at least 1.0 (a demonstration needs time to reach and grasp), "
                          f"got {seconds}")
    if not np.isfinite(fps) or fps <= 0:
        raise MotionError(f"fps must be positive, got {fps}")
    rng = np.random.default_rng([seed, sum(map(ord, task))])
    shape = HandShape.sample(rng)
    times = np.arange(round(seconds * fps)) / fps
    phases = _phase_times(kind, seconds, rng)
    if object_pose is None:
        obj0 = _initial_object_pose(kind, object_id, rng)
    else:
        obj0 = np.asarray(object_pose, dtype=float)
        if obj0.shape != (4, 4) or not np.all(np.isfinite(obj0)):
            raise MotionError(f"object_pose must be a finite 4x4 transform, got shape {obj0.shape}")
        if not np.allclose(obj0[:3, :3] @ obj0[:3, :3].T, np.eye(3), atol=1e-6):
            raise MotionError("object_pose's rotation part is not a rotation matrix")
    proxy = object_proxy(object_id)
    start = _rest_pose(rng)
    choices, probs = zip(*_GRASPS[object_id], strict=True)
    grasp_kind = "side" if kind == "pour" else str(rng.choice(choices, p=probs))
    if kind == "place_inside":
        grasp = _grasp_beside_the_mug(obj0, proxy, shape, start, rng)
    else:
        grasp = _plan_grasp(grasp_kind, obj0, proxy, shape, start, rng)
    hand_at = lambda obj: obj @ grasp.hand_in_object  # noqa: E731 - world <- hand for an object pose
    g = hand_at(obj0)
    approach_dir = _unit(np.array([*(g[:3, 3] - start[:3, 3])[:2], 0.0]))
    pre = g.copy()
    pre[:3, 3] += -rng.uniform(0.05, 0.09) * approach_dir + rng.uniform(0.02, 0.05) * _Z
    reach_arc = rng.uniform(0.02, 0.06)
    if kind == "place_inside":  # over the mug's rim on the way: the open hand arrives above it, then descends
        pre[:3, 3] = g[:3, 3]  # straight above the grasp: no backing off towards the mug
        lowest = hand_keypoints(shape, pre, grasp.open_angles)[:, 2].min()
        pre[2, 3] += max(0.02, _mug_top()[2] + rng.uniform(0.03, 0.05) - lowest)
        reach_arc = rng.uniform(0.06, 0.09)

    t = {name: span for name, span in phases.items()}
    wrist: list[_Key] = [_Key(0.0, start), _Key(t["reach"][0], start),
                         _Key(t["reach"][1], pre, arc=reach_arc), _Key(t["approach"][1], g)]
    rest, open_, held = HandAngles.rest(), grasp.open_angles, grasp.angles
    reach0, reach1 = t["reach"]
    fingers: list[tuple[float, HandAngles]] = [
        (0.0, rest), (reach0, rest), (reach0 + 0.7 * (reach1 - reach0), open_), (t["approach"][1], open_),
        (t["close"][1], held)]
    lift_height = rng.uniform(0.06, 0.10)
    release_span = None
    target = None
    drop_to = None
    objects_static: dict[str, ObjectTrack] = {}
    fixtures: dict[str, dict] = {}
    lifted = obj0.copy()
    lifted[:3, 3] += lift_height * _Z
    if kind == "place_inside":  # straight up until the banana's underside is above the mug's rim
        lifted[2, 3] = max(lifted[2, 3], _mug_top()[2] + proxy.half_size[2] + rng.uniform(0.03, 0.05))
    wrist.append(_Key(t["lift"][1], hand_at(lifted)))
    if kind == "relocate":
        from dexmv_sim.tasks.relocate import TARGET_HIGH, TARGET_LOW

        target = rng.uniform(TARGET_LOW, TARGET_HIGH)
        goal = obj0.copy()
        goal[:3, :3] = Rotation.from_rotvec(rng.normal(0.0, 0.08, 3)).as_matrix() @ obj0[:3, :3]
        goal[:3, 3] = target - goal[:3, :3] @ proxy.center
        wrist.append(_Key(t["move"][1], hand_at(goal), arc=rng.uniform(0.0, 0.05)))
    elif kind == "pour":
        from dexmv_sim.tasks.pour import CONTAINER_POS, CONTAINER_SIZE

        fixtures["container"] = {"center": [float(CONTAINER_POS[0]), float(CONTAINER_POS[1]), 0.0],
                                 "size": [float(v) for v in CONTAINER_SIZE]}
        above = obj0.copy()
        above[:3, 3] = np.array([CONTAINER_POS[0] + rng.uniform(0.08, 0.11),
                                 CONTAINER_POS[1] + rng.uniform(-0.02, 0.02),
                                 CONTAINER_SIZE[2] + rng.uniform(0.10, 0.14)])
        wrist.append(_Key(t["move"][1], hand_at(above), arc=rng.uniform(0.0, 0.04)))
        tilt = rng.uniform(np.deg2rad(95), np.deg2rad(120))
        # pour to -x (towards the container): rotate about +y by -tilt around the mug's rim on that side
        pivot = above[:3, 3] + np.array([-0.04, 0.0, 0.04])
        rot = Rotation.from_rotvec(-tilt * np.array([0.0, 1.0, 0.0])).as_matrix()
        tilted = _pose(rot @ above[:3, :3], pivot + rot @ (above[:3, 3] - pivot))
        wrist.append(_Key(t["tilt"][1], hand_at(tilted)))
        shaken = tilted.copy()
        shaken[:3, 3] += rng.normal(0.0, 0.005, 3)
        wrist.append(_Key(t["pour"][1], hand_at(shaken)))
        wrist.append(_Key(t["untilt"][1], hand_at(above)))
        down = obj0.copy()
        down[:3, 3] += np.array([rng.uniform(-0.03, 0.03), rng.uniform(-0.03, 0.03), 0.0])
        wrist.append(_Key(t["place"][1], hand_at(down), arc=0.02))
        release_span = t["release"]
    else:
        from dexmv_sim.objects import object_cavity, resting_height
        from dexmv_sim.tasks.place_inside import MUG_SCALE

        mug_pose = _pose(np.eye(3), np.array([0.0, 0.0, resting_height("025_mug", scale=MUG_SCALE)]))
        objects_static["mug"] = ObjectTrack("025_mug", "mug", np.repeat(mug_pose[None], len(times), axis=0),
                                            scale=MUG_SCALE)
        cavity = object_cavity("025_mug", MUG_SCALE)
        top = mug_pose[:3, 3] + np.array([cavity.center_xy[0], cavity.center_xy[1], cavity.z_top])
        long_axis = obj0[:3, 0]
        tilt_axis = _unit(np.cross(_Z, long_axis))
        tilt = rng.uniform(np.deg2rad(45), np.deg2rad(60))
        tilt_rot = Rotation.from_rotvec(tilt * tilt_axis).as_matrix() @ obj0[:3, :3]
        half_span = proxy.half_size[0] * np.sin(tilt)
        over = _pose(obj0[:3, :3], top + np.array([0.0, 0.0, 0.12 + rng.uniform(0.0, 0.03)]))
        # carried over the rim: no lower than the lift, and no arc (it could swing the banana into the rim)
        over[2, 3] = max(over[2, 3], lifted[2, 3])
        wrist.append(_Key(t["move"][1], hand_at(over)))
        lowered = _pose(tilt_rot, top + np.array([rng.uniform(-0.01, 0.01), rng.uniform(-0.01, 0.01),
                                                  half_span * 0.6 + 0.01]))
        wrist.append(_Key(t["place"][1], hand_at(lowered)))
        release_span = t["release"]
        rest_depth = top[2] - cavity.z_top + cavity.z_bottom  # cavity floor in world z
        drop_to = _pose(tilt_rot, np.array([top[0], top[1], rest_depth + half_span + 0.02]))
    if release_span is not None:
        r0, r1 = release_span
        release_pose = wrist[-1].pose.copy()
        release_pose[:3, 3] += 0.025 * _Z  # the hand rises a little as it lets go
        wrist.append(_Key(r1, release_pose))
        back = release_pose.copy()
        back[:3, 3] += -0.08 * approach_dir + 0.06 * _Z
        wrist.append(_Key(t["retreat"][1], back, arc=0.02))
        fingers += [(r0, held), (r1, open_), (t["retreat"][1], rest)]

    # ---------------------------------------------------------------------- sample the keyframes
    wrist_pose = _interpolate_poses(wrist, times)
    wrist_pose[:, :3, 3] += _band_noise(rng, times, 8.0, 12.0, 0.0003, 3) + _band_noise(rng, times, 0.2, 1.2, 0.0015, 3)
    wobble = Rotation.from_rotvec(_band_noise(rng, times, 0.2, 1.2, 0.012, 3)).as_matrix()
    wrist_pose[:, :3, :3] = wrist_pose[:, :3, :3] @ wobble
    angle_vec = _interpolate_angles(fingers, times) + _band_noise(rng, times, 0.3, 1.5, 0.015, 21)
    angles = HandAngles.from_vector(angle_vec).clipped()
    keypoints = hand_keypoints(shape, wrist_pose, angles)

    grasped = times >= t["close"][1]
    if release_span is not None:
        grasped &= times < release_span[0]
    poses = np.repeat(obj0[None], len(times), axis=0)
    poses[grasped] = wrist_pose[grasped] @ _inv(grasp.hand_in_object)
    if release_span is not None:
        after = times >= release_span[0]
        last = poses[grasped][-1] if grasped.any() else obj0
        if kind == "pour":  # set down: upright on the table where the hand left it
            settled = _pose(obj0[:3, :3], np.array([last[0, 3], last[1, 3], obj0[2, 3]]))
            poses[after] = settled
        else:  # the banana falls into the mug: free fall from where it was let go
            fall = np.sqrt(2.0 * max(last[2, 3] - drop_to[2, 3], 1e-3) / 9.81)
            s = np.clip((times[after] - release_span[0]) / fall, 0.0, 1.0) ** 2
            start_rot = Rotation.from_matrix(np.stack([last[:3, :3], drop_to[:3, :3]]))
            poses[after, :3, :3] = Slerp([0.0, 1.0], start_rot)(s).as_matrix()
            poses[after, :3, 3] = last[:3, 3] + (drop_to[:3, 3] - last[:3, 3]) * s[:, None]

    phase = np.zeros(len(times), dtype=np.int64)
    for name, (a, b) in phases.items():
        phase[(times >= a - 1e-9) & (times < b + 1e-9)] = PHASES.index(name)
    manipulated = "object"
    objects = {manipulated: ObjectTrack(object_id, manipulated, poses, moved_by_hand=True), **objects_static}
    return HandTrajectory(task=task, seed=seed, fps=float(fps), times=times, shape=shape, wrist_pose=wrist_pose,
                          angles=angles, keypoints=keypoints, objects=objects, manipulated=manipulated,
                          phase=phase, grasp_type=grasp.kind, target=target, fixtures=fixtures)
