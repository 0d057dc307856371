"""Normalized actions <-> joint position targets: the one conversion the env, the vector stepper, the
sim node (`/adroit/joint_targets`) and inverse dynamics share.

docs/architecture.md: an action is 30 values in [-1, 1] mapped linearly onto each actuator's ctrlrange,
target = mid + action * half_range. In our scenes every actuator is a position servo
(scene.servo_hand), so the control *is* the joint position target and a JointState target of
x rad means the same as the action that maps to x.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import mujoco
import numpy as np

from dexmv_sim.adroit import ADROIT_ACTUATORS, ADROIT_JOINTS

N_ACTIONS = len(ADROIT_ACTUATORS)


class ActionError(ValueError):
    """An action or joint target that cannot be applied (wrong size, not finite, unknown joint).

    `reason` is a short stable key ("length_mismatch", "unknown_joint", "not_finite", "shape",
    "nan") that a node counts rejections by; the message names the offending field."""

    def __init__(self, message: str, reason: str = "invalid") -> None:
        super().__init__(message)
        self.reason = reason


class ActionMap:
    """Affine map between normalized actions and the hand actuators' controls (= joint targets)."""

    def __init__(self, model: mujoco.MjModel) -> None:
        ids = [model.actuator(name).id for name in ADROIT_ACTUATORS]
        if ids != list(range(N_ACTIONS)):
            raise ActionError("the hand's 30 actuators must come first, in ADROIT_ACTUATORS order")
        ctrlrange = model.actuator_ctrlrange[:N_ACTIONS].copy()
        self.low = ctrlrange[:, 0]
        self.high = ctrlrange[:, 1]
        self.mid = (self.low + self.high) / 2.0
        self.half = (self.high - self.low) / 2.0
        self.index = {name: i for i, name in enumerate(ADROIT_JOINTS)}
        self._buffer = np.empty(N_ACTIONS)

    def to_targets(self, action: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Joint targets (controls) of actions (..., 30); values outside [-1, 1] (infinities
        included) are clipped to it, NaN raises ActionError."""
        action = np.asarray(action)
        if action.shape[-1:] != (N_ACTIONS,):
            raise ActionError(f"an action has {N_ACTIONS} values, got shape {action.shape}", "shape")
        # one preallocated buffer for the common single action: this runs every control step
        clipped = self._buffer if action.ndim == 1 else np.empty(action.shape)
        clipped[...] = action
        np.minimum(clipped, 1.0, out=clipped)
        np.maximum(clipped, -1.0, out=clipped)  # NaN survives both, and the sum below
        if math.isnan(clipped.sum()):
            raise ActionError(f"action contains NaN: {action}", "nan")
        if out is None:
            out = np.empty(action.shape)
        np.multiply(clipped, self.half, out=out)
        out += self.mid
        return out

    def to_actions(self, targets: np.ndarray) -> np.ndarray:
        """Normalized actions of joint targets (..., 30); targets beyond the ctrlrange map beyond [-1, 1]."""
        targets = np.asarray(targets, dtype=np.float64)
        if targets.shape[-1:] != (N_ACTIONS,):
            raise ActionError(f"joint targets have {N_ACTIONS} values, got shape {targets.shape}", "shape")
        return (targets - self.mid) / self.half

    def named_targets(self, names: Sequence[str], positions: Sequence[float], current: np.ndarray) -> np.ndarray:
        """Targets from a (names, positions) pair such as a JointState; joints not named keep `current`.

        Positions outside a joint's ctrlrange are clipped to it (what the servo can be asked for).
        """
        if len(names) != len(positions):
            raise ActionError(f"name has {len(names)} entries but position has {len(positions)}", "length_mismatch")
        targets = np.array(current, dtype=np.float64, copy=True)
        for k, (name, value) in enumerate(zip(names, positions, strict=True)):
            i = self.index.get(name)
            if i is None:
                raise ActionError(f"name[{k}] '{name}' is not an Adroit joint (they are {', '.join(ADROIT_JOINTS)})",
                                  "unknown_joint")
            if not np.isfinite(value):
                raise ActionError(f"position[{k}] (joint '{name}') is not finite: {value}", "not_finite")
            targets[i] = value
        return np.clip(targets, self.low, self.high)

    def targets_by_name(self, targets: np.ndarray) -> Mapping[str, float]:
        return {name: float(targets[i]) for i, name in enumerate(ADROIT_JOINTS)}
