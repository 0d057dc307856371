"""pour: lift the mug, which holds water particles, and pour them into a container on the table.

Episode (DexMV's layout): an open container (tank, 0.15 x 0.15 m, 0.06 m high, 6 mm walls) stands
at (-0.08, -0.10) m; the mug stands upright, handle away from the hand, at
(0.14 + U(-0.06, 0.04), -0.10 + U(0, 0.10)) m, filled with DexMV's 12 water particles: spheres of
10 mm radius (water density) in three layers of 2 x 2, each on three slide joints (no rotation, as
MuJoCo's particle composites), frictionless (condim 1, priority over everything they touch) so they
flow rather than pile up. DexMV's composite places them 12 mm apart, overlapping, and lets the first
steps push them apart; ours start 20.5 mm apart, touching nothing. Score: the fraction of particles
inside the container's interior (the box bounded by its inner walls, floor and rim; DexMV's: the
outer footprint below half the tank's height) — the episode's score is its last step's; success is
our convention score >= 0.5 (DexMV reports the fraction only).

Observation (43): hand qpos[:30], palm - mug, palm - pour site, mug - pour site, mug orientation
(quaternion wxyz), the pour site being a point 0.12 m above the container's rim, 5 cm towards the mug.

Dense reward (DexMV's shaping), d(a, b) distances, lift = clip(z_mug - z_rest, 0, z_site - z_rest):
  -0.1 d(palm, mug)
  if the hand touches the mug: +0.1 + 50 lift, and when lift > 0.06 m:
      +2 - 0.5 d(palm, site) - 1.5 d(mug, site)
      when d(mug, site) < 0.05 m: + 1 / max(d(mug, site), 0.03) + 100 tilt (rad between the mug's
      axis and vertical; DexMV's weight 100) + 100 * (fraction of particles in the container)
  -0.1 * (fraction of particles spilled: neither in the mug nor above the container)
Reset options: "mug_pos" (x, y).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import mujoco
import numpy as np

from dexmv_sim.objects import add_object, object_cavity, resting_height
from dexmv_sim.tasks.base import StepOutputs, Task, free_joint_qpos, option_vector, yaw_quat

MUG = "025_mug"
CONTAINER_POS = np.array([-0.08, -0.10])
CONTAINER_SIZE = np.array([0.15, 0.15, 0.06])  # outer, m
CONTAINER_WALL = 0.006
CONTAINER_RGBA = (0.90, 0.90, 0.35, 1.0)
MUG_OFFSET = np.array([0.22, 0.0])  # from the container
MUG_JITTER_LOW = np.array([-0.06, 0.0])
MUG_JITTER_HIGH = np.array([0.04, 0.10])
MUG_YAW = np.pi / 2  # handle (+x in the mug frame) along +y: away from the hand
POUR_SITE_OFFSET = np.array([0.05, 0.0, 0.12])  # from the container's rim centre
PARTICLE_RADIUS = 0.010  # DexMV's
PARTICLE_SPACING = 0.0205  # centre to centre: 0.5 mm between neighbours
PARTICLE_GRID = (2, 2, 3)  # x, y, layers: DexMV's 12
WATER_RGBA = (0.32, 0.36, 0.98, 0.7)
LIFTED = 0.06
TILT_WEIGHT = 100.0  # DexMV's pour reward weights the tilt (rad) by 100
SUCCESS_SCORE = 0.5


def particle_lattice(cavity_radius: float, radius: float = PARTICLE_RADIUS, spacing: float = PARTICLE_SPACING,
                     grid: tuple[int, int, int] = PARTICLE_GRID) -> np.ndarray:
    """Particle centres (N x 3) on a grid centred on a cylinder's axis, z from 0 up; raises when
    the grid's outer particles would not fit inside the cylinder with 1 mm to spare."""
    nx, ny, layers = grid
    xs = (np.arange(nx) - (nx - 1) / 2) * spacing
    ys = (np.arange(ny) - (ny - 1) / 2) * spacing
    reach = max(math.hypot(x, y) for x in xs for y in ys) + radius + 0.001
    if reach > cavity_radius:
        raise ValueError(f"a {nx} x {ny} grid of {radius * 1000:.0f} mm particles needs a {reach * 1000:.1f} mm "
                         f"radius, the cavity has {cavity_radius * 1000:.1f} mm")
    return np.array([(x, y, k * spacing) for k in range(layers) for x in xs for y in ys])


