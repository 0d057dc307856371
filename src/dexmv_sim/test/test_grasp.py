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


def test_grasp_contacts_carry_the_declared_hand_object_friction():
    """A real closed grasp: every hand-object contact has HAND_OBJECT_FRICTION (sliding, sliding,
    torsional, rolling, rolling), every object-table contact the table's, whatever the assets say."""
    from dexmv_sim.objects import HAND_OBJECT_FRICTION
    from dexmv_sim.scene import hand_geom_ids
    from dexmv_sim.table import TABLE_FRICTION

    sim = TaskSimulation("relocate-tomato_soup_can")
    sim.reset(np.random.default_rng(0), {"object_pos": (0.06, -0.04), "target": (0.0, 0.0, 0.25)})
    task = sim.task
    plan = grasp_plan_for(task.object_id, task.object_qpos[:3].copy(), task.object_qpos[3:].copy(), 2 * task.rest_z)
    targets = grasp_and_lift_targets(sim.model, sim.data.qpos[:30].copy(), plan)
    hand = set(hand_geom_ids(sim.model).tolist())
    obj = set(task.geom_set(task.object_id))
    table = sim.model.geom("table/top").id
    slide, spin, roll = HAND_OBJECT_FRICTION
    expected = np.array([slide, slide, spin, roll, roll])
    hand_object = object_table = 0
    for target in targets[: plan.total_steps - plan.hold_steps]:  # up to the closed grasp, before the lift
        sim.step_targets(target)
        for c in sim.data.contact[: sim.data.ncon]:
            pair = {int(c.geom1), int(c.geom2)}
            if pair & hand and pair & obj:
                hand_object += 1
                assert c.dim == 4
                np.testing.assert_allclose(c.friction, expected)
            elif table in pair and pair & obj:
                object_table += 1
                assert c.dim == 3
                np.testing.assert_allclose(c.friction[:3], [TABLE_FRICTION[0], *TABLE_FRICTION[:2]])
    assert hand_object > 0 and object_table > 0
    assert expected[2] == 0.5  # DexMV's effective torsional friction (its assets' hand value wins)
