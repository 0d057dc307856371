"""Fit a retargeted human motion into the task's episode, as DexMV's demonstrations fit its env.

People are slow: the default synthetic motions take ~4 s (396 control steps at 100 Hz) and move the
object to its target only after 2-3 s, while DexMV's episodes are 200 steps and success is judged at
the last one, so even a perfect imitation of the human's timing scores 0. Two changes fix that:

- time scaling: the kinematic reference (joints and the perceived object, 100 Hz) is replayed
  `factor` times faster, so that the manipulation (start -> the object comes to rest at its final
  position, the relocate target) ends by `fraction` of the horizon; the factor never slows the
  human down and stays where the conversion's joint velocity and acceleration limits (speed scales
  by the factor, acceleration by its square) cut at most a tolerated fraction of the values.
  After the manipulation the reference holds still to the horizon.
- start from the env's reset pose: training and evaluation episodes start the hand at the env's
  default pose (qpos 0, DexMV's), the human at their own; the offset between the two is faded out
  (quintic smoothstep) over the time the velocity and acceleration limits need (0.4-0.6 s on the
  default can motions, ending about when the grasp starts closing), inside the same horizon, so
  the demonstration starts where a policy's episode starts and then follows the human's path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ARRIVED_M = 0.02  # the manipulation ends when the object stays this close to its final position
MIN_FADE_S = 0.2  # the shortest fade from the reset pose onto the human's path


@dataclass(frozen=True)
class TimeFit:
    factor: float  # applied speed-up (1: the human's timing)
    limit: float  # the largest factor the velocity and acceleration limits allow
    wanted: float  # the factor that ends the manipulation at the fraction of the horizon
    end_step: int  # the manipulation's last step after scaling (from the reference's start)
    human_end_step: int  # the same at the human's timing


def manipulation_end(objects: np.ndarray) -> int:
    """Index where the object arrives at its final position (the relocate target, by hindsight) and
    stays within ARRIVED_M of it; the last index when it never moves away, so nothing is cut."""
    away = np.flatnonzero(np.linalg.norm(objects[:, :3] - objects[-1, :3], axis=1) > ARRIVED_M)
    return len(objects) - 1 if away.size == 0 else int(min(len(objects) - 1, away[-1] + 1))


def limited_fraction(q: np.ndarray, dt: float, factor: float, vmax: np.ndarray, amax: np.ndarray) -> float:
    """Fraction of (step, joint) values of q played `factor` times faster whose speed or acceleration
    exceeds the limits (what the limiter will have to cut)."""
    v = np.abs(np.gradient(q, dt, axis=0)) * factor
    a = np.abs(np.gradient(np.gradient(q, dt, axis=0), dt, axis=0)) * factor**2
    return float(np.mean((v > vmax) | (a > amax)))


def limit_factor(q: np.ndarray, dt: float, vmax: np.ndarray, amax: np.ndarray, tolerated: float) -> float:
    """The largest speed-up whose limited fraction (limited_fraction) stays within `tolerated`.

    Not the strict bound (every value within the limits): human motions already exceed the robot's
    limits in brief peaks (a finger closing on the object, the lift's jerk; 1-5 % of the values of
    the synthetic can motions at their own timing), which the limiter cuts as before."""
    if len(q) < 3:
        return 1.0
    lo, hi = 0.0, 20.0
    if limited_fraction(q, dt, hi, vmax, amax) <= tolerated:
        return hi
    for _ in range(30):  # the fraction grows with the factor: bisection
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if limited_fraction(q, dt, mid, vmax, amax) <= tolerated else (lo, mid)
    return lo


def choose_factor(q: np.ndarray, objects: np.ndarray, dt: float, horizon: int, fraction: float,
                  vmax: np.ndarray, amax: np.ndarray, tolerated: float) -> TimeFit:
    """The speed-up that ends the manipulation by `fraction * horizon` steps, within the limits."""
    end = manipulation_end(objects)
    wanted = max(1.0, end / max(1.0, fraction * horizon))
    limit = limit_factor(q[:end + 1], dt, vmax, amax, tolerated)
    factor = float(min(wanted, max(1.0, limit)))
    return TimeFit(factor=round(factor, 4), limit=round(limit, 4), wanted=round(wanted, 4),
                   end_step=int(np.ceil(end / factor)), human_end_step=end)


def scale_time(q: np.ndarray, objects: np.ndarray, dt: float, fit: TimeFit,
               horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """q (N, 30) and objects (N, 7: xyz + quat wxyz) at 100 Hz -> the same played `fit.factor` times
    faster up to the manipulation's end, then held still: horizon + 1 rows (more when the limits
    keep the manipulation from ending within the horizon)."""
    from scipy.interpolate import CubicSpline

    from dexmv_learning.demos.pose_interpolation import interpolate_poses

    end = fit.human_end_step
    t_src = np.arange(end + 1) * dt
    t_new = np.minimum(np.arange(fit.end_step + 1) * dt * fit.factor, t_src[-1])
    q_new = CubicSpline(t_src, q[:end + 1], axis=0)(t_new) if end >= 2 else q[np.rint(t_new / dt).astype(int)]
    obj_new = interpolate_poses(t_src, objects[:end + 1], t_new, scalar_first=True)
    rows = max(horizon + 1, len(q_new))
    hold = rows - len(q_new)
    return (np.concatenate([q_new, np.repeat(q_new[-1:], hold, axis=0)]),
            np.concatenate([obj_new, np.repeat(obj_new[-1:], hold, axis=0)]))


def fade_steps(offset: np.ndarray, dt: float, vmax: np.ndarray, amax: np.ndarray) -> int:
    """Steps a quintic smoothstep needs to remove `offset` within the limits (peak speed 1.875 d/T,
    peak acceleration 5.774 d/T^2), at least MIN_FADE_S."""
    d = np.abs(offset)
    duration = max(MIN_FADE_S, float(np.max(1.875 * d / vmax)), float(np.sqrt(np.max(5.774 * d / amax))))
    return int(np.ceil(duration / dt))


def start_from(q: np.ndarray, start: np.ndarray, steps: int) -> np.ndarray:
    """q with its first row moved to `start`, the offset faded out over `steps` (smoothstep 1 -> 0)."""
    s = np.clip(np.arange(len(q)) / max(1, steps), 0.0, 1.0)
    weight = 1.0 - (10 * s**3 - 15 * s**4 + 6 * s**5)
    return q + weight[:, None] * (np.asarray(start, dtype=np.float64) - q[0])[None, :]
