"""place_inside: pick the banana up and put it into the mug.

Episode (DexMV's layout): the mug, at twice its real size as in DexMV (a 16 cm mug; a real one
cannot take a 19 cm banana), stands fixed at the origin with its handle along +x; the banana lies
on its side beyond it (the far side from the hand) at x ~ U(-0.15, 0.15), y ~ 0.125 + U(0, 0.10) m,
its long axis along x. DexMV draws y from 0.1 + U(0, 0.1) with its mesh turned 90 degrees about z;
its mesh's long axis is y, so its banana also lies along x (our model frame has the long axis on x:
yaw 0 here). Our y starts 2.5 cm further out: our mug is the real YCB mug's 93 mm doubled, 186 mm
across, and at y = 0.10 our 52 mm wide banana would overlap it by 2 cm; from 0.125 it clears the
wall by 6 mm.

Inside score: the fraction of the banana's volume inside the mug's cavity divided by the largest
fraction *our* geometry allows (the banana standing upright, centred, on the cavity's floor: 0.89),
capped at 1. DexMV divides by 0.7819, the largest fraction for its meshes; with our primitives that
constant saturated the score (1.0 from 78 % inside) and success (score >= 0.5) needed only 39 % of
the banana inside, so we normalise by our own maximum: the score means the same thing (share of
the best possible placement) and success needs 45 % inside. The volume is represented by 4000
points drawn uniformly (fixed seed) inside the banana's collision shapes; the fraction is the share
of them inside the cavity cylinder. Success is our convention score >= 0.5.

Observation (43): hand qpos[:30], palm - banana, palm - mug top, banana - mug top, banana
orientation (quaternion wxyz); "mug top" is the centre of the cavity's opening (DexMV observes the
mug's centre: the mug is fixed, so the two differ by a constant).

Dense reward: DexMV's, term for term. T = mug top (centre of the opening), L = banana length,
H = z_T + L / 3 (highest useful lift), lift = max(min(z_banana, H) - z_rest, 0), d_xy(a, b) the
horizontal distance, v = angle between world up and the banana's long axis pointing to its stem
(DexMV: its mesh's +y axis; 0 = upright, stem up), c = the hand touches the banana,
q = mean |qpos[6:30]| (wrist and fingers; 0 = open hand):
  -0.1 d(palm, banana)
  if c: +0.2 + 2 lift, and when lift > z_T (DexMV compares the lift with the top's height):
      +0.2 - 0.5 d_xy(palm, T) - d_xy(banana, T); +0.5 + 0.5 (pi/2 - v) when d_xy(banana, T) < 5 cm;
      +0.3 when d_xy(banana, T) < 3 cm
  if d_xy(banana, T) < 3 cm and v < 45 degrees (above the opening, upright):
      +12 (H - lift)                                  lowering into the mug
      +0.5 + 2 (pi/2 - q) when lift < (z_T + H) / 2   releasing: the hand opens
      +1 - d_xy(banana, T) + 0.5 + 0.5 (pi/2 - v) when not c or lift <= z_T, and
      +1.2 + 2 lift when not c: the terms above that need contact, kept once the hand lets go
No score term (DexMV has none; ours had + 2 score until this change).
Reset options: "banana_pos" (x, y), "banana_quat" (w, x, y, z).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import mujoco
import numpy as np

from dexmv_sim.objects import add_object, object_cavity, object_extent, resting_height
from dexmv_sim.tasks.base import StepOutputs, Task, free_joint_qpos, option_vector

BANANA = "011_banana"
MUG = "025_mug"
MUG_SCALE = 2.0
MAX_INSIDE_FRACTION = 0.7819  # DexMV's normaliser, for its meshes (ours: PlaceInsideTask.max_inside)
BANANA_XY_LOW = np.array([-0.15, 0.125])  # DexMV: x in [-0.15, 0.15], y in [0.10, 0.20]; ours 2.5 cm out
BANANA_XY_HIGH = np.array([0.15, 0.225])
UPRIGHT_ANGLE = math.radians(45.0)  # DexMV's "upright enough to lower it in"
VOLUME_SAMPLES = 4000
SUCCESS_SCORE = 0.5


def sample_volume(model: mujoco.MjModel, body_id: int, n: int, seed: int = 0) -> np.ndarray:
    """`n` points uniformly inside the union of a body's colliding primitives, in the body frame."""
    geoms = [g for g in range(model.ngeom) if model.geom_bodyid[g] == body_id
             and (model.geom_contype[g] or model.geom_conaffinity[g])]
    if not geoms:
        raise ValueError(f"body {model.body(body_id).name} has no collision geoms to sample")
    rng = np.random.default_rng(seed)
    half = np.max([model.geom_rbound[g] + np.abs(model.geom_pos[g]) for g in geoms], axis=0)
    points: list[np.ndarray] = []
    count = 0
    while count < n:
        cand = rng.uniform(-half, half, size=(4 * n, 3))
        inside = np.zeros(len(cand), dtype=bool)
        for g in geoms:
            inside |= _inside_geom(model, g, cand)
        points.append(cand[inside])
        count += int(inside.sum())
    return np.concatenate(points)[:n]