class PourTask(Task):
    task_id = "pour"
    obs_dim = 43
    option_keys = ("mug_pos",)

    def __init__(self, *, mesh_dir=None) -> None:
        super().__init__(mesh_dir=mesh_dir)
        self.rest_z = resting_height(MUG, mesh_dir=self.mesh_dir)
        self.cavity = object_cavity(MUG)
        # particles sit on the mug's floor, in the mug frame
        lattice = particle_lattice(self.cavity.radius)
        centre = np.array([self.cavity.center_xy[0], self.cavity.center_xy[1],
                           self.cavity.z_bottom + PARTICLE_RADIUS + 0.0005])
        self.particle_offsets = lattice + centre
        self.n_particles = len(self.particle_offsets)
        inner = CONTAINER_SIZE / 2 - np.array([CONTAINER_WALL, CONTAINER_WALL, 0.0])
        self.container_low = np.array([CONTAINER_POS[0] - inner[0], CONTAINER_POS[1] - inner[1], CONTAINER_WALL])
        self.container_high = np.array([CONTAINER_POS[0] + inner[0], CONTAINER_POS[1] + inner[1], CONTAINER_SIZE[2]])
        self.site_pos = np.array([*CONTAINER_POS, CONTAINER_SIZE[2]]) + POUR_SITE_OFFSET

    def build(self, spec: mujoco.MjSpec) -> None:
        pos = np.array([*(CONTAINER_POS + MUG_OFFSET), self.rest_z])
        add_object(spec.worldbody, MUG, pos=pos, quat=yaw_quat(MUG_YAW), mesh_dir=self.mesh_dir)
        self._add_container(spec)
        site = spec.worldbody.add_site(name="pour_site", pos=list(self.site_pos), size=[0.01, 0, 0],
                                       rgba=[0.1, 0.9, 0.2, 0.0], group=4)
        del site
        for k in range(self.n_particles):
            body = spec.worldbody.add_body(name=f"water/{k}")
            for axis, label in zip(np.eye(3), "xyz", strict=True):
                # explicit: the Adroit default joint class is limited, damped and has friction loss
                body.add_joint(name=f"water/{k}/{label}", type=mujoco.mjtJoint.mjJNT_SLIDE, axis=list(axis),
                               damping=[0.001, 0.0, 0.0], armature=0.0, frictionloss=0.0, margin=0.0,
                               limited=mujoco.mjtLimited.mjLIMITED_FALSE)
            geom = body.add_geom(name=f"water/{k}/geom", type=mujoco.mjtGeom.mjGEOM_SPHERE,
                                 size=[PARTICLE_RADIUS, 0, 0], rgba=list(WATER_RGBA), density=1000.0, group=2)
            geom.contype, geom.conaffinity, geom.condim, geom.priority = 1, 1, 1, 3  # above table (2), objects (1)

    def _add_container(self, spec: mujoco.MjSpec) -> None:
        body = spec.worldbody.add_body(name="container", pos=[*CONTAINER_POS, 0.0])
        sx, sy, sz = CONTAINER_SIZE / 2
        t = CONTAINER_WALL / 2
        boards = [((sx, sy, t), (0, 0, t)),  # floor
                  ((t, sy, sz), (sx - t, 0, sz)), ((t, sy, sz), (-sx + t, 0, sz)),
                  ((sx - 2 * t, t, sz), (0, sy - t, sz)), ((sx - 2 * t, t, sz), (0, -sy + t, sz))]
        for k, (size, pos) in enumerate(boards):
            geom = body.add_geom(name=f"container/wall_{k}", type=mujoco.mjtGeom.mjGEOM_BOX, size=list(size),
                                 pos=list(pos), rgba=list(CONTAINER_RGBA), group=2)
            geom.contype, geom.conaffinity, geom.condim = 1, 1, 3

    def bind(self, model: mujoco.MjModel, data: mujoco.MjData) -> None:
        super().bind(model, data)
        self.mug_qpos = free_joint_qpos(model, data, f"{MUG}/joint")
        mug = model.body(MUG).id
        self.mug_pos = data.xpos[mug]
        self.mug_quat = data.xquat[mug]
        self.mug_xmat = data.xmat[mug]
        first = model.joint("water/0/x").id
        adr = model.jnt_qposadr[first]
        if not np.array_equal(model.jnt_qposadr[first:first + 3 * self.n_particles],
                              np.arange(adr, adr + 3 * self.n_particles)):
            raise RuntimeError("water particle joints are not contiguous in qpos")
        # with the bodies at the origin, a particle's three slide joints are its world position
        self.particle_qpos = data.qpos[adr:adr + 3 * self.n_particles].reshape(-1, 3)
        self._mug_geoms = self.geom_set(MUG)

    def reset(self, rng: np.random.Generator, options: Mapping[str, Any]) -> None:
        self.check_options(options)
        xy = CONTAINER_POS + MUG_OFFSET + rng.uniform(MUG_JITTER_LOW, MUG_JITTER_HIGH)
        given = option_vector(options, "mug_pos", (2,), self.task_id)
        if given is not None:
            xy = given
        quat = yaw_quat(MUG_YAW)
        pos = np.array([xy[0], xy[1], self.rest_z])
        self.mug_qpos[:3] = pos
        self.mug_qpos[3:] = quat
        rot = np.zeros(9)
        mujoco.mju_quat2Mat(rot, quat)
        self.particle_qpos[:] = pos + self.particle_offsets @ rot.reshape(3, 3).T

    # ------------------------------------------------------------------ scoring
    def particles_in_container(self) -> np.ndarray:
        p = self.particle_qpos
        return np.all((p > self.container_low) & (p < self.container_high), axis=1)

    def particles_in_mug(self) -> np.ndarray:
        local = (self.particle_qpos - self.mug_pos) @ self.mug_xmat.reshape(3, 3)
        c = self.cavity
        r2 = (local[:, 0] - c.center_xy[0]) ** 2 + (local[:, 1] - c.center_xy[1]) ** 2
        # 5 cm of headroom above the rim: particles sloshing over the rim still count as in the mug
        return (r2 <= c.radius**2) & (local[:, 2] >= c.z_bottom - 0.01) & (local[:, 2] <= c.z_top + 0.05)

    def particles_above_container(self) -> np.ndarray:
        p = self.particle_qpos
        margin = 0.01
        return ((p[:, 0] > self.container_low[0] - margin) & (p[:, 0] < self.container_high[0] + margin)
                & (p[:, 1] > self.container_low[1] - margin) & (p[:, 1] < self.container_high[1] + margin)
                & (p[:, 2] > 0.0))

    def outputs(self) -> StepOutputs:
        palm, mug, site = self.palm, self.mug_pos, self.site_pos
        obs = np.concatenate((self.hand_qpos, palm - mug, palm - site, mug - site, self.mug_quat))
        v = obs[30:39].tolist()
        to_mug = math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])
        palm_to_site = math.sqrt(v[3] * v[3] + v[4] * v[4] + v[5] * v[5])
        mug_to_site = math.sqrt(v[6] * v[6] + v[7] * v[7] + v[8] * v[8])
        in_container = self.particles_in_container()
        score = float(in_container.mean())
        reward = -0.1 * to_mug
        if self.hand_touches(self._mug_geoms):
            reward += 0.1
            lift = min(max(float(mug[2]) - self.rest_z, 0.0), max(float(site[2]) - self.rest_z, 0.0))
            reward += 50.0 * lift
            if lift > LIFTED:
                reward += 2.0 - 0.5 * palm_to_site - 1.5 * mug_to_site
                if mug_to_site < 0.05:
                    tilt = math.acos(max(-1.0, min(1.0, float(self.mug_xmat[8]))))
                    reward += 1.0 / max(mug_to_site, 0.03) + TILT_WEIGHT * tilt + 100.0 * score
        spilled = ~(self.particles_in_mug() | self.particles_above_container())
        reward -= 0.1 * float(spilled.mean())
        return StepOutputs(obs, reward, score >= SUCCESS_SCORE, score)

    def describe(self) -> str:
        return (f"pour: mug at {np.round(self.mug_qpos[:2], 3).tolist()}, {self.n_particles} particles, "
                f"container at {CONTAINER_POS.tolist()}")
