"""Human trajectory -> robot demonstration, as DexMV made them, plus an optional physical refinement.

1. Repair perception gaps (gaps.py); long gaps drop the demonstration with the reason.
2. Retarget the hand keypoints to the 30 Adroit joints (dexmv_retarget batch API).
3. Hindsight goal: for relocate the target is where the object ended (its last perceived pose).
4. Resample from the camera rate to the 100 Hz control rate (cubic spline), low-pass filter it
   (zero-phase Butterworth) and clip joint velocities and accelerations (slides m/s, hinges rad/s).
   Fit it to the task's horizon (time_fit.py, `fit_horizon`, default 200 steps as DexMV): played
   faster (within those limits) so the manipulation ends by 75 % of the horizon, then held still;
   the hand starts at the env's reset pose and is faded onto the human's path (`hand_start`).
5. Place the simulated objects where perception saw them at the start (upright, perceived yaw).
6. Inverse dynamics (dexmv_sim.inverse_dynamics) of the hand gives the actions (the perceived
   object can enter its contacts, off by default: perceived poses overlap the fingers and give
   huge forces); replaying them with physics gives the stored observations, rewards and sim
   states (the demonstration is what the env really does under those actions).
7. Refinement (refine.py, on by default): the kinematic demonstration rarely lifts anything in
   physics; the grasp phase is adjusted until the replay holds the object, then step 6 is redone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dexmv_learning.demos.dataset import Demonstration
from dexmv_learning.demos.gaps import repair_gaps
from dexmv_learning.demos.rollout import record_rollout
from dexmv_learning.demos.symmetric_objects import upright_frames
from dexmv_learning.demos.trajectory import HumanTrajectory

SLIDES = 3  # the arm's three translations come first (metres); the rest are hinges (radians)
REFINE_MODES = ("contact", "none")
HAND_STARTS = ("reset", "human")


@dataclass(frozen=True)
class ConversionConfig:
    max_gap_s: float = 0.3
    max_held_gap_s: float = 1.0  # a longer gap while the hand holds the object is carried (demos.gaps)
    min_confidence: float = 0.3
    filter_cutoff_hz: float = 5.0  # low-pass on the 100 Hz joints (0: off)
    max_velocity: tuple[float, float] = (0.8, 6.0)  # slides m/s, hinges rad/s
    max_acceleration: tuple[float, float] = (8.0, 80.0)  # slides m/s^2, hinges rad/s^2
    # True: the perceived object enters inverse dynamics' contacts (its penetrations give huge forces)
    object_in_dynamics: bool = False
    refine: str = "contact"
    # Episode length (steps) the demonstration must fit: the human motion is sped up (never beyond
    # max_velocity/max_acceleration) so the manipulation ends by fit_fraction of it, then the
    # reference holds still to the horizon. None or 0: the human's own timing and length.
    fit_horizon: int | None = 200
    fit_fraction: float = 0.75
    # the speed-up may push at most this fraction of the (step, joint) values over the velocity and
    # acceleration limits (the limiter cuts them): brief human peaks already exceed them
    fit_limited_fraction: float = 0.05
    # ... judged on the joints low-passed at this cutoff (0: as filtered above; None: the task's
    # default, fit_smoothing_for): perception's jitter is not motion the arm has to follow (perceived
    # can motions at their own timing: 3-13 % of the values over the limits at 5 Hz, 0.1-0.8 % at
    # 2 Hz; their ground truth 0.1-0.8 % and 0-0.2 %), and the limiter cuts what the speed-up then
    # pushes over them
    fit_smoothing_hz: float | None = None
    # "reset": the demonstration starts at the env's default hand pose (where training and evaluation
    # episodes start) and fades onto the human's path; "human": at the human's retargeted first pose
    hand_start: str = "reset"


@dataclass
class ConversionResult:
    source: dict[str, Any]
    demonstration: Demonstration | None = None
    dropped: str = ""  # reason when no demonstration came out
    metrics: dict[str, Any] = field(default_factory=dict)


def moved_object(task_id: str) -> str:
    """The YCB id of the object the hand moves in a task."""
    if task_id.startswith("relocate-"):
        from dexmv_sim.objects import OBJECT_BY_SHORT_NAME

        return OBJECT_BY_SHORT_NAME[task_id.removeprefix("relocate-")]
    return {"pour": "025_mug", "place_inside": "011_banana"}[task_id]


def resample(stamps: np.ndarray, values: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Values sampled at `stamps` -> every `dt` seconds from the first stamp, by a cubic spline
    (smooth accelerations for inverse dynamics; linear interpolation gives impulses)."""
    from scipy.interpolate import CubicSpline

    t = np.arange(0.0, stamps[-1] - stamps[0] + 1e-9, dt)
    return t, CubicSpline(stamps - stamps[0], values, axis=0)(t)


