"""Gymnasium environments of the DexMV tasks, registered when `dexmv_sim` is imported.

    import gymnasium as gym, dexmv_sim
    env = gym.make("dexmv/Relocate-mustard_bottle-v0", render_mode="rgb_array")
    obs, info = env.reset(seed=0, options={"target": (0.0, 0.0, 0.2)})

(`gym.make("dexmv_sim:dexmv/Pour-v0")` imports the package itself; `gym.make_vec(id, num_envs=16)`
gives the multi-process DexMVVectorEnv of vector.py.) Ids: ENV_IDS. Every env:
Box(-1, 1, (30,)) actions (clipped; NaN raises), float64 observations, 200-step episodes
(TimeLimit), info {"success", "score"} every step, `reset(seed=..., options=...)` with the task's
options (see its module) plus "hand_qpos" (30 initial joint positions) and "state" (a vector
from `get_state()`, restoring that exact state), `get_state()`/`set_state()` for demonstration
replay, `render_mode="rgb_array"` (offscreen; headless with MUJOCO_GL=egl).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import gymnasium
import numpy as np
from gymnasium import spaces

from dexmv_sim.actions import N_ACTIONS
from dexmv_sim.scene import CONTROL_DT, HORIZON
from dexmv_sim.tasks import TASK_IDS
from dexmv_sim.tasks.relocate import RELOCATE_OBJECTS

NAMESPACE = "dexmv"
ENV_IDS: dict[str, str] = {f"relocate-{name}": f"{NAMESPACE}/Relocate-{name}-v0" for name in RELOCATE_OBJECTS}
ENV_IDS.update({"pour": f"{NAMESPACE}/Pour-v0", "place_inside": f"{NAMESPACE}/PlaceInside-v0"})
assert set(ENV_IDS) == set(TASK_IDS)


class DexMVEnv(gymnasium.Env):
    """A DexMV task as a Gymnasium environment (one TaskSimulation underneath)."""

    metadata: ClassVar[dict] = {"render_modes": ["rgb_array", "depth_array"], "render_fps": round(1.0 / CONTROL_DT)}

    def __init__(self, task: str = "relocate-mustard_bottle", *, render_mode: str | None = None, width: int = 640,
                 height: int = 480, camera: str = "front", mesh_dir: str | Path | None = None) -> None:
        from dexmv_sim.simulation import TaskSimulation

        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode '{render_mode}' is not one of {self.metadata['render_modes']}")
        self.sim = TaskSimulation(task, mesh_dir=mesh_dir)
        self.task_id = task
        self.model, self.data = self.sim.model, self.sim.data
        self.render_mode = render_mode
        self.width, self.height, self.camera = int(width), int(height), camera
        cameras = [self.model.camera(i).name for i in range(self.model.ncam)]
        if camera not in cameras:
            raise ValueError(f"camera '{camera}' is not in the scene: choose one of {', '.join(cameras)}")
        self.observation_space = spaces.Box(-np.inf, np.inf, (self.sim.obs_dim,), np.float64)
        self.action_space = spaces.Box(-1.0, 1.0, (N_ACTIONS,), np.float32)
        self._renderer = None

    # ------------------------------------------------------------------ API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.sim.reset(self.np_random, options)
        evaluation = self.sim.evaluate()
        return self.sim.observe(), {"success": evaluation.success, "score": evaluation.score}

    def step(self, action):
        self.sim.step_action(action)
        out = self.sim.task.outputs()
        return out.observation, out.reward, False, False, {"success": out.success, "score": out.score}

    def render(self):
        if self.render_mode is None:
            gymnasium.logger.warn("render() without render_mode: make the env with render_mode='rgb_array'")
            return None
        if self._renderer is None:
            from dexmv_sim.rendering import SceneRenderer

            self._renderer = SceneRenderer(self.model, self.width, self.height)
        if self.render_mode == "depth_array":
            return self._renderer.depth(self.data, self.camera)
        return self._renderer.rgb(self.data, self.camera)

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    # ------------------------------------------------------------------ replay
    def get_state(self) -> np.ndarray:
        """MuJoCo integration state vector; pass it to set_state or reset(options={"state": ...})."""
        return self.sim.get_state()

    def set_state(self, state: np.ndarray) -> None:
        self.sim.set_state(state)


def register_envs() -> None:
    """Register every DexMV env id with Gymnasium (idempotent)."""
    for task_id, env_id in ENV_IDS.items():
        if env_id in gymnasium.registry:
            continue
        gymnasium.register(id=env_id, entry_point="dexmv_sim.envs:DexMVEnv", kwargs={"task": task_id},
                           max_episode_steps=HORIZON, vector_entry_point="dexmv_sim.vector:DexMVVectorEnv")