def _inside_geom(model: mujoco.MjModel, g: int, points: np.ndarray) -> np.ndarray:
    rot = np.zeros(9)
    mujoco.mju_quat2Mat(rot, model.geom_quat[g])
    local = (points - model.geom_pos[g]) @ rot.reshape(3, 3)
    size = model.geom_size[g]
    kind = model.geom_type[g]
    if kind == mujoco.mjtGeom.mjGEOM_CAPSULE:
        z = np.clip(local[:, 2], -size[1], size[1])
        return np.sum(local[:, :2] ** 2, axis=1) + (local[:, 2] - z) ** 2 <= size[0] ** 2
    if kind == mujoco.mjtGeom.mjGEOM_SPHERE:
        return np.sum(local**2, axis=1) <= size[0] ** 2
    if kind == mujoco.mjtGeom.mjGEOM_BOX:
        return np.all(np.abs(local) <= size, axis=1)
    if kind == mujoco.mjtGeom.mjGEOM_CYLINDER:
        return (np.sum(local[:, :2] ** 2, axis=1) <= size[0] ** 2) & (np.abs(local[:, 2]) <= size[1])
    if kind == mujoco.mjtGeom.mjGEOM_ELLIPSOID:
        return np.sum((local / size) ** 2, axis=1) <= 1.0
    if kind == mujoco.mjtGeom.mjGEOM_MESH:  # MuJoCo collides with the convex hull
        from scipy.spatial import Delaunay

        mesh = model.geom_dataid[g]
        adr, num = model.mesh_vertadr[mesh], model.mesh_vertnum[mesh]
        return Delaunay(model.mesh_vert[adr:adr + num]).find_simplex(local) >= 0
    raise ValueError(f"cannot sample inside geom type {kind}")


