"""A trained policy driving a hand from what a ROS graph publishes (no rclpy here: nodes/policy_node.py
converts the messages).

The policy's observation is rebuilt exactly as the task computes it in simulation: joint positions
go into the task's own MuJoCo model, object poses into its free joints, the relocate target into its
mocap body, and forward kinematics gives the palm (grasp site) position; the task's `outputs()` then
returns the observation (e.g. relocate's 39 values: qpos[:30], palm - object, palm - target,
object - target). Only kinematics runs, never a physics step. The action becomes joint position
targets through dexmv_sim.actions.ActionMap, the map the simulator applies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import mujoco
import numpy as np
import torch

from dexmv_learning.evaluation.evaluate import load_run_policy
from dexmv_learning.training.checkpoint import CheckpointError


class PolicyInputError(ValueError):
    """Joint states or object poses the policy cannot use."""


class DeployedPolicy:
    """A run's policy on one task: observation from joint positions and object poses, targets out."""

    def __init__(self, run: str | Path, task: str | None = None, deterministic: bool = True) -> None:
        from dexmv_sim.adroit import ADROIT_JOINTS
        from dexmv_sim.simulation import TaskSimulation
        from dexmv_sim.tasks import TASK_IDS

        torch.set_num_threads(1)
        self.policy, self.config, self.checkpoint = load_run_policy(run)
        self.task_id = task or self.config.get("task")
        if self.task_id not in TASK_IDS:
            raise CheckpointError(f"{self.checkpoint}: task '{self.task_id}' is not one of {', '.join(TASK_IDS)}")
        self.sim = TaskSimulation(self.task_id)
        if self.sim.obs_dim != self.policy.obs_dim:
            raise CheckpointError(f"{self.checkpoint}: the policy takes {self.policy.obs_dim} observations, "
                                  f"{self.task_id} gives {self.sim.obs_dim}")
        self.joint_names = list(ADROIT_JOINTS)
        self.deterministic = deterministic
        model = self.sim.model
        self._free = {}  # object id -> qpos address of its free joint
        for j in range(model.njnt):
            name = model.joint(j).name
            if model.jnt_type[j] == mujoco.mjtJoint.mjJNT_FREE and name.endswith("/joint"):
                self._free[name.removesuffix("/joint")] = int(model.jnt_qposadr[j])
        self.needs_target = model.nmocap > 0 and self.task_id.startswith("relocate-")
        self._target_mocap = model.body("target").mocapid[0] if self.needs_target else None
        self.object_ids = sorted(self._free)

    def observation(self, joint_names: Sequence[str], joint_positions: Sequence[float],
                    object_poses: Mapping[str, np.ndarray], target: np.ndarray | None = None) -> np.ndarray:
        """joint positions by name (all 30 Adroit joints); object poses: id -> (x, y, z, qw, qx, qy, qz)
        in `world`; target: relocate's target position."""
        data = self.sim.data
        index = {n: i for i, n in enumerate(joint_names)}
        missing = [n for n in self.joint_names if n not in index]
        if missing:
            raise PolicyInputError(f"joint states lack {len(missing)} Adroit joints ({', '.join(missing[:4])}...)")
        q = np.array([joint_positions[index[n]] for n in self.joint_names], dtype=np.float64)
        if not np.all(np.isfinite(q)):
            raise PolicyInputError("joint positions are not finite")
        data.qpos[:30] = q
        for oid, adr in self._free.items():
            pose = object_poses.get(oid)
            if pose is None:
                raise PolicyInputError(f"no pose of {oid} yet (on /dexmv/sim/object_poses)")
            pose = np.asarray(pose, dtype=np.float64)
            if not np.all(np.isfinite(pose)) or np.linalg.norm(pose[:3]) > 5.0:
                raise PolicyInputError(f"implausible pose of {oid}: {pose[:3].round(3).tolist()} (more than 5 m "
                                       "from the world origin, or not finite)")
            data.qpos[adr:adr + 3] = pose[:3]
            data.qpos[adr + 3:adr + 7] = pose[3:] / np.linalg.norm(pose[3:])
        if self.needs_target:
            if target is None:
                raise PolicyInputError("no relocate target yet (TF world -> sim/target)")
            data.mocap_pos[self._target_mocap] = target
        mujoco.mj_kinematics(self.sim.model, data)
        return self.sim.task.outputs().observation

    def targets(self, observation: np.ndarray, generator: torch.Generator | None = None) -> np.ndarray:
        """Joint position targets (30, ADROIT_JOINTS order) for one observation."""
        action = self.policy.act(torch.as_tensor(observation, dtype=torch.float32)[None], generator=generator,
                                 deterministic=self.deterministic)[0]
        return self.sim.actions.to_targets(action.double().numpy())
