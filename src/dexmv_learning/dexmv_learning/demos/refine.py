"""Contact-aware refinement of the grasp: make the physical replay hold the object.

Why: a DexMV demonstration is kinematic. Perception says where the object was; retargeting puts
the robot fingers roughly where the human's were. In physics, fingers that only touch the object
(or miss it by millimetres) cannot lift it against gravity, so the replay passes over the object.

What (per demonstration, keeping the motion the human's):
1. The grasp phase comes from the object itself: it is closed from `CLOSE_S` before the object
   starts to rise (perceived lift onset) until it stops being carried (relocate: the end).
2. During the phase the finger joints are driven past the human's closure, `squeeze` radians in
   the direction each joint closed while the human grasped (flexion for the four fingers), ramped
   in and out smoothly: position servos whose targets lie inside the object press on it with a
   force proportional to the overlap, the closing-until-contact-forces-hold-it a human does.
3. Inverse dynamics is solved again on the adjusted trajectory (hand only: the object now comes
   from physics, not from the perceived poses) and replayed.
The smallest squeeze from SQUEEZES whose replay succeeds is kept (the least change to the human
motion); if none succeeds, the one with the best score. Arm and wrist joints are never changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dexmv_learning.demos.dataset import Demonstration
from dexmv_learning.demos.rollout import record_rollout

SQUEEZES = (0.15, 0.3, 0.5, 0.75, 1.0)  # rad past the human's closure
CLOSE_S = 0.35  # s before the lift onset that the squeeze starts ramping in
RAMP_S = 0.25  # s to ramp the squeeze out after the grasp phase
LIFT_ONSET_M = 0.01  # object rise that marks the lift onset
ARM_AND_WRIST = 8


@dataclass
class RefineResult:
    demonstration: Demonstration
    q: np.ndarray  # the adjusted reference (N, 30)
    squeeze: float
    tries: int


def grasp_phase(objects: np.ndarray, dt: float, task_id: str) -> tuple[int, int, int] | None:
    """(close start, lift onset, release) step indices from the perceived object heights, or None
    when the object never rises."""
    z = objects[:, 2]
    risen = np.flatnonzero(z - z[0] > LIFT_ONSET_M)
    if risen.size == 0:
        return None
    lift = int(risen[0])
    close = max(0, lift - round(CLOSE_S / dt))
    if task_id.startswith("relocate-"):
        release = len(z)
    else:  # carried until it is back near the table or stops moving for good
        moving = np.flatnonzero(np.linalg.norm(np.diff(objects[:, :3], axis=0), axis=1) / dt > 0.02)
        release = int(min(len(z), (moving[-1] if moving.size else lift) + 1))
    return close, lift, release


def squeeze_profile(n: int, close: int, lift: int, release: int, dt: float) -> np.ndarray:
    """0 -> 1 (smoothstep) between close and lift, 1 until release, back to 0 over RAMP_S."""
    s = np.zeros(n)
    t = np.arange(n)
    ramp_in = (t >= close) & (t < lift)
    x = (t[ramp_in] - close) / max(1, lift - close)
    s[ramp_in] = x * x * (3 - 2 * x)
    s[lift:release] = 1.0
    out = round(RAMP_S / dt)
    tail = (t >= release) & (t < release + out)
    x = 1 - (t[tail] - release) / max(1, out)
    s[tail] = x * x * (3 - 2 * x)
    return s


def closing_direction(q: np.ndarray, close: int, lift: int) -> np.ndarray:
    """Per joint: +1/-1 for the direction it moved while the human closed the hand, flexion (+1) for
    the four fingers' flexion joints (J0-J2) whatever they did; 0 for the arm and wrist."""
    from dexmv_sim.adroit import ADROIT_JOINTS

    d = np.sign(q[lift] - q[close])
    d[:ARM_AND_WRIST] = 0.0
    for i, name in enumerate(ADROIT_JOINTS):
        if name[:2] in ("FF", "MF", "RF", "LF") and name[-1] in "012":
            d[i] = 1.0
        elif name[:2] in ("FF", "MF", "RF", "LF"):
            d[i] = 0.0  # abduction joints (J3, LFJ4) keep the human's spread
    return d


def refine_grasp(sim, task_id: str, q: np.ndarray, objects: np.ndarray, options: dict[str, Any], config,
                 seed: int, source: dict[str, Any]) -> RefineResult:
    from dexmv_sim.inverse_dynamics import compute_actions
    from dexmv_sim.scene import CONTROL_DT
    from dexmv_sim.tasks.base import N_HAND

    limits = sim.model.jnt_range[:N_HAND]
    phase = grasp_phase(objects, CONTROL_DT, task_id)

    def replay(q_ref: np.ndarray) -> Demonstration:
        sim.reset(np.random.default_rng(seed), options)
        ident = compute_actions(sim, q_ref)
        return record_rollout(sim, ident.actions[:-1], reference_qpos=q_ref, seed=seed,
                              source={**source, "refined": True})

    if phase is None:
        return RefineResult(replay(q), q, 0.0, 1)
    close, lift, release = phase
    profile = squeeze_profile(len(q), close, lift, release, CONTROL_DT)
    direction = closing_direction(q, close, lift)
    best: tuple[float, float, Demonstration, np.ndarray] | None = None
    tries = 0
    for squeeze in SQUEEZES:
        q_ref = np.clip(q + squeeze * profile[:, None] * direction[None, :], limits[:, 0], limits[:, 1])
        demo = replay(q_ref)
        tries += 1
        score = float(demo.score[-1]) + (1.0 if demo.success[-1] else 0.0)
        if best is None or score > best[0]:
            best = (score, squeeze, demo, q_ref)
        if demo.success[-1]:
            break
    _, squeeze, demo, q_ref = best
    return RefineResult(demo, q_ref, squeeze, tries)
