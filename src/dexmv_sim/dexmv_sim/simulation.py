"""One task's MuJoCo model and data with the shared control loop: reset, act, step, state get/set.

The Gymnasium env (envs.py), the batched workers (vector.py), inverse dynamics and the sim node
all drive a TaskSimulation, so they step the same physics the same way: an action (or a joint
target vector) sets the 30 servo controls, then 5 physics steps of 2 ms advance one 100 Hz control
step. Positions read after a step (object, palm) are refreshed with mj_kinematics, so observations
and rewards describe the state the step ended in (MuJoCo's mj_step leaves them one substep old).

State for replay is MuJoCo's integration state (mj_getState with mjSTATE_INTEGRATION: time, qpos,
qvel, actuator activations, warm-start accelerations, controls, mocap poses, ...): setting it back
reproduces the following steps bit for bit.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mujoco
import numpy as np

from dexmv_sim.actions import ActionMap
from dexmv_sim.scene import N_SUBSTEPS, base_scene_spec, check_hand_layout
from dexmv_sim.tasks import Evaluation, Task, make_task
from dexmv_sim.tasks.base import N_HAND, option_vector

STATE_SPEC = mujoco.mjtState.mjSTATE_INTEGRATION


class StateError(ValueError):
    """A state vector that does not belong to this task's model."""


def build_model(task: Task) -> mujoco.MjModel:
    spec = base_scene_spec()
    task.build(spec)
    model = spec.compile()
    check_hand_layout(model)
    return model


class TaskSimulation:
    """A task on its own model/data; not thread-safe (one per thread or process)."""

    def __init__(self, task_id: str, *, mesh_dir: str | Path | None = None, model: mujoco.MjModel | None = None):
        self.task_id = task_id
        self.task = make_task(task_id, mesh_dir=mesh_dir)
        self.model = model if model is not None else build_model(self.task)
        self.data = mujoco.MjData(self.model)
        self.task.bind(self.model, self.data)
        self.actions = ActionMap(self.model)
        self.obs_dim = self.task.obs_dim
        self.state_size = mujoco.mj_stateSize(self.model, STATE_SPEC)
        self._ctrl = self.data.ctrl[:N_HAND]
        self.hand_qpos0 = np.zeros(N_HAND)  # open hand, arm at its origin: DexMV's initial pose
        self.steps = 0

    # ------------------------------------------------------------------ episode
    def reset(self, rng: np.random.Generator, options: Mapping[str, Any] | None = None) -> None:
        """New episode drawn from `rng`, or the exact state given as options["state"]."""
        options = dict(options or {})
        mujoco.mj_resetData(self.model, self.data)
        self.steps = 0
        if options.get("state") is not None:
            self.task.check_options(options)
            self.set_state(options["state"])
            return
        hand = option_vector(options, "hand_qpos", (N_HAND,), self.task_id)
        options.pop("hand_qpos", None)
        self.data.qpos[:N_HAND] = self.hand_qpos0 if hand is None else hand
        self.task.reset(rng, options)
        self._ctrl[:] = np.clip(self.data.qpos[:N_HAND], self.actions.low, self.actions.high)
        mujoco.mj_forward(self.model, self.data)

    def step_action(self, action: np.ndarray) -> None:
        """One control step with a normalized action (clipped to [-1, 1]; NaN is an error)."""
        self.actions.to_targets(action, out=self._ctrl)
        self._advance()

    def step_targets(self, targets: np.ndarray) -> None:
        """One control step with joint position targets (clipped to the ctrlrange)."""
        np.clip(targets, self.actions.low, self.actions.high, out=self._ctrl)
        self._advance()

    def _advance(self) -> None:
        mujoco.mj_step(self.model, self.data, nstep=N_SUBSTEPS)
        mujoco.mj_kinematics(self.model, self.data)
        self.steps += 1

    @property
    def targets(self) -> np.ndarray:
        """The current joint position targets (the controls), a copy."""
        return self._ctrl.copy()

    # ------------------------------------------------------------------ readouts
    def observe(self) -> np.ndarray:
        return self.task.observe()

    def reward(self) -> float:
        return self.task.reward()

    def evaluate(self) -> Evaluation:
        return self.task.evaluate()

    # ------------------------------------------------------------------ state
    def get_state(self, out: np.ndarray | None = None) -> np.ndarray:
        """The full integration state (mjSTATE_INTEGRATION layout) as a float64 vector (into `out`,
        a contiguous float64 vector of state_size values, when given)."""
        state = np.empty(self.state_size) if out is None else out
        mujoco.mj_getState(self.model, self.data, state, STATE_SPEC)
        return state

    def load_state(self, state: np.ndarray, steps: int) -> None:
        """Take over an episode from its integration state and step count, to step it further.

        Unlike set_state, nothing is checked or recomputed: mj_step derives everything from the
        integration state, so the following steps are bit for bit those of the simulation the state
        came from (the batched workers rely on this to step any environment on one MjData), but
        positions read before the next step are stale. `state` must come from get_state.
        """
        mujoco.mj_setState(self.model, self.data, state, STATE_SPEC)
        self.steps = steps

    def set_state(self, state: np.ndarray) -> None:
        """Restore a vector from get_state (of the same task) and recompute derived quantities."""
        state = np.asarray(state, dtype=np.float64).ravel()
        if state.size != self.state_size:
            raise StateError(f"{self.task_id}: a state has {self.state_size} values (mjSTATE_INTEGRATION), "
                             f"got {state.size}: was it recorded on another task or model?")
        mujoco.mj_setState(self.model, self.data, state, STATE_SPEC)
        mujoco.mj_forward(self.model, self.data)
