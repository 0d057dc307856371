"""Every relocate object can be grasped, lifted and held for a second by the hand (real contacts).

Tolerances: the scripted lift raises the grasp site 0.15 m; the object must end at least 0.08 m
above its resting height after the 1 s hold (the 500 N/m arm servo sags ~1 cm under the object and
the object sits lower in the closed fingers than the grasp site). Held means it moves less than
8 mm relative to the palm over the hold: what remains once the lift's servo lag settles (2-4 mm
measured) plus margin, far below the object's size (a dropped object moves by decimetres).
"""

import numpy as np
import pytest

from dexmv_sim.scripted import grasp_and_lift_targets, grasp_plan_for
from dexmv_sim.simulation import TaskSimulation
from dexmv_sim.tasks.relocate import RELOCATE_OBJECTS


@pytest.mark.parametrize("name", RELOCATE_OBJECTS)
def test_scripted_grasp_holds_each_object_for_a_second(name):
    sim = TaskSimulation(f"relocate-{name}")
    sim.reset(np.random.default_rng(0), {"object_pos": (0.06, -0.04), "target": (0.0, 0.0, 0.25)})
    task = sim.task
    plan = grasp_plan_for(task.object_id, task.object_qpos[:3].copy(), task.object_qpos[3:].copy(), 2 * task.rest_z)
    assert plan.hold_steps == 100  # 1 s at 100 Hz
    targets = grasp_and_lift_targets(sim.model, sim.data.qpos[:30].copy(), plan)
    hold_start = plan.total_steps - plan.hold_steps
    relative = []
    for step, target in enumerate(targets):
        sim.step_targets(target)
        if step >= hold_start - 1:
            relative.append(task.object_pos - task.palm)
    lift = task.object_pos[2] - task.rest_z
    drift = np.linalg.norm(relative[-1] - relative[0])
    assert lift > 0.08, f"{name} ended {lift:.3f} m above the table"
    assert drift < 0.008, f"{name} slipped {drift * 1000:.1f} mm in the hand during the 1 s hold"
