"""Human hand keypoints to Adroit joint targets: the streaming (frame by frame) and batch APIs.

    from dexmv_retarget import Retargeter, RetargetConfig
    rt = Retargeter(RetargetConfig(filter_cutoff_hz=8.0, fps=30.0))
    frame = rt.step(keypoints_21x3, confidence_21)      # live: one frame, state kept inside
    traj = rt.retarget(keypoints_Tx21x3, confidence)    # offline: resets, then the same steps

Per frame: check the keypoints (missing, low confidence, or the outer end of one of a few finger
bones no human hand has: plausibility.stray_keypoints), update the hand-size estimate, scale
the human vectors, start from the previous solution (or the stage-1 guess after a reset or a
held frame), solve stage 2, low-pass filter, clip to the joint limits. A frame whose palm
keypoints are unusable holds the last good solution (status HELD); a finger whose tip vector is
unusable keeps its joints while the rest of the hand follows (status PARTIAL). Joints are never
NaN and never outside their limits.

`fingers_only` retargets hand-relative: the 6 arm and 2 wrist joints stay at `held_arm` and the
human vectors are rotated into the robot palm's frame (the rotation that best aligns the rigid
wrist-to-MCP vectors of both hands), for users who drive the wrist separately.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field, replace

import numpy as np

from dexmv_retarget.hand_keypoints import (
    FINGERS,
    NUM_KEYPOINTS,
    PALM_KEYPOINTS,
    WRIST,
    KeypointInputError,
    check_confidence,
    check_keypoints,
    valid_keypoints,
)
from dexmv_retarget.hand_scale import HandScale, human_lengths_from
from dexmv_retarget.initial_guess import NUM_ARM_AND_WRIST, InitialGuess
from dexmv_retarget.kinematics import AdroitKinematics
from dexmv_retarget.lowpass import LowPassFilter
from dexmv_retarget.palm_frame import fit_rotation
from dexmv_retarget.plausibility import Workspace, check_hand, stray_keypoints
from dexmv_retarget.reference import SLSQPSolver
from dexmv_retarget.solver import FrameProblem, ProjectedLevenbergMarquardt, SolverSettings, TSVObjective
from dexmv_retarget.task_vectors import (
    NUM_TASK_VECTORS,
    NUM_VECTORS,
    PAPER,
    SEGMENT,
    SHAPE,
    TASK,
    VECTOR_FINGER,
    VECTOR_PAIRS,
    chain_lengths,
    task_vectors,
    vector_validity,
)
from dexmv_sim.adroit import ADROIT_JOINTS, PALM_BODY

# Joints of each finger (qpos indices), in FINGERS order.
FINGER_JOINTS: dict[str, np.ndarray] = {
    f: np.array([i for i, n in enumerate(ADROIT_JOINTS) if n.startswith(p)])
    for f, p in zip(FINGERS, ("TH", "FF", "MF", "RF", "LF"), strict=True)
}


# Wrist-to-MCP vectors (indices into task_vectors) of the index, middle and ring fingers, whose
# metacarpals are rigid in the human palm and in Adroit's; the little finger's is not in either.
_RIGID_PALM_VECTORS = (11, 12, 13)
_LITTLE_PALM_VECTOR = 14


class FrameStatus(enum.IntEnum):
    """What happened to a frame (the node maps OK to diagnostic OK and the others to WARN)."""

    OK = 0  # every vector used
    PARTIAL = 1  # some keypoints missing: the fingers they belong to kept their joints
    HELD = 2  # palm keypoints missing: the whole hand kept the last good solution
    REJECTED = 3  # not a plausible human hand in reach (plausibility.py): the last good solution is kept


@dataclass(frozen=True)
class RetargetConfig:
    """Everything that changes the result; defaults are what `dexmv retarget` and the node use."""

    fingers_only: bool = False
    held_arm: tuple[float, ...] | None = None  # 8 values (ARTx..ARRz, WRJ1, WRJ0) held in fingers-only mode
    min_confidence: float = 0.3  # keypoints below this count as missing
    wrist_weight: float = 1.0  # weight of the palm-origin position target (world mode)
    segment_weight: float = 0.3  # weight of the ten per-finger-scaled segment vectors (0: the paper's ten only)
    shape_weight: float = 0.3  # weight of the five MCP-to-PIP shape vectors
    solver: SolverSettings = field(default_factory=SolverSettings)
    fps: float = 30.0  # frame rate of the input, for the filter
    filter_cutoff_hz: float | None = None  # None: no low-pass filter
    filter_order: int = 2
    calibration_frames: int = 30  # frames of the running hand-size estimate
    human_lengths: tuple[float, ...] | None = None  # fixed hand size (chain lengths, m), e.g. from calibrate()
    scaling_factor: float | None = None  # the paper vectors' one scale (dex-retargeting's); None: robot/human size
    angle_gain: tuple[float, ...] | None = None  # stage-1 linear map, 30 values (default 1)
    angle_offset: tuple[float, ...] | None = None  # stage-1 linear map, 30 values (default 0)
    method: str = "lm"  # "lm" (ours) or "slsqp" (the reference, slower)
    check_plausibility: bool = True  # reject frames that are not a human hand in the robot's reach
    workspace_margin: float = 0.10  # m around the palm's reachable box (world mode)
    max_wrist_error: float = 0.05  # m: beyond this a solved frame is flagged "wrist_unreachable"
    # ... and solved again with the wrist term this many times heavier, kept when its palm is nearer
    # the wrist (0: off). Where the arm cannot give the hand's orientation at its position, the
    # vectors' quadratic cost outweighs the wrist's linear (Huber) one and the palm left the wrist by
    # 20 cm; DexMV's arm follows the wrist pose outright
    unreachable_wrist_weight: float = 20.0


@dataclass
class FrameResult:
    """One frame's output and what the node reports about it."""

    joints: np.ndarray  # (30,) filtered, within limits: the joint targets
    raw: np.ndarray  # (30,) optimizer output (or the held solution)
    status: FrameStatus
    message: str
    vector_error_mm: np.ndarray  # (10,) |scaled human - robot| per task vector; NaN where unused
    solve_time_s: float  # the whole step, stage 1 and filter included
    iterations: int
    invalid_keypoints: tuple[int, ...]
    held_fingers: tuple[str, ...]
    targets: np.ndarray  # (V, 3) scaled human vectors the robot was asked for (world)
    weights: np.ndarray  # (V,) weight each vector had (0: unused)
    wrist_error_mm: float = float("nan")  # |human wrist - robot palm origin|, world mode (NaN otherwise)
    reasons: tuple[str, ...] = ()  # why the frame was rejected or flagged (plausibility.REASONS, wrist_unreachable)

    @property
    def tsv_error_mm(self) -> float:
        """Mean task-space-vector error over the vectors used (NaN when the frame was held)."""
        used = np.isfinite(self.vector_error_mm)
        return float(self.vector_error_mm[used].mean()) if used.any() else float("nan")


