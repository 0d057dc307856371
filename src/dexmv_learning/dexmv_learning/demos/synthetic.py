"""Small scripted demonstrations for tests and smoke runs: no recording, no retargeting.

`rollout_demonstrations(task_id, n, seed)` resets the task with a seeded generator and drives the
hand through dexmv_sim's scripted palm-down grasp (approach, descend, close, lift; relocate then
carries the object to its target) with the joint targets as actions (every actuator is a position
servo, so a target is an action). Relocate objects are usually lifted (the scripted grasp is tuned
per object); pour and place_inside only reach and grasp. Not a substitute for the human
demonstrations of `dexmv demos`: these exist so learning code can be tested in seconds.
"""

from __future__ import annotations

import numpy as np

from dexmv_learning.demos.dataset import Demonstration
from dexmv_learning.demos.rollout import record_rollout

PHASES = {"approach_steps": 40, "descend_steps": 30, "close_steps": 30, "lift_steps": 40, "hold_steps": 10}
MOVE_STEPS = 50


def _scripted_targets(sim) -> np.ndarray:
    from dexmv_sim.scripted import GRASPS, GraspPlan, grasp_and_lift_targets, grasp_plan_for, move_to_targets

    task = sim.task
    if sim.task_id.startswith("relocate-"):
        oid = task.object_id
        pos = task.object_qpos[:3].copy()
        top = 2 * task.rest_z  # the object stands on the table: its top is twice its centre's height
        plan = grasp_plan_for(oid, pos, task.object_qpos[3:].copy(), top, **PHASES)
        if oid not in GRASPS:  # pragma: no cover - every relocate object has a tuned grasp
            plan = GraspPlan(pos, **PHASES)
        lift = grasp_and_lift_targets(sim.model, sim.data.qpos[:30].copy(), plan)
        goal = np.asarray(task.target_pos) + (plan.grasp_point - pos)
        return np.vstack([lift, move_to_targets(sim.model, lift[-1], goal, MOVE_STEPS)])
    body = "025_mug" if sim.task_id == "pour" else "011_banana"
    pos = sim.data.xpos[sim.model.body(body).id].copy()
    plan = GraspPlan(pos + np.array([0.0, 0.0, 0.02]), **PHASES)
    return grasp_and_lift_targets(sim.model, sim.data.qpos[:30].copy(), plan)


def rollout_demonstrations(task_id: str, n: int, seed: int, *, max_steps: int | None = None) -> list[Demonstration]:
    """`n` scripted demonstrations of `task_id`, episode k reset with seed `seed + k`; at most
    `max_steps` control steps each (default: the whole scripted motion, 150-200 steps)."""
    from dexmv_sim.simulation import TaskSimulation

    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    sim = TaskSimulation(task_id)
    demos = []
    for k in range(n):
        sim.reset(np.random.default_rng(seed + k))
        targets = _scripted_targets(sim)
        if max_steps is not None:
            targets = targets[:max_steps]
        actions = sim.actions.to_actions(targets)
        reference = np.vstack([sim.data.qpos[:30].copy()[None], targets])
        demos.append(record_rollout(sim, actions, reference_qpos=reference, seed=seed + k,
                                    source={"kind": "scripted", "seed": seed + k}))
    return demos
