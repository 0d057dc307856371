"""Objects and fingertips stay on the table top, not in it: penetration bounds over real episodes.

Penetration is MuJoCo's contact distance below zero for contacts with the table top. Bounds: 3 mm
for objects resting or carried in the scripted solver's episodes, 5 mm for anything pressed into
the table (the hand pushing down on it, or a flailing random policy slamming objects onto it). With
MuJoCo's default 20 ms contact time constant on the table the random-policy episodes below sink
the mustard bottle 12 mm into the top; with the table's 5 ms, 2.5 mm.
"""

import mujoco
import numpy as np
import pytest

from dexmv_sim.scene import hand_geom_ids
from dexmv_sim.scripted import GraspPlan, RelocateSolver, grasp_and_lift_targets
from dexmv_sim.simulation import TaskSimulation
from dexmv_sim.tasks.relocate import RELOCATE_OBJECTS

RESTING_MM = 3.0
PRESSED_MM = 5.0


class _Depth:
    """Largest penetration into the table top so far, for hand geoms and for everything else."""

    def __init__(self, sim: TaskSimulation) -> None:
        self.model, self.data = sim.model, sim.data
        self.top = sim.model.geom("table/top").id
        self.hand = set(hand_geom_ids(sim.model).tolist())
        self.hand_mm = 0.0
        self.object_mm = 0.0
        self.hand_force = 0.0  # largest total normal force of hand-table contacts (N)

    def update(self) -> None:
        force = np.zeros(6)
        total = 0.0
        for i, c in enumerate(self.data.contact[:self.data.ncon]):
            if self.top not in (c.geom1, c.geom2):
                continue
            other = c.geom2 if c.geom1 == self.top else c.geom1
            depth = -1000.0 * c.dist
            if other in self.hand:
                self.hand_mm = max(self.hand_mm, depth)
                mujoco.mj_contactForce(self.model, self.data, i, force)
                total += force[0]
            else:
                self.object_mm = max(self.object_mm, depth)
        self.hand_force = max(self.hand_force, total)


@pytest.mark.parametrize("name", RELOCATE_OBJECTS)
def test_scripted_relocate_keeps_objects_and_fingers_on_the_top(name):
    sim = TaskSimulation(f"relocate-{name}")
    sim.reset(np.random.default_rng(0))
    solver = RelocateSolver(sim)
    depth = _Depth(sim)
    for _ in range(200):
        sim.step_targets(solver())
        depth.update()
    assert depth.object_mm < RESTING_MM, f"{name} sank {depth.object_mm:.2f} mm into the table"
    assert depth.hand_mm < PRESSED_MM, f"a finger sank {depth.hand_mm:.2f} mm into the table"


@pytest.mark.parametrize("task", ["pour", "place_inside"])
def test_objects_resting_in_other_tasks_stay_on_the_top(task):
    sim = TaskSimulation(task)
    sim.reset(np.random.default_rng(0))
    depth = _Depth(sim)
    for _ in range(100):
        sim.step_targets(sim.targets)
        depth.update()
    assert depth.object_mm < RESTING_MM


def test_hand_pressing_down_on_the_table_does_not_sink_into_it():
    """A palm-down grasp aimed 6 cm below the empty table top: the hand arrives, presses and closes
    its fingers on the top."""
    sim = TaskSimulation("relocate-sugar_box")
    sim.reset(np.random.default_rng(0), {"object_pos": (0.25, 0.25)})  # out of the way
    plan = GraspPlan(np.array([0.0, -0.1, -0.06]), lift_steps=1, hold_steps=1)
    depth = _Depth(sim)
    for targets in grasp_and_lift_targets(sim.model, sim.data.qpos[:30].copy(), plan)[:-2]:
        sim.step_targets(targets)
        depth.update()
    assert depth.hand_force > 30.0  # it really presses (about 70 N)
    assert depth.hand_mm < PRESSED_MM


def test_random_policy_does_not_push_objects_into_the_table():
    sim = TaskSimulation("relocate-mustard_bottle")
    depth = _Depth(sim)
    for seed in range(3):
        rng = np.random.default_rng(seed)
        sim.reset(rng)
        for _ in range(200):
            sim.step_action(rng.uniform(-1.0, 1.0, 30))
            depth.update()
    assert depth.object_mm < PRESSED_MM and depth.hand_mm < PRESSED_MM