@dataclass
class TrajectoryResult:
    """A whole trajectory, frame results stacked."""

    joints: np.ndarray  # (T, 30)
    raw: np.ndarray  # (T, 30)
    status: np.ndarray  # (T,) FrameStatus values
    messages: list[str]
    vector_error_mm: np.ndarray  # (T, 10)
    solve_time_s: np.ndarray  # (T,)
    iterations: np.ndarray  # (T,)
    targets: np.ndarray  # (T, V, 3)
    weights: np.ndarray  # (T, V)
    wrist_error_mm: np.ndarray  # (T,)
    reasons: list[tuple[str, ...]] = field(default_factory=list)  # per frame (FrameResult.reasons)

    @property
    def tsv_error_mm(self) -> float:
        """Mean over every used vector of every frame."""
        used = np.isfinite(self.vector_error_mm)
        return float(self.vector_error_mm[used].mean()) if used.any() else float("nan")


class Retargeter:
    """Stateful retargeter: `step` for streams, `retarget` for whole trajectories (same results)."""

    def __init__(self, config: RetargetConfig | None = None, kinematics: AdroitKinematics | None = None) -> None:
        self.config = config = config or RetargetConfig()
        self.kin = kinematics or AdroitKinematics()
        n = len(ADROIT_JOINTS)
        gain = None if config.angle_gain is None else self._vector(config.angle_gain, n, "angle_gain")
        offset = None if config.angle_offset is None else self._vector(config.angle_offset, n, "angle_offset")
        self.initial_guess = InitialGuess(self.kin, gain, offset)
        self.objective = TSVObjective(self.kin, config.solver)
        if config.method == "lm":
            self.solver = ProjectedLevenbergMarquardt(self.objective)
        elif config.method == "slsqp":
            self.solver = SLSQPSolver(self.objective)
        else:
            raise ValueError(f"method must be 'lm' or 'slsqp', got {config.method!r}")
        if not 0.0 <= config.min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be in [0, 1], got {config.min_confidence}")
        self.rest = self.kin.clip(np.zeros(n))
        self.workspace = (None if config.fingers_only or not config.check_plausibility
                          else Workspace.of_robot(self.kin, config.workspace_margin))
        if config.held_arm is not None:
            held = self._vector(config.held_arm, NUM_ARM_AND_WRIST, "held_arm")
            lo, hi = self.kin.lower[:NUM_ARM_AND_WRIST], self.kin.upper[:NUM_ARM_AND_WRIST]
            if np.any(held < lo) or np.any(held > hi):
                raise ValueError(f"held_arm {held.tolist()} leaves the arm/wrist joint limits {lo.tolist()} .. "
                                 f"{hi.tolist()}")
            self.rest[:NUM_ARM_AND_WRIST] = held
        self._robot_palm_rot = self.kin.body_pose(self.rest, PALM_BODY)[1]
        self._robot_palm_vectors = task_vectors(self.kin.keypoints(self.rest))
        self._free_joints = np.ones(n, dtype=bool)
        if config.fingers_only:  # the arm and wrist stay at held_arm
            self._free_joints[:NUM_ARM_AND_WRIST] = False
        # The task vectors as one product with the keypoints (+1 end, -1 start: exactly their difference).
        self._vector_diff = np.zeros((NUM_VECTORS, NUM_KEYPOINTS))
        self._vector_diff[np.arange(NUM_VECTORS), VECTOR_PAIRS[:, 1]] += 1.0
        self._vector_diff[np.arange(NUM_VECTORS), VECTOR_PAIRS[:, 0]] -= 1.0
        self._all_vectors = np.ones(NUM_VECTORS, dtype=bool)
        for name in ("segment_weight", "shape_weight", "wrist_weight", "unreachable_wrist_weight"):
            value = getattr(config, name)
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value}")
        self.vector_weights = np.zeros(NUM_VECTORS)
        self.vector_weights[PAPER] = 1.0
        self.vector_weights[SEGMENT] = config.segment_weight
        self.vector_weights[SHAPE] = config.shape_weight
        human = None if config.human_lengths is None else self._vector(config.human_lengths, NUM_VECTORS,
                                                                      "human_lengths")
        self.scale = HandScale(chain_lengths(self.kin.keypoints(np.zeros(n))), config.calibration_frames, human,
                               config.scaling_factor)
        self.filter = (LowPassFilter(config.filter_cutoff_hz, config.fps, n, config.filter_order)
                       if config.filter_cutoff_hz else None)
        self.reset()

    @staticmethod
    def _vector(values: tuple[float, ...], size: int, name: str) -> np.ndarray:
        arr = np.asarray(values, dtype=float)
        if arr.shape != (size,) or not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be {size} finite numbers, got {values}")
        return arr

    def plausible_frames(self, keypoints: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """(T,) bool: frames whose bones and keypoint order are a human hand's (workspace not checked)."""
        return np.array([check_hand(keypoints[t], valid[t]).ok for t in range(len(keypoints))], dtype=bool)

    def recalibrate(self) -> None:
        """Measure the hand size anew from the next frames (drops a fixed size from `calibrate` too);
        the node calls it from its service, so a bad start does not last until a restart."""
        self.scale = HandScale(self.scale.robot_lengths, self.config.calibration_frames,
                               paper_scale=self.config.scaling_factor)

    def reset(self) -> None:
        """Forget the previous frames (warm start, smoothness, filter, running hand size)."""
        self._last_good = self.rest.copy()
        self._warm: np.ndarray | None = None  # previous solution, None after a reset or a held frame
        self.scale.reset()
        if self.filter is not None:
            self.filter.reset()

    def calibrate(self, keypoints: np.ndarray, confidence: np.ndarray | None = None,
                  source: str = "keypoints") -> np.ndarray:
        """Fix the hand size from a whole recording (median chain lengths); returns them (V,) in metres."""
        kp = check_keypoints(keypoints, source)
        valid = valid_keypoints(kp, check_confidence(confidence, kp.shape[0]), self.config.min_confidence)
        if self.config.check_plausibility:  # a frame that is not a human hand says nothing about its size
            valid &= self.plausible_frames(kp, valid)[:, None]
        lengths = human_lengths_from(kp, valid)
        measured = np.isfinite(lengths)
        if not measured.any():
            raise KeypointInputError(f"{source}: no frame with valid keypoints: cannot measure the hand size "
                                     "(without calibration every frame would hold the rest pose)")
        # A vector never seen (a finger always occluded) gets the median size ratio of the others.
        ratio = np.median(lengths[measured] / self.scale.robot_lengths[measured])
        lengths = np.where(measured, lengths, ratio * self.scale.robot_lengths)
        self.scale = HandScale(self.scale.robot_lengths, self.config.calibration_frames, lengths,
                               self.config.scaling_factor)
        return lengths

    # ------------------------------------------------------------------ streaming
    def step(self, keypoints: np.ndarray, confidence: np.ndarray | None = None) -> FrameResult:
        """Retarget one frame: (21, 3) keypoints in world (NaN = missing), optional (21,) confidence."""
        t0 = time.perf_counter()
        kp = np.asarray(keypoints, dtype=float)
        if kp.shape != (NUM_KEYPOINTS, 3):
            raise KeypointInputError(f"keypoints: expected shape (21, 3), got {kp.shape}")
        valid = np.isfinite(kp).all(axis=1)
        if confidence is not None:  # a NaN confidence compares False: missing
            valid &= np.asarray(confidence, dtype=float) >= self.config.min_confidence
        stray = stray_keypoints(kp, valid) if self.config.check_plausibility else None
        if stray is not None and stray.any():
            valid &= ~stray
        all_valid = bool(valid.all())
        invalid = () if all_valid else tuple(int(i) for i in np.flatnonzero(~valid))
        if not all_valid and not valid[list(PALM_KEYPOINTS)].all():
            return self._held(t0, invalid, f"palm keypoints {[k for k in PALM_KEYPOINTS if not valid[k]]} "
                                           "missing or below confidence: holding the last good solution")
        if self.config.check_plausibility:
            verdict = check_hand(kp, valid, self.workspace)
            if not verdict.ok:
                return self._held(t0, invalid, verdict.describe() + ": holding the last good solution",
                                  FrameStatus.REJECTED, verdict.reasons)
        self.scale.update(kp, valid)
        free = self._free_joints  # copied before it is changed (the solver only reads it)
        held_fingers: tuple[str, ...] = ()
        if all_valid:
            weights = self.vector_weights.copy()
            targets = self.scale.factors()[:, None] * (self._vector_diff @ kp)
            vvalid = self._all_vectors
        else:
            vvalid = vector_validity(valid)
            weights = self.vector_weights * vvalid
            kp_zero = np.where(valid[:, None], kp, 0.0)
            targets = np.where(vvalid[:, None], self.scale.factors()[:, None] * task_vectors(kp_zero), 0.0)
            held_fingers = tuple(FINGERS[f] for f in range(5) if not vvalid[5 + f])
            if held_fingers:
                free = free.copy()
            for name in held_fingers:
                free[FINGER_JOINTS[name]] = False
                weights[FINGERS.index(name) == VECTOR_FINGER] = 0.0
        cold = self._warm is None
        if self.config.fingers_only:
            align = self._palm_alignment(targets, vvalid)
            targets = targets @ align.T
            palm_rot = align.T @ self._robot_palm_rot  # the human palm as the alignment sees it
            wrist_target = None
        else:
            palm_rot = self.initial_guess.palm_pose(kp)[0] if cold else None
            wrist_target = kp[WRIST]
        if cold:
            masked = kp if all_valid else np.where(valid[:, None], kp, np.nan)
            q0 = self.initial_guess.finger_joints(masked, palm_rot)
            if self.config.fingers_only:
                q0[:NUM_ARM_AND_WRIST] = self.rest[:NUM_ARM_AND_WRIST]
            else:
                q0[:NUM_ARM_AND_WRIST] = self.initial_guess.arm_joints(palm_rot, kp[WRIST])
            q0 = np.where(np.isfinite(q0) & free, q0, self._last_good)
            anchor = q0
        else:
            q0 = anchor = self._warm
        problem = FrameProblem(targets, weights, wrist_target, self.config.wrist_weight, anchor, free)
        result = self.solver.solve(q0, problem)
        if wrist_target is not None and result.wrist_error > self.config.max_wrist_error \
                and self.config.unreachable_wrist_weight > 0:
            heavier = replace(problem, wrist_weight=problem.wrist_weight * self.config.unreachable_wrist_weight)
            again = self.solver.solve(q0, heavier)
            if again.wrist_error < result.wrist_error:
                result = again
        raw = self.kin.project(result.q)  # the DIP-PIP couplings the model enforces (and limits)
        self._warm = self._last_good = raw
        errors = result.norms[TASK] * 1000.0
        if all_valid:
            status, message = FrameStatus.OK, "ok"
        else:
            errors = np.where(weights[TASK] > 0, errors, np.nan)
            status = FrameStatus.PARTIAL
            dropped = [] if stray is None else [int(k) for k in np.flatnonzero(stray)]
            missing = [k for k in invalid if k not in dropped]
            message = "; ".join(([f"keypoints {missing} missing or below confidence"] if missing else [])
                                + ([f"keypoints {dropped} dropped: their bones are not a human hand's"]
                                   if dropped else []))
            if held_fingers:
                message += f"; holding {', '.join(held_fingers)}"
        wrist = float("nan") if wrist_target is None else 1000.0 * result.wrist_error
        reasons: tuple[str, ...] = ()
        if wrist_target is not None and result.wrist_error > self.config.max_wrist_error:
            reasons = ("wrist_unreachable",)
            message += (f"; the palm is {wrist:.0f} mm from the wrist keypoint: out of the arm's reach "
                        "(keypoints in another frame?)")
        return FrameResult(self._output(raw), raw, status, message, errors, time.perf_counter() - t0,
                           result.iterations, invalid, held_fingers, targets, weights, wrist, reasons)

    def _palm_alignment(self, targets: np.ndarray, usable: np.ndarray) -> np.ndarray:
        """Rotation taking the human's (scaled) wrist-to-MCP vectors of the rigid metacarpals onto the robot's."""
        use = [i for i in _RIGID_PALM_VECTORS if usable[i]]
        if len(use) < 2:
            use.append(_LITTLE_PALM_VECTOR)  # the palm keypoints (index and little MCP) are always valid here
        return fit_rotation(targets[use], self._robot_palm_vectors[use])

    def _held(self, t0: float, invalid: tuple[int, ...], message: str, status: FrameStatus = FrameStatus.HELD,
              reasons: tuple[str, ...] = ()) -> FrameResult:
        self._warm = None
        raw = self._last_good.copy()
        return FrameResult(self._output(raw), raw, status, message, np.full(NUM_TASK_VECTORS, np.nan),
                           time.perf_counter() - t0, 0, invalid, FINGERS, np.zeros((NUM_VECTORS, 3)),
                           np.zeros(NUM_VECTORS), reasons=reasons)

    def _output(self, raw: np.ndarray) -> np.ndarray:
        if self.filter is None:
            return raw.copy()
        return self.kin.clip(self.filter.step(raw))

    # ------------------------------------------------------------------ batch
    def retarget(self, keypoints: np.ndarray, confidence: np.ndarray | None = None, progress: bool = False,
                 source: str = "keypoints") -> TrajectoryResult:
        """Retarget a whole (T, 21, 3) trajectory from a fresh state: identical to calling `step` on each frame."""
        kp = check_keypoints(keypoints, source)
        conf = check_confidence(confidence, kp.shape[0], f"{source} confidence")
        self.reset()
        frames = range(kp.shape[0])
        if progress:
            from tqdm import tqdm

            frames = tqdm(frames, desc="retargeting", unit="frame")
        results = [self.step(kp[t], conf[t]) for t in frames]
        return TrajectoryResult(
            joints=np.stack([r.joints for r in results]),
            raw=np.stack([r.raw for r in results]),
            status=np.array([int(r.status) for r in results]),
            messages=[r.message for r in results],
            vector_error_mm=np.stack([r.vector_error_mm for r in results]),
            solve_time_s=np.array([r.solve_time_s for r in results]),
            iterations=np.array([r.iterations for r in results]),
            targets=np.stack([r.targets for r in results]),
            weights=np.stack([r.weights for r in results]),
            wrist_error_mm=np.array([r.wrist_error_mm for r in results]),
            reasons=[r.reasons for r in results],
        )


def vector_errors_mm(kin: AdroitKinematics, joints: np.ndarray, result: TrajectoryResult) -> np.ndarray:
    """(T, 10) task-vector errors of any joint trajectory (e.g. the filtered output) against `result`'s targets."""
    robot = task_vectors(kin.keypoints(joints))[:, TASK]
    err = np.linalg.norm(result.targets[:, TASK] - robot, axis=-1) * 1000.0
    return np.where(result.weights[:, TASK] > 0, err, np.nan)


def segment_errors_mm(kin: AdroitKinematics, joints: np.ndarray, result: TrajectoryResult) -> np.ndarray:
    """(T, 10) errors of the per-finger-scaled segment vectors (wrist->MCP, MCP->tip): the figure
    this project reported before it adopted the paper's definition, kept as `segment_error_mm`."""
    robot = task_vectors(kin.keypoints(joints))[:, SEGMENT]
    err = np.linalg.norm(result.targets[:, SEGMENT] - robot, axis=-1) * 1000.0
    return np.where(result.weights[:, SEGMENT] > 0, err, np.nan)
