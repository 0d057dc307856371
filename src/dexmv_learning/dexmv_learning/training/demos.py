"""Demonstrations as the arrays the algorithms use: (s_t, a_t, s_{t+1}) rows stacked over all
demonstrations of a task.

The source is any sequence of objects with `observations` (T+1, obs_dim), `actions` (T, act_dim)
and optionally `state_only` and `task_id` (dexmv_learning.demos' Demonstration, read from Minari
datasets by `load_demonstrations`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch


class DemoError(ValueError):
    """Demonstrations that cannot train this task (missing, wrong sizes, another task)."""


@dataclass
class DemoData:
    obs: torch.Tensor          # (N, obs_dim) s_t
    actions: torch.Tensor      # (N, act_dim) a_t in [-1, 1] (zeros when state_only)
    next_obs: torch.Tensor     # (N, obs_dim) s_{t+1}
    state_only: bool           # actions unknown (SOIL labels them)
    count: int                 # number of demonstrations
    lengths: tuple[int, ...] = ()          # steps of each demonstration
    success_steps: tuple[int | None, ...] = ()  # per demonstration: steps until the env first reports
                                           # success (None: never, or the source records no success)

    def horizon_problem(self, horizon: int) -> str | None:
        """Why a policy that imitates these demonstrations cannot succeed within `horizon` steps, or None.

        Success is judged at an episode's last step, so a demonstration that first succeeds after
        the horizon teaches a motion that is cut off before it succeeds: before `dexmv demos
        --fit-horizon`, the default can demonstrations were 396 steps long and first succeeded at
        steps 205-274, while training and evaluation run 200-step episodes: a perfect imitation
        scored 0. Demonstrations made with `--fit-horizon none`, or from other sources, still can."""
        late = [s for s in self.success_steps if s is not None and s > horizon]
        if not late:
            return None
        never = sum(s is None for s in self.success_steps)
        return (f"{len(late)} of {self.count} demonstrations first succeed after the horizon of {horizon} steps "
                f"(at steps {min(late)}-{max(late)}; {never} never succeed): a policy imitating them is cut off "
                f"before it succeeds; train and evaluate with --horizon {max(late) + 10} or more, or use faster "
                "demonstrations")

    @classmethod
    def from_demonstrations(cls, demos: Sequence, obs_dim: int, act_dim: int, task_id: str | None = None,
                            source: str = "demonstrations") -> DemoData:
        if len(demos) == 0:
            raise DemoError(f"{source}: no demonstrations")
        obs, actions, next_obs, state_only = [], [], [], False
        lengths, success_steps = [], []
        for k, demo in enumerate(demos):
            o = np.asarray(demo.observations, dtype=np.float32)
            only = bool(getattr(demo, "state_only", False)) or demo.actions is None
            a = np.zeros((len(o) - 1, act_dim), np.float32) if only else np.asarray(demo.actions, dtype=np.float32)
            demo_task = getattr(demo, "task_id", None)
            if task_id is not None and demo_task not in (None, "", task_id):
                raise DemoError(f"{source}: demonstration {k} is of task '{demo_task}', training '{task_id}'")
            if o.ndim != 2 or o.shape[1] != obs_dim:
                raise DemoError(f"{source}: demonstration {k} has observations of shape {o.shape}, "
                                f"the task's have {obs_dim} values")
            if a.shape != (len(o) - 1, act_dim):
                raise DemoError(f"{source}: demonstration {k} has actions of shape {a.shape}, "
                                f"expected ({len(o) - 1}, {act_dim})")
            if not (np.all(np.isfinite(o)) and np.all(np.isfinite(a))):
                raise DemoError(f"{source}: demonstration {k} has non-finite values")
            state_only |= only
            lengths.append(len(o) - 1)
            success_steps.append(_first_success(getattr(demo, "success", None)))
            obs.append(o[:-1])
            next_obs.append(o[1:])
            actions.append(np.clip(a, -1.0, 1.0))
        return cls(torch.from_numpy(np.concatenate(obs)), torch.from_numpy(np.concatenate(actions)),
                   torch.from_numpy(np.concatenate(next_obs)), state_only, len(demos), tuple(lengths),
                   tuple(success_steps))


def _first_success(success) -> int | None:
    """Steps until the first success in a (T+1,) per-observation success array (row 0: the reset)."""
    if success is None:
        return None
    flags = np.asarray(success, dtype=bool).ravel()
    return int(np.argmax(flags)) if flags.any() else None


def load_demo_data(path: str | Path, obs_dim: int, act_dim: int, task_id: str) -> DemoData:
    """Demonstrations of `task_id` from a dataset (see dexmv_learning.demos)."""
    from dexmv_learning.demos.dataset import load_demonstrations

    if not Path(path).exists():
        raise DemoError(f"demonstrations {path} do not exist")
    demos = load_demonstrations(path)  # DatasetError (a ValueError) names the path
    return DemoData.from_demonstrations(demos, obs_dim, act_dim, task_id, source=str(path))
