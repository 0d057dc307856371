"""What every task provides to the environment, the vector stepper and the sim node.

A task adds its objects to the scene spec (`build`), binds to the compiled model (`bind`: caches
ids and numpy views so the per-step work is a few array operations), draws an episode from a
seeded generator (`reset`), and computes the observation, the dense reward and the success/score.
The hand, physics settings, action mapping and stepping are shared (scene.py, actions.py, envs.py).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import mujoco
import numpy as np

from dexmv_sim.adroit import ADROIT_JOINTS
from dexmv_sim.scene import body_geom_ids, hand_geom_ids

PALM_SITE = "S_grasp"  # the grasp point in front of the palm: "palm" in observations and rewards
N_HAND = len(ADROIT_JOINTS)


class TaskOptionError(ValueError):
    """A reset option that the task does not know or cannot use."""


class Evaluation(NamedTuple):
    success: bool
    score: float  # 0..1; relocate: 1.0 on success


class StepOutputs(NamedTuple):
    """Everything an env step reports, computed together so shared terms are computed once."""

    observation: np.ndarray
    reward: float
    success: bool
    score: float


class Task(ABC):
    """One task family member (e.g. relocate-mug) on the shared Adroit scene."""

    task_id: str = ""
    obs_dim: int = 0
    #: names the dense reward's formula; changed whenever the formula changes, so that a training run
    #: (which records it) is not continued under another reward
    reward_version: str = "1"
    #: the formula of runs that recorded no reward_version (made before versions were recorded)
    reward_before_versions: str = "1"
    #: reset options this task understands besides "state" (see the task's docstring)
    option_keys: tuple[str, ...] = ()

    def __init__(self, *, mesh_dir: str | Path | None = None) -> None:
        self.mesh_dir = Path(mesh_dir) if mesh_dir is not None else None
        self.model: mujoco.MjModel | None = None
        self.data: mujoco.MjData | None = None

    # ------------------------------------------------------------------ scene
    @abstractmethod
    def build(self, spec: mujoco.MjSpec) -> None:
        """Add the task's objects, targets and containers to the scene spec."""

    def bind(self, model: mujoco.MjModel, data: mujoco.MjData) -> None:
        """Cache ids and views into `data` (valid for the lifetime of `data`)."""
        self.model, self.data = model, data
        self.palm = data.site_xpos[model.site(PALM_SITE).id]
        self.hand_qpos = data.qpos[:N_HAND]
        self._hand_mask = np.zeros(model.ngeom, dtype=bool)
        self._hand_mask[hand_geom_ids(model)] = True

        self._hand_geoms = frozenset(int(g) for g in np.flatnonzero(self._hand_mask))

    def geom_set(self, body_name: str) -> frozenset[int]:
        """Colliding geom ids of a body, for hand_touches."""
        return frozenset(int(g) for g in body_geom_ids(self.model, body_name))

    def hand_touches(self, geoms: frozenset[int]) -> bool:
        """Whether any hand geom is in contact with one of `geoms`."""
        data = self.data
        if data.ncon == 0:
            return False
        hand = self._hand_geoms
        if data.ncon > 64:  # many contacts (water particles): vectorized
            pairs = data.contact.geom
            other = np.zeros(self.model.ngeom, dtype=bool)
            other[list(geoms)] = True
            a, b = pairs[:, 0], pairs[:, 1]
            return bool(np.any((self._hand_mask[a] & other[b]) | (self._hand_mask[b] & other[a])))
        # a handful of contacts: plain Python is fastest
        return any((a in hand and b in geoms) or (b in hand and a in geoms) for a, b in data.contact.geom.tolist())

    # ---------------------------------------------------------------- episode
    @abstractmethod
    def reset(self, rng: np.random.Generator, options: Mapping[str, Any]) -> None:
        """Write the episode's initial object poses and targets into data (the hand is reset by the env)."""

    def check_options(self, options: Mapping[str, Any]) -> None:
        unknown = set(options) - set(self.option_keys) - {"state"}
        if unknown:
            allowed = ", ".join(("state", *self.option_keys))
            raise TaskOptionError(f"{self.task_id}: unknown reset option(s) {sorted(unknown)}; allowed: {allowed}")

    @abstractmethod
    def outputs(self) -> StepOutputs:
        """Observation (a new float64 array of obs_dim values), dense reward (see the task module's
        docstring), success and score of the current state; an episode's result is its last step's."""

    def observe(self) -> np.ndarray:
        return self.outputs().observation

    def reward(self) -> float:
        return self.outputs().reward

    def evaluate(self) -> Evaluation:
        out = self.outputs()
        return Evaluation(out.success, out.score)

    def describe(self) -> str:
        return self.task_id


def free_joint_qpos(model: mujoco.MjModel, data: mujoco.MjData, joint_name: str) -> np.ndarray:
    """The 7 qpos values (position, quaternion wxyz) of a free joint, as a view."""
    adr = model.jnt_qposadr[model.joint(joint_name).id]
    return data.qpos[adr:adr + 7]


def free_joint_qvel(model: mujoco.MjModel, data: mujoco.MjData, joint_name: str) -> np.ndarray:
    adr = model.jnt_dofadr[model.joint(joint_name).id]
    return data.qvel[adr:adr + 6]


def yaw_quat(yaw: float) -> np.ndarray:
    return np.array([np.cos(yaw / 2.0), 0.0, 0.0, np.sin(yaw / 2.0)])


def option_vector(options: Mapping[str, Any], key: str, sizes: tuple[int, ...], task_id: str) -> np.ndarray | None:
    """options[key] as a float array of one of the allowed sizes, or None when absent."""
    if key not in options or options[key] is None:
        return None
    value = np.asarray(options[key], dtype=float).ravel()
    if value.size not in sizes or not np.all(np.isfinite(value)):
        raise TaskOptionError(f"{task_id}: reset option '{key}' must be {' or '.join(map(str, sizes))} finite "
                              f"numbers, got {options[key]!r}")
    return value
