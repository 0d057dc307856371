"""The scripted relocate solver brings the object (not the palm) to the target within the horizon."""

import numpy as np

from dexmv_sim.scripted import solve_episode
from dexmv_sim.simulation import TaskSimulation


def test_solver_relocates_the_can_within_200_steps():
    # one object and seed: the per-object rates over 10 seeds are `dexmv bench sim`'s scripted_success
    sim = TaskSimulation("relocate-tomato_soup_can")
    assert solve_episode(sim, seed=0, steps=200)
    task = sim.task
    assert np.linalg.norm(task.object_pos - task.target_pos) < 0.06  # the object, not the palm
    assert task.object_pos[2] - task.rest_z > 0.05 and not task.object_on_table()