def resample_poses(stamps: np.ndarray, poses: np.ndarray, t: np.ndarray) -> np.ndarray:
    """(T, 7) xyz + quat xyzw -> (len(t), 7) xyz + quat wxyz (MuJoCo order): spline and slerp."""
    from dexmv_learning.demos.pose_interpolation import interpolate_poses

    xyzw = interpolate_poses(stamps - stamps[0], poses, t, scalar_first=False)
    return np.concatenate([xyzw[:, :3], np.roll(xyzw[:, 3:], 1, axis=1)], axis=1)


def lowpass(q: np.ndarray, cutoff_hz: float, rate_hz: float) -> np.ndarray:
    """Zero-phase Butterworth (order 2, forward and backward): no lag against the object's motion."""
    from scipy.signal import butter, filtfilt

    if cutoff_hz <= 0 or len(q) < 16:
        return q
    b, a = butter(2, cutoff_hz, btype="low", fs=rate_hz)
    return filtfilt(b, a, q, axis=0, padlen=min(len(q) - 1, 3 * max(len(a), len(b))))


def clip_velocity_acceleration(q: np.ndarray, dt: float, vmax: np.ndarray,
                               amax: np.ndarray) -> tuple[np.ndarray, float]:
    """Follow `q` as closely as joint speed and acceleration limits allow (per joint); returns the
    limited trajectory and the fraction of (step, joint) values that were limited."""
    out = np.empty_like(q)
    out[0] = q[0]
    v = np.zeros(q.shape[1])
    limited = 0
    for t in range(1, len(q)):
        want = (q[t] - out[t - 1]) / dt
        v_new = np.clip(want, -vmax, vmax)
        v_new = np.clip(v_new, v - amax * dt, v + amax * dt)
        limited += int(np.sum(np.abs(v_new - want) > 1e-9))
        v = v_new
        out[t] = out[t - 1] + v * dt
    return out, limited / max(1, q.size)


def upright_quat_wxyz(quat_xyzw: np.ndarray) -> np.ndarray:
    """The yaw of a perceived orientation as an upright quaternion (wxyz): objects start resting."""
    from scipy.spatial.transform import Rotation

    yaw = Rotation.from_quat(quat_xyzw).as_euler("ZYX")[0]
    return np.array([np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)])


def reset_options(task_id: str, start_pose: np.ndarray, final_pose: np.ndarray, hand_q0: np.ndarray) -> dict[str, Any]:
    """Objects where perception saw them first (upright, table height from the task), relocate's
    target where the object ended (hindsight)."""
    quat = upright_quat_wxyz(start_pose[3:])
    options: dict[str, Any] = {"hand_qpos": hand_q0}
    if task_id.startswith("relocate-"):
        options.update(object_pos=start_pose[:2], object_quat=quat, target=final_pose[:3])
    elif task_id == "pour":
        options["mug_pos"] = start_pose[:2]
    elif task_id == "place_inside":
        options.update(banana_pos=start_pose[:2], banana_quat=quat)
    return options


