"""Composition of a task scene: the Adroit hand, the table at z = 0, lights, cameras, then task objects.

Physics settings (docs/architecture.md: 100 Hz control, 5 substeps of 2 ms) and two deliberate changes to the
hand's actuation, which make `/adroit/joint_targets` and normalized actions mean the same thing:

- The arm actuators of the Adroit relocate model (and DexMV's copy) have gain 500 but bias -200,
  so a control u drives a joint towards 2.5 u, not u; we set the bias to -gain, making all 30
  actuators position servos whose control *is* the joint position target (ctrlrange = joint range).
- The forearm and hand bodies get gravity compensation, as a real position-controlled arm has;
  without it the 4.9 kg forearm sags about 0.1 m on the 500 N/m servo and fingers droop. Objects,
  water and everything else still feel gravity in full.

Hand-object friction: MuJoCo combines a contact pair's friction per component by the maximum
(neither geom has priority), so a hand-object contact gets the larger of the hand's and the
object's values. `set_hand_friction` writes objects.HAND_FRICTION on every colliding hand geom,
so the pair's friction is the one objects.py declares (HAND_OBJECT_FRICTION), not whatever an
asset version carries; a test reads it off a real grasp contact.

Solver: Newton with 20 iterations (the Adroit model's), DexMV's elliptic friction cones, and
impratio 10 rather than the model's 20 noslip iterations; the implicitfast integrator rather than
Euler (see base_scene_spec for the measurements behind both).
"""

from __future__ import annotations

import mujoco
import numpy as np

from dexmv_sim.adroit import ADROIT_ACTUATORS, ADROIT_JOINTS, FOREARM_BODY, adroit_hand_spec
from dexmv_sim.objects import HAND_FRICTION
from dexmv_sim.table import add_table

TIMESTEP = 0.002  # s, physics step
N_SUBSTEPS = 5  # physics steps per control step
CONTROL_DT = TIMESTEP * N_SUBSTEPS  # 0.01 s: 100 Hz control
HORIZON = 200  # control steps per episode

CAMERAS = {
    # name: (position, look-at point) in world, metres
    "front": ((0.0, 0.65, 0.55), (0.0, -0.1, 0.12)),
    "side": ((0.75, -0.05, 0.45), (0.0, -0.05, 0.12)),
    "top": ((0.0, -0.05, 1.1), (0.0, -0.049, 0.0)),
    "behind": ((0.0, -0.95, 0.65), (0.0, 0.0, 0.1)),
}


def _look_at_xyaxes(pos: np.ndarray, target: np.ndarray) -> list[float]:
    """MuJoCo camera xyaxes (right, up) for a camera at `pos` looking at `target`, z up in the image."""
    forward = target - pos
    forward = forward / np.linalg.norm(forward)
    right = np.cross(forward, (0.0, 0.0, 1.0))
    if np.linalg.norm(right) < 1e-6:  # looking straight down: image up is +y
        right = np.array([1.0, 0.0, 0.0])
    right = right / np.linalg.norm(right)
    up = np.cross(right, forward)
    return [*right, *up]


def servo_hand(spec: mujoco.MjSpec) -> None:
    """Make every hand actuator a position servo (bias = -gain) and compensate the hand's gravity."""
    for name in ADROIT_ACTUATORS:
        actuator = spec.actuator(name)
        kp = actuator.gainprm[0]
        bias = list(actuator.biasprm)
        bias[0], bias[1] = 0.0, -kp
        actuator.biasprm = bias
    stack = [spec.body(FOREARM_BODY)]
    while stack:
        body = stack.pop()
        body.gravcomp = 1.0
        stack.extend(body.bodies)


def set_hand_friction(spec: mujoco.MjSpec) -> None:
    """Give every colliding hand geom objects.HAND_FRICTION (see objects.py for the values and why)."""
    stack = [spec.body(FOREARM_BODY)]
    while stack:
        body = stack.pop()
        for geom in body.geoms:
            if geom.contype or geom.conaffinity:
                geom.friction = list(HAND_FRICTION)
        stack.extend(body.bodies)


