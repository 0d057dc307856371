"""Inverse dynamics: the normalized actions that make the simulated hand follow a joint trajectory.

DexMV turns retargeted human motion (joint positions at the control rate) into robot
demonstrations with actions for GAIL+ and DAPG. For each control step t:
1. velocities and accelerations by finite differences of the trajectory (central inside, one-sided
   at the ends): v_t = (q_t+1 - q_t-1) / 2dt, a_t = (q_t+1 - 2 q_t + q_t-1) / dt^2 with dt = 10 ms;
2. mj_inverse at (q_t, v_t, a_t), objects at their given (or current) state: the generalized
   force each hand joint needs, gravity compensation, damping and contact forces accounted for;
3. the servo inverted: force = gain * ctrl + bias0 + bias1 * q + bias2 * v, so
   ctrl = (force - bias0 - bias1 q_t - bias2 v_t) / gain, i.e. the position target q_t + force / kp;
4. normalized with the shared action map (actions.py) and clipped to [-1, 1].

Replaying those actions from (q_0, v_0) tracks the trajectory; `tracking_error` reports how well.
The force is held constant over the 5 physics steps of a control step while the servo's force
changes with q, so the residual error is first order in dt * velocity (see the tests for numbers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import mujoco
import numpy as np

from dexmv_sim.adroit import ADROIT_JOINTS
from dexmv_sim.scene import CONTROL_DT
from dexmv_sim.simulation import TaskSimulation
from dexmv_sim.tasks.base import N_HAND

SLIDES = 3  # ARTx, ARTy, ARTz are slides (metres); the other 27 joints are hinges (radians)


class TrajectoryError(ValueError):
    """A joint trajectory of the wrong shape, too short, or not finite."""


@dataclass(frozen=True)
class InverseDynamicsResult:
    actions: np.ndarray  # (T, 30) normalized, in [-1, 1]; actions[t] drives q_t -> q_t+1 (the last repeats)
    targets: np.ndarray  # (T, 30) the servo position targets (controls) before normalization
    qvel: np.ndarray  # (T, 30) finite-difference velocities used
    clipped: float  # fraction of action values that were clipped to [-1, 1]


def finite_differences(q: np.ndarray, dt: float = CONTROL_DT) -> tuple[np.ndarray, np.ndarray]:
    """Velocities and accelerations of a trajectory sampled every `dt` seconds (T x n)."""
    v = np.gradient(q, dt, axis=0, edge_order=2)
    a = np.gradient(v, dt, axis=0, edge_order=2)
    return v, a


def _check(hand_qpos: np.ndarray) -> np.ndarray:
    q = np.asarray(hand_qpos, dtype=np.float64)
    if q.ndim != 2 or q.shape[1] != N_HAND:
        raise TrajectoryError(f"hand trajectory must be (T, {N_HAND}) joint positions in ADROIT_JOINTS order, "
                              f"got shape {q.shape}")
    if len(q) < 3:
        raise TrajectoryError(f"need at least 3 frames for finite differences, got {len(q)}")
    if not np.all(np.isfinite(q)):
        raise TrajectoryError("hand trajectory contains NaN or infinity")
    return q


def compute_actions(sim: TaskSimulation, hand_qpos: np.ndarray, *, object_qpos: np.ndarray | None = None,
                    object_joint: str | None = None) -> InverseDynamicsResult:
    """Actions reproducing `hand_qpos` (T x 30, at 100 Hz) on `sim`'s model.

    `object_qpos` (T x 7, position + quaternion) with `object_joint` (a free joint's name) gives
    the object's trajectory, so contact forces between hand and object enter the dynamics; without
    it the rest of the state is taken from `sim` as it is now (call `sim.reset` first).
    """
    q = _check(hand_qpos)
    model = sim.model
    data = mujoco.MjData(model)
    data.qpos[:] = sim.data.qpos
    data.mocap_pos[:] = sim.data.mocap_pos
    data.mocap_quat[:] = sim.data.mocap_quat
    v, a = finite_differences(q)
    obj_adr = None
    if object_qpos is not None:
        if object_joint is None:
            raise TrajectoryError("object_qpos needs object_joint (the object's free joint name)")
        object_qpos = np.asarray(object_qpos, dtype=np.float64)
        if object_qpos.shape != (len(q), 7):
            raise TrajectoryError(f"object trajectory must be ({len(q)}, 7), got {object_qpos.shape}")
        joint = model.joint(object_joint).id
        obj_adr, obj_dof = model.jnt_qposadr[joint], model.jnt_dofadr[joint]
        obj_v = np.zeros((len(q), 6))
        obj_a = np.zeros((len(q), 6))
        obj_v[:, :3], obj_a[:, :3] = finite_differences(object_qpos[:, :3])
        # angular velocity from consecutive quaternions (world frame), then its derivative
        for t in range(len(q) - 1):
            mujoco.mju_subQuat(obj_v[t, 3:], object_qpos[t + 1, 3:], object_qpos[t, 3:])
            obj_v[t, 3:] /= CONTROL_DT
        obj_v[-1, 3:] = obj_v[-2, 3:]
        obj_a[:, 3:] = np.gradient(obj_v[:, 3:], CONTROL_DT, axis=0)
    gain = model.actuator_gainprm[:N_HAND, 0]
    bias = model.actuator_biasprm[:N_HAND, :3]
    targets = np.empty_like(q)
    for t in range(len(q)):
        data.qpos[:N_HAND] = q[t]
        data.qvel[:] = 0.0
        data.qvel[:N_HAND] = v[t]
        data.qacc[:] = 0.0
        data.qacc[:N_HAND] = a[t]
        if obj_adr is not None:
            data.qpos[obj_adr:obj_adr + 7] = object_qpos[t]
            data.qvel[obj_dof:obj_dof + 6] = obj_v[t]
            data.qacc[obj_dof:obj_dof + 6] = obj_a[t]
        mujoco.mj_inverse(model, data)
        force = data.qfrc_inverse[:N_HAND]
        targets[t] = (force - bias[:, 0] - bias[:, 1] * q[t] - bias[:, 2] * v[t]) / gain
    raw = sim.actions.to_actions(targets)
    clipped = float(np.mean(np.abs(raw) > 1.0))
    return InverseDynamicsResult(np.clip(raw, -1.0, 1.0), targets, v, clipped)


def replay(sim: TaskSimulation, actions: np.ndarray, start_qpos: np.ndarray, start_qvel: np.ndarray,
           on_step: Callable[[int], None] | None = None) -> np.ndarray:
    """Hand joint positions (T x 30) reached by applying `actions` from (start_qpos, start_qvel);
    row 0 is the start, row t the state after t actions (the other bodies start as `sim` has them).
    on_step(t) runs at the start and after each action (t = 0 .. T-1), e.g. to render a frame."""
    sim.data.qpos[:N_HAND] = start_qpos
    sim.data.qvel[:] = 0.0
    sim.data.qvel[:N_HAND] = start_qvel
    mujoco.mj_forward(sim.model, sim.data)
    out = [sim.data.qpos[:N_HAND].copy()]
    if on_step:
        on_step(0)
    for t, action in enumerate(actions[:-1], 1):
        sim.step_action(action)
        out.append(sim.data.qpos[:N_HAND].copy())
        if on_step:
            on_step(t)
    return np.asarray(out)


def tracking_error(desired: np.ndarray, achieved: np.ndarray) -> dict[str, float | str]:
    """Max and RMS error of slides (m) and hinges (rad), and the worst joint."""
    err = np.abs(np.asarray(achieved) - np.asarray(desired))
    worst = int(np.unravel_index(np.argmax(err[:, SLIDES:]), err[:, SLIDES:].shape)[1]) + SLIDES
    return {
        "max_m": float(err[:, :SLIDES].max()), "rms_m": float(np.sqrt(np.mean(err[:, :SLIDES] ** 2))),
        "max_rad": float(err[:, SLIDES:].max()), "rms_rad": float(np.sqrt(np.mean(err[:, SLIDES:] ** 2))),
        "worst_joint": ADROIT_JOINTS[worst],
    }