def kinematic_reference(traj: HumanTrajectory, task_id: str, config: ConversionConfig, limits: np.ndarray,
                        metrics: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Steps 2 and 4: (q (N, 30) at 100 Hz, object poses (N, 7) xyz + quat wxyz at 100 Hz)."""
    from dexmv_retarget import RetargetConfig, Retargeter
    from dexmv_sim.scene import CONTROL_DT

    fps = traj.fps
    result = Retargeter(RetargetConfig(fps=fps, min_confidence=config.min_confidence)).retarget(
        traj.keypoints, traj.confidence)
    metrics["retarget_tsv_error_mm"] = round(float(result.tsv_error_mm), 2)
    metrics["camera_fps"] = round(fps, 2)
    t, q = resample(traj.stamps, result.joints, CONTROL_DT)
    q = lowpass(q, config.filter_cutoff_hz, 1.0 / CONTROL_DT)
    q = np.clip(q, limits[:, 0], limits[:, 1])
    vmax, amax = joint_rate_limits(q.shape[1], config)
    k = traj.object_index(moved_object(task_id))
    objects = resample_poses(traj.stamps, traj.object_poses[:, k], t)
    # perceived positions jitter by millimetres: the lift onset and the carried path use them smoothed
    objects[:, :3] = lowpass(objects[:, :3], config.filter_cutoff_hz, 1.0 / CONTROL_DT)
    metrics["human_steps"] = len(q)
    if config.fit_horizon:
        from dexmv_learning.demos.time_fit import choose_factor, pour_phase, scale_time

        def judged(hz: float) -> np.ndarray:
            return lowpass(q, hz, 1.0 / CONTROL_DT) if hz else q

        smoothing = fit_smoothing_for(task_id) if config.fit_smoothing_hz is None else config.fit_smoothing_hz
        pour = pour_phase(objects, CONTROL_DT) if task_id == "pour" else None
        if pour is None:
            fit = choose_factor(judged(smoothing), objects, CONTROL_DT, config.fit_horizon, config.fit_fraction, vmax,
                                amax, config.fit_limited_fraction)
        else:  # the approach and carry as fast as a relocation's, the tilt onwards as the pour allows
            approach = RELOCATE_FIT_SMOOTHING_HZ if config.fit_smoothing_hz is None else config.fit_smoothing_hz
            fit = choose_factor(judged(approach), objects, CONTROL_DT, config.fit_horizon, config.fit_fraction, vmax,
                                amax, config.fit_limited_fraction, end=pour[1], slow_from=pour[0],
                                slow_q=judged(smoothing))
        q, objects = scale_time(q, objects, CONTROL_DT, fit, config.fit_horizon)
        metrics["time_fit"] = {"horizon": config.fit_horizon, "factor": fit.factor, "limit_factor": fit.limit,
                               "wanted_factor": fit.wanted, "manipulation_end_step": fit.end_step,
                               "human_manipulation_end_step": fit.human_end_step}
        if pour is not None:
            metrics["time_fit"].update(pour_onset_human_step=fit.slow_from, pour_factor=fit.slow_factor)
    q, limited = clip_velocity_acceleration(q, CONTROL_DT, vmax, amax)
    metrics["velocity_acceleration_limited"] = round(limited, 4)
    return np.clip(q, limits[:, 0], limits[:, 1]), objects


RELOCATE_FIT_SMOOTHING_HZ = 2.0


def fit_smoothing_for(task_id: str) -> float:
    """The low-pass (Hz) on which the time fit judges the limits by default: 2 Hz for relocation, none
    beyond the reference's own filter for place_inside and for a pour's tilt onwards (its approach
    before the tilt is judged at 2 Hz: time_fit.py). A pour's score depends on how slowly the mug is
    tipped (the water needs the time to flow), which the limits on the 5 Hz joints keep near the
    human's (x1.0-1.2); the ground-truth pours of seeds 100-104 sped up as one, judged at 2 Hz (x2.0-2.2),
    poured less than half as much (refined score 0.52 -> 0.23)."""
    return RELOCATE_FIT_SMOOTHING_HZ if task_id.startswith("relocate-") else 0.0


def joint_rate_limits(n: int, config: ConversionConfig) -> tuple[np.ndarray, np.ndarray]:
    """Per-joint velocity and acceleration limits (slides first, then hinges)."""
    slide = np.arange(n) < SLIDES
    return (np.where(slide, config.max_velocity[0], config.max_velocity[1]),
            np.where(slide, config.max_acceleration[0], config.max_acceleration[1]))


def start_at_reset(sim, task_id: str, q: np.ndarray, objects: np.ndarray, config: ConversionConfig,
                   metrics: dict[str, Any]) -> np.ndarray:
    """q starting at the env's default hand pose, faded onto the human's path (time_fit.start_from)
    within the velocity and acceleration limits."""
    from dexmv_learning.demos.refine import grasp_phase
    from dexmv_learning.demos.time_fit import fade_steps, start_from
    from dexmv_sim.scene import CONTROL_DT

    limits = sim.model.jnt_range[:q.shape[1]]
    vmax, amax = joint_rate_limits(q.shape[1], config)
    start = np.clip(np.asarray(sim.hand_qpos0, dtype=np.float64), limits[:, 0], limits[:, 1])
    steps = fade_steps(start - q[0], CONTROL_DT, vmax, amax)
    phase = grasp_phase(objects, CONTROL_DT, task_id)
    moved = start_from(q, start, steps)
    moved, _ = clip_velocity_acceleration(moved, CONTROL_DT, vmax, amax)
    metrics["hand_start"] = {"fade_steps": steps, "grasp_close_step": None if phase is None else phase[0],
                             "human_start_offset_max": round(float(np.abs(start - q[0]).max()), 4)}
    return np.clip(moved, limits[:, 0], limits[:, 1])


_FREE_HAND_MODELS: dict[int, Any] = {}


def free_hand_sim(sim):
    """A twin of `sim` whose model has contacts and joint limits switched off, for inverse dynamics.

    Retargeted fingers interpenetrate each other and the table by millimetres and sit on their
    limits; mj_inverse turns every such overlap into a large constraint force, so that 40 % of the
    action values of a synthetic relocate demo came out clipped and the replay broke down even with
    no object in the scene. The free hand's inverse dynamics gives the actions that move the hand
    along the motion; contacts then act in the physical replay only (10 % clipped, mostly the arm at
    its slide limits)."""
    import mujoco

    from dexmv_sim.simulation import TaskSimulation, build_model

    key = id(sim)
    if key not in _FREE_HAND_MODELS:
        from dexmv_sim.tasks import make_task

        model = build_model(make_task(sim.task_id))
        model.opt.disableflags |= int(mujoco.mjtDisableBit.mjDSBL_CONTACT) | int(mujoco.mjtDisableBit.mjDSBL_LIMIT)
        _FREE_HAND_MODELS[key] = (sim, TaskSimulation(sim.task_id, model=model))
    return _FREE_HAND_MODELS[key][1]


def hand_actions(sim, q: np.ndarray, options: dict[str, Any], seed: int, config: ConversionConfig,
                 task_id: str, objects: np.ndarray | None = None) -> np.ndarray:
    """Normalized actions (T, 30) that drive the hand along q (inverse dynamics)."""
    from dexmv_sim.inverse_dynamics import compute_actions

    if config.object_in_dynamics and objects is not None:
        sim.reset(np.random.default_rng(seed), options)
        return compute_actions(sim, q, object_qpos=objects, object_joint=f"{moved_object(task_id)}/joint").actions
    free = free_hand_sim(sim)
    free.reset(np.random.default_rng(seed), options)
    return compute_actions(free, q).actions


def physical_replay(sim, task_id: str, q: np.ndarray, objects: np.ndarray, options: dict[str, Any],
                    config: ConversionConfig, seed: int, source: dict[str, Any]) -> Demonstration:
    """Steps 5 and 6: inverse dynamics on q, then the physical replay recorded as a Demonstration."""
    actions = hand_actions(sim, q, options, seed, config, task_id, objects)
    sim.reset(np.random.default_rng(seed), options)
    # actions[t] drives q_t -> q_t+1: T-1 steps from q_0 reproduce the T reference rows
    return record_rollout(sim, actions[:-1], reference_qpos=q, seed=seed, source=source)


def demo_metrics(demo: Demonstration, q: np.ndarray, horizon: int | None = None) -> dict[str, Any]:
    """Tracking of the reference and the outcome. Success and score are judged where a learner's
    episode ends, at step `horizon` (its last step when shorter or None), as an evaluation judges a
    policy; a demonstration longer than the horizon also reports them at its own end (`*_at_end`)."""
    from dexmv_sim.inverse_dynamics import tracking_error

    err = tracking_error(q, demo.observations[:, :30].astype(np.float64))
    at = len(demo) if not horizon else min(horizon, len(demo))
    out = {"tracking_max_mm": round(err["max_m"] * 1000, 2), "tracking_rms_mm": round(err["rms_m"] * 1000, 2),
           "tracking_max_rad": round(err["max_rad"], 4), "tracking_rms_rad": round(err["rms_rad"], 4),
           "success": bool(demo.success[at]), "score": round(float(demo.score[at]), 3), "judged_at_step": at,
           "steps": len(demo), "first_success_step": first_success_step(demo)}
    if at < len(demo):
        out.update(success_at_end=bool(demo.success[-1]), score_at_end=round(float(demo.score[-1]), 3))
    return out


def first_success_step(demo: Demonstration) -> int | None:
    """The first step (1-based: after that many actions) whose state succeeds, None if none does."""
    hit = np.flatnonzero(np.asarray(demo.success, dtype=bool))
    return None if hit.size == 0 else int(hit[0])


MAX_START_HEIGHT_ERROR_M = 0.04  # perceived start height vs the object's resting height
MAX_GRASP_DISTANCE_M = 0.2  # retargeted palm to the perceived object when it starts to rise


def implausible_object(sim, task_id: str, q: np.ndarray, objects: np.ndarray) -> str:
    """Why the perceived object track cannot be the moved object's (empty when it can be).

    A registration that locked onto something else passes every NaN and confidence check; two
    physical facts catch it: the object starts resting on the table, and the hand is at it when it
    starts to rise."""
    from dexmv_learning.demos.refine import grasp_phase, palm_positions
    from dexmv_sim.scene import CONTROL_DT

    task = sim.task
    rest = task.banana_rest_z if task_id == "place_inside" else task.rest_z
    if abs(objects[0, 2] - rest) > MAX_START_HEIGHT_ERROR_M:
        return (f"perceived {moved_object(task_id)} starts {objects[0, 2]:.3f} m above the table, not resting "
                f"(its resting height is {rest:.3f} m): object pose implausible")
    phase = grasp_phase(objects, CONTROL_DT, task_id)
    if phase is not None:
        gap = float(np.linalg.norm(palm_positions(sim, q[phase[1]:phase[1] + 1])[0] - objects[phase[1], :3]))
        if gap > MAX_GRASP_DISTANCE_M:
            return (f"the hand is {gap:.2f} m from the perceived {moved_object(task_id)} when it starts to rise: "
                    "hand or object pose implausible")
    return ""


def palm_deviation(sim, demo: Demonstration, q: np.ndarray) -> dict[str, float]:
    """How far (mm) the replayed palm went from the human's retargeted palm path: what the refinement
    changed of the human's motion (RMS over the demonstration, and the largest)."""
    from dexmv_learning.demos.refine import palm_positions

    n = min(len(q), len(demo.observations))
    replayed = palm_positions(sim, demo.observations[:n, :30].astype(np.float64))
    gap = np.linalg.norm(replayed - palm_positions(sim, q[:n]), axis=1)
    return {"palm_deviation_rms_mm": round(float(np.sqrt(np.mean(gap**2)) * 1000), 1),
            "palm_deviation_max_mm": round(float(gap.max() * 1000), 1)}


def convert(traj: HumanTrajectory, task_id: str, config: ConversionConfig = ConversionConfig(), *, seed: int = 0,
            sim=None) -> ConversionResult:
    """One human trajectory -> one robot demonstration (or the reason it was dropped)."""
    from dexmv_sim.simulation import TaskSimulation
    from dexmv_sim.tasks.base import N_HAND

    if config.refine not in REFINE_MODES:
        raise ValueError(f"refine must be one of {', '.join(REFINE_MODES)}, got '{config.refine}'")
    if config.hand_start not in HAND_STARTS:
        raise ValueError(f"hand_start must be one of {', '.join(HAND_STARTS)}, got '{config.hand_start}'")
    if (config.fit_horizon is not None and config.fit_horizon < 0) or not 0 < config.fit_fraction <= 1:
        raise ValueError(f"fit_horizon must be >= 0 (0/None: the human's timing) and fit_fraction in (0, 1], "
                         f"got {config.fit_horizon} and {config.fit_fraction}")
    source = {"path": traj.path, "source": traj.source, "task_hint": traj.meta.get("task"),
              "seed_hint": traj.meta.get("seed")}
    result = ConversionResult(source=source)
    obj = moved_object(task_id)
    if obj not in traj.object_ids:
        result.dropped = f"no poses of {obj} in {traj.path or traj.source}"
        return result
    traj, turned = upright_frames(traj, obj)
    result.metrics["object_frame_turned"] = turned
    fixed, repair = repair_gaps(traj, [obj], max_gap_s=config.max_gap_s, max_held_gap_s=config.max_held_gap_s,
                                min_confidence=config.min_confidence)
    result.metrics.update(filled_hand_frames=repair.filled_hand_frames,
                          filled_object_frames=repair.filled_object_frames, trimmed_frames=repair.trimmed_frames,
                          rejected_object_frames=repair.rejected_object_frames,
                          carried_frames=repair.carried_frames, still_frames=repair.still_frames,
                          approach_frames=repair.approach_frames,
                          idle_trimmed_s=round(repair.idle_trimmed_s, 3))
    if repair.reason:
        result.dropped = repair.reason
        return result
    sim = sim or TaskSimulation(task_id)
    limits = sim.model.jnt_range[:N_HAND]
    q, objects = kinematic_reference(fixed, task_id, config, limits, result.metrics)
    if len(q) < 20:
        result.dropped = f"only {len(q)} control steps after repair (under 0.2 s)"
        return result
    implausible = implausible_object(sim, task_id, q, objects)
    if implausible:
        result.dropped = implausible
        return result
    # objects as MuJoCo free-joint qpos (xyz + wxyz) at 100 Hz; hindsight target from the last pose
    start = np.concatenate([objects[0, :3], np.roll(objects[0, 3:], -1)])
    final = np.concatenate([objects[-1, :3], np.roll(objects[-1, 3:], -1)])
    human_q = q
    if config.hand_start == "reset":
        q = start_at_reset(sim, task_id, q, objects, config, result.metrics)
    options = reset_options(task_id, start, final, q[0])
    kinematic = physical_replay(sim, task_id, q, objects, options, config, seed, {**source, "refined": False})
    result.metrics["kinematic"] = demo_metrics(kinematic, q, config.fit_horizon)
    demo = kinematic
    if config.refine == "contact":
        from dexmv_learning.demos.refine import refine_grasp

        refined = refine_grasp(sim, task_id, q, objects, options, config, seed, source)
        result.metrics["refined"] = {**demo_metrics(refined.demonstration, refined.q, config.fit_horizon),
                                     "grasp": refined.grasp, "adjustment": vars(refined.adjustment),
                                     "human_grasp_at_limits": round(refined.human_grasp_at_limits, 3),
                                     **palm_deviation(sim, refined.demonstration, human_q),
                                     "tries": refined.tries}
        demo = refined.demonstration
    demo.source = {**demo.source, "options": {k: np.asarray(v).tolist() for k, v in options.items()},
                   "time_fit": result.metrics.get("time_fit"), "hand_start": config.hand_start}
    result.demonstration = demo
    return result
