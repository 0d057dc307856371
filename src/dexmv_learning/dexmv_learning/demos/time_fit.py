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
- pour, two rates: a pour must be done by the episode's end (its score is the water in the tank at
  the last step), and the synthetic pours start tipping the mug only after ~2.1 s (step ~210 of a
  200-step episode) while the tipping itself must stay slow (the water needs the time to flow: the
  whole pour sped up as one, x2.0-2.2, poured less than half as much). So the reach, grasp, lift
  and carry up to the tilt's onset are sped up as a relocation's (judged on the 2 Hz joints), the
  tilt onwards only within the limits on the 5 Hz joints, and the manipulation ends once the mug is
  tipped `POURING_SHARE` of its largest tilt: the reference then holds it there to the horizon, the
  water flowing as it does while the human holds it tipped, instead of playing that hold, the
  return upright and the putting down.
- start from the env's reset pose: training and evaluation episodes start the hand at the env's
  default pose (qpos 0, DexMV's), the human at their own; the offset between the two is faded out
  (quintic smoothstep) over the time the velocity and acceleration limits need (0.4-0.6 s on the
  default can motions, ending about when the grasp starts closing), inside the same horizon, so
  the demonstration starts where a policy's episode starts and then follows the human's path.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

ARRIVED_M = 0.02  # the manipulation ends when the object stays this close to its final position
MIN_FADE_S = 0.2  # the shortest fade from the reset pose onto the human's path
POUR_ONSET_RAD = np.radians(10.0)  # the mug's axis this far from vertical: the tilt has begun
POUR_MIN_TILT_RAD = np.radians(20.0)  # a largest tilt under this is no pour (as robot_grasp's POUR_MIN_TILT)
POURING_SHARE = 0.9  # tipped at least this share of its largest tilt: pouring
TILT_MEDIAN_S = 0.2  # the tilt judged on a running median: a perceived axis jumps for a frame or two
RATE_BLEND_S = 0.3  # s (of the demonstration) over which the speed-up eases into the pour's


@dataclass(frozen=True)
class TimeFit:
    factor: float  # applied speed-up (1: the human's timing)
    limit: float  # the largest factor the velocity and acceleration limits allow
    wanted: float  # the factor that ends the manipulation at the fraction of the horizon
    end_step: int  # the manipulation's last step after scaling (from the reference's start)
    human_end_step: int  # the same at the human's timing
    slow_from: int | None = None  # human step from which `slow_factor` applies instead (pour: the tilt)
    slow_factor: float = 1.0
    blend_steps: int = 30  # human steps before slow_from over which the rate eases (RATE_BLEND_S of output)

    def source_steps(self) -> np.ndarray:
        """The human's (fractional) step shown at each output step 0..end_step."""
        out = np.arange(self.end_step + 1, dtype=np.float64)
        if self.slow_from is None:
            return np.minimum(out * self.factor, self.human_end_step)
        grid, tau = self._warp()
        return np.interp(out, tau, grid)

    def _warp(self) -> tuple[np.ndarray, np.ndarray]:
        """(human steps on a fine grid, the output step each is shown at): the rate eases from
        `factor` to `slow_factor` over the RATE_BLEND_S before `slow_from` (smoothstep)."""
        grid = np.linspace(0.0, self.human_end_step, 10 * self.human_end_step + 1)
        blend = max(1, self.blend_steps)
        x = np.clip((grid - (self.slow_from - blend)) / blend, 0.0, 1.0)
        rate = self.factor + (self.slow_factor - self.factor) * (3 * x**2 - 2 * x**3)
        inv = 1.0 / rate
        tau = np.concatenate([[0.0], np.cumsum(0.5 * (inv[1:] + inv[:-1]) * np.diff(grid))])
        return grid, tau


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


def tilt_angles(objects: np.ndarray, dt: float) -> np.ndarray:
    """The angle (rad) between the object's model z axis and world up at each step, as a running
    median over TILT_MEDIAN_S. `objects` (N, 7): xyz + quaternion wxyz."""
    from scipy.ndimage import median_filter
    from scipy.spatial.transform import Rotation

    up = Rotation.from_quat(np.roll(objects[:, 3:], -1, axis=1)).as_matrix()[:, 2, 2]
    tilt = np.arccos(np.clip(up, -1.0, 1.0))
    return median_filter(tilt, size=max(1, round(TILT_MEDIAN_S / dt)) | 1, mode="nearest")


def pour_phase(objects: np.ndarray, dt: float) -> tuple[int, int] | None:
    """(onset, end) steps of the pour: where the mug starts tipping into it (its tilt last under
    POUR_ONSET_RAD before `end`) and the first step it is tipped POURING_SHARE of its largest tilt;
    None when it never tips POUR_MIN_TILT_RAD."""
    tilt = tilt_angles(objects, dt)
    if tilt.max() < POUR_MIN_TILT_RAD:
        return None
    end = int(np.flatnonzero(tilt >= POURING_SHARE * tilt.max())[0])
    level = np.flatnonzero(tilt[:end] < POUR_ONSET_RAD)
    onset = int(level[-1]) + 1 if level.size else 0
    return onset, end


def choose_factor(q: np.ndarray, objects: np.ndarray, dt: float, horizon: int, fraction: float,
                  vmax: np.ndarray, amax: np.ndarray, tolerated: float, *, end: int | None = None,
                  slow_from: int | None = None, slow_q: np.ndarray | None = None) -> TimeFit:
    """The speed-up that ends the manipulation (step `end`, default manipulation_end) by `fraction *
    horizon` steps, within the limits judged on `q`. With `slow_from`: the steps from there on are
    sped up only as far as the limits judged on `slow_q` (default `q`) allow, and the steps before it
    as far as needed to end in time then (module docstring, pour)."""
    end = manipulation_end(objects) if end is None else int(end)
    budget = max(1.0, fraction * horizon)
    if slow_from is None or not 0 < slow_from < end:
        wanted = max(1.0, end / budget)
        limit = limit_factor(q[:end + 1], dt, vmax, amax, tolerated)
        factor = float(min(wanted, max(1.0, limit)))
        return TimeFit(factor=round(factor, 4), limit=round(limit, 4), wanted=round(wanted, 4),
                       end_step=int(np.ceil(end / factor)), human_end_step=end)
    slow_q = q if slow_q is None else slow_q
    slow_limit = max(1.0, limit_factor(slow_q[slow_from:end + 1], dt, vmax, amax, tolerated))
    plan = TimeFit(factor=1.0, limit=0.0, wanted=0.0, end_step=0, human_end_step=end, slow_from=int(slow_from))

    def warped(factor: float) -> TimeFit:
        slow = round(min(slow_limit, factor), 4)
        # RATE_BLEND_S of the output: the human's steps it shows at the two rates' mean
        fit = replace(plan, factor=factor, slow_factor=slow,
                      blend_steps=max(1, min(int(slow_from), round(RATE_BLEND_S / dt * 0.5 * (factor + slow)))))
        return replace(fit, end_step=int(np.ceil(fit._warp()[1][-1] - 1e-9)))

    # the smallest first rate that ends in time (the end step falls as it grows): bisection
    lo, hi = 1.0, 1e3
    if warped(lo).end_step <= budget:
        hi = lo
    elif warped(hi).end_step > budget:
        lo = hi = np.inf  # not even then (the slow part alone is too long)
    else:
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            lo, hi = (lo, mid) if warped(mid).end_step <= budget else (mid, hi)
    wanted = float(np.ceil(hi * 1e4) / 1e4) if np.isfinite(hi) else hi  # rounded up: still in time
    limit = limit_factor(q[:slow_from + 1], dt, vmax, amax, tolerated)
    fit = warped(round(float(min(wanted, max(1.0, limit))), 4))
    return replace(fit, limit=round(limit, 4), wanted=round(min(wanted, 1e3), 4))


def scale_time(q: np.ndarray, objects: np.ndarray, dt: float, fit: TimeFit,
               horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """q (N, 30) and objects (N, 7: xyz + quat wxyz) at 100 Hz -> the same played `fit.factor` times
    faster (`fit.slow_factor` from `fit.slow_from`) up to the manipulation's end, then held still:
    horizon + 1 rows (more when the limits keep the manipulation from ending within the horizon)."""
    from scipy.interpolate import CubicSpline

    from dexmv_learning.demos.pose_interpolation import interpolate_poses

    end = fit.human_end_step
    t_src = np.arange(end + 1) * dt
    t_new = np.minimum(fit.source_steps() * dt, t_src[-1])
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