class PlaceInsideTask(Task):
    task_id = "place_inside"
    obs_dim = 43
    option_keys = ("banana_pos", "banana_quat")

    def __init__(self, *, mesh_dir=None) -> None:
        super().__init__(mesh_dir=mesh_dir)
        self.banana_rest_z = resting_height(BANANA, mesh_dir=self.mesh_dir)
        self.mug_rest_z = resting_height(MUG, scale=MUG_SCALE)
        self.cavity = object_cavity(MUG, MUG_SCALE)
        self.mug_pos = np.array([0.0, 0.0, self.mug_rest_z])  # fixed, handle along +x
        self.top = self.mug_pos + np.array([self.cavity.center_xy[0], self.cavity.center_xy[1], self.cavity.z_top])
        self.length = 2.0 * float(np.max(object_extent(BANANA, mesh_dir=self.mesh_dir)))
        self.max_lift_height = float(self.top[2]) + self.length / 3.0  # DexMV's H

    def build(self, spec: mujoco.MjSpec) -> None:
        # the enlarged mug is fixed, so it needs no real mesh: its primitives keep the cavity exact
        add_object(spec.worldbody, MUG, pos=self.mug_pos, free=False, scale=MUG_SCALE)
        add_object(spec.worldbody, BANANA, pos=(0.0, 0.16, self.banana_rest_z), mesh_dir=self.mesh_dir)

    def bind(self, model: mujoco.MjModel, data: mujoco.MjData) -> None:
        super().bind(model, data)
        banana = model.body(BANANA).id
        self.banana_qpos = free_joint_qpos(model, data, f"{BANANA}/joint")
        self.banana_pos = data.xpos[banana]
        self.banana_quat = data.xquat[banana]
        self.banana_xmat = data.xmat[banana]
        self.volume_points = sample_volume(model, banana, VOLUME_SAMPLES)
        self._banana_geoms = self.geom_set(BANANA)
        # the banana's long axis in its own frame: the principal axis of its volume
        centred = self.volume_points - self.volume_points.mean(axis=0)
        axis = np.linalg.svd(centred, full_matrices=False)[2][0]
        self.long_axis = axis if axis[0] >= 0 else -axis  # towards the stem (+x of the model frame)
        self.max_inside = self._best_inside_fraction()

    def _best_inside_fraction(self) -> float:
        """Inside fraction of the banana standing on the cavity's floor, long axis vertical, centred:
        the largest our geometry allows (the normaliser of the score)."""
        rot = np.zeros(9)
        quat = np.zeros(4)
        mujoco.mju_quatZ2Vec(quat, self.long_axis)  # long axis -> z; its inverse stands it up
        mujoco.mju_negQuat(quat, quat)
        mujoco.mju_quat2Mat(rot, quat)
        upright = self.volume_points @ rot.reshape(3, 3).T
        c = self.cavity
        best = 0.0
        for sign in (1.0, -1.0):  # either end down
            pts = upright * np.array([1.0, sign, sign])
            pts = pts - pts.mean(axis=0) + np.array([c.center_xy[0], c.center_xy[1], 0.0])
            pts[:, 2] += c.z_bottom - pts[:, 2].min()
            best = max(best, float(c.contains(pts).mean()))
        return best

    def reset(self, rng: np.random.Generator, options: Mapping[str, Any]) -> None:
        self.check_options(options)
        xy = rng.uniform(BANANA_XY_LOW, BANANA_XY_HIGH)
        given = option_vector(options, "banana_pos", (2, 3), self.task_id)
        pos = np.array([xy[0], xy[1], self.banana_rest_z])
        if given is not None:
            pos[: given.size] = given
        quat = np.array([1.0, 0.0, 0.0, 0.0])
        given = option_vector(options, "banana_quat", (4,), self.task_id)
        if given is not None:
            quat = given / np.linalg.norm(given)
        self.banana_qpos[:3] = pos
        self.banana_qpos[3:] = quat

    def inside_fraction(self) -> float:
        """Share of the banana's volume inside the mug's cavity (0..1)."""
        world = self.volume_points @ self.banana_xmat.reshape(3, 3).T + self.banana_pos
        return float(self.cavity.contains(world - self.mug_pos).mean())

    def vertical_angle(self) -> float:
        """Angle (rad) between world up and the banana's long axis towards its stem: 0 stem up, pi stem down."""
        axis = self.banana_xmat.reshape(3, 3) @ self.long_axis
        return math.acos(max(-1.0, min(1.0, float(axis[2]))))

    def outputs(self) -> StepOutputs:
        palm, banana, top = self.palm, self.banana_pos, self.top
        obs = np.concatenate((self.hand_qpos, palm - banana, palm - top, banana - top, self.banana_quat))
        v = obs[30:39].tolist()
        to_banana = math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])
        palm_xy = math.hypot(v[3], v[4])
        banana_xy = math.hypot(v[6], v[7])
        score = min(1.0, self.inside_fraction() / self.max_inside)
        top_z, high = float(top[2]), self.max_lift_height
        lift = max(min(float(banana[2]), high) - self.banana_rest_z, 0.0)
        vertical = self.vertical_angle()
        contact = self.hand_touches(self._banana_geoms)
        reward = -0.1 * to_banana
        if contact:
            reward += 0.2 + 2.0 * lift
            if lift > top_z:
                reward += 0.2 - 0.5 * palm_xy - banana_xy
                if banana_xy < 0.05:
                    reward += 0.5 + 0.5 * (math.pi / 2 - vertical)
                if banana_xy < 0.03:
                    reward += 0.3
        if banana_xy < 0.03 and vertical < UPRIGHT_ANGLE:
            reward += 12.0 * (high - lift)  # lowering into the mug
            if lift < (top_z + high) / 2:  # low enough: open the hand
                reward += 0.5 + 2.0 * (math.pi / 2 - float(np.abs(self.hand_qpos[6:]).mean()))
            if not contact or lift <= top_z:
                reward += 1.0 - banana_xy + 0.5 + 0.5 * (math.pi / 2 - vertical)
            if not contact:
                reward += 1.2 + 2.0 * lift
        return StepOutputs(obs, reward, score >= SUCCESS_SCORE, score)

    def describe(self) -> str:
        return f"place_inside: banana at {np.round(self.banana_qpos[:2], 3).tolist()}, mug at the origin"