def add_lights_and_cameras(spec: mujoco.MjSpec) -> None:
    """A key light, a fill light, a sky gradient and the named cameras of CAMERAS."""
    spec.visual.headlight.ambient = [0.18, 0.18, 0.18]
    spec.visual.headlight.diffuse = [0.35, 0.35, 0.35]
    spec.visual.headlight.specular = [0.05, 0.05, 0.05]
    spec.visual.global_.offwidth = max(spec.visual.global_.offwidth, 1280)
    spec.visual.global_.offheight = max(spec.visual.global_.offheight, 960)
    spec.add_texture(name="sky", type=mujoco.mjtTexture.mjTEXTURE_SKYBOX, builtin=mujoco.mjtBuiltin.mjBUILTIN_GRADIENT,
                     rgb1=[0.75, 0.82, 0.90], rgb2=[0.25, 0.28, 0.32], width=64, height=64)
    world = spec.worldbody
    for light in list(world.lights):  # the relocate model's own lamp: replaced by ours
        spec.delete(light)
    world.add_light(name="key", pos=[0.6, 0.6, 1.8], dir=[-0.3, -0.3, -1.0], diffuse=[0.55, 0.55, 0.55],
                    castshadow=True)
    world.add_light(name="fill", pos=[-0.8, -0.4, 1.2], dir=[0.5, 0.2, -1.0], diffuse=[0.15, 0.15, 0.15],
                    castshadow=False)
    for name, (pos, target) in CAMERAS.items():
        p = np.asarray(pos, dtype=float)
        world.add_camera(name=name, pos=list(p), xyaxes=_look_at_xyaxes(p, np.asarray(target, dtype=float)),
                         fovy=50.0)


def base_scene_spec() -> mujoco.MjSpec:
    """Hand (servoed, gravity compensated), table, lights and cameras: what every task starts from."""
    spec = adroit_hand_spec()
    spec.option.timestep = TIMESTEP
    # Elliptic friction cones, as DexMV: the exact Coulomb cone (pyramids approximate it) for grasps,
    # with impratio 10 (MuJoCo's advice for grasping with elliptic cones: friction rows 10x stiffer
    # than normal ones, so held objects do not creep) instead of the Adroit model's 20 noslip
    # iterations, which cost a quarter of the step time for the same result in our grasp tests.
    spec.option.cone = mujoco.mjtCone.mjCONE_ELLIPTIC
    spec.option.impratio = 10.0
    spec.option.noslip_iterations = 0
    # implicitfast (MuJoCo's recommended integrator) rather than the Adroit model's Euler: with
    # Euler, a box struck by a flailing random policy spun up to 1,500 rad/s and diverged (1 of 36
    # random 2 s episodes); implicitfast kept every object below 50 rad/s in the same episodes.
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    spec.modelname = "dexmv_scene"
    servo_hand(spec)
    set_hand_friction(spec)
    add_table(spec)
    add_lights_and_cameras(spec)
    return spec


def hand_geom_ids(model: mujoco.MjModel) -> np.ndarray:
    """Ids of the hand's collision geoms (the bodies under the forearm that collide)."""
    root = model.body(FOREARM_BODY).id
    ids = []
    for g in range(model.ngeom):
        body = model.geom_bodyid[g]
        if (model.geom_contype[g] or model.geom_conaffinity[g]) and _is_descendant(model, body, root):
            ids.append(g)
    return np.asarray(ids, dtype=int)


def body_geom_ids(model: mujoco.MjModel, body_name: str) -> np.ndarray:
    """Ids of the colliding geoms of one body."""
    body = model.body(body_name).id
    return np.asarray([g for g in range(model.ngeom) if model.geom_bodyid[g] == body
                       and (model.geom_contype[g] or model.geom_conaffinity[g])], dtype=int)


def _is_descendant(model: mujoco.MjModel, body: int, root: int) -> bool:
    while body > 0:
        if body == root:
            return True
        body = model.body_parentid[body]
    return False


def check_hand_layout(model: mujoco.MjModel) -> None:
    """The first 30 qpos / actuators are the hand's, in ADROIT_JOINTS order (observations rely on it)."""
    for i, name in enumerate(ADROIT_JOINTS):
        if model.joint(i).name != name or model.jnt_qposadr[i] != i or model.actuator(i).name != f"A_{name}":
            raise RuntimeError(f"scene layout broken: joint {i} is {model.joint(i).name}, expected {name}")
