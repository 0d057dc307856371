"""The DexMV tasks by id (docs/architecture.md, Tasks): relocate-<object> for five objects, pour, place_inside."""

from __future__ import annotations

from pathlib import Path

from dexmv_sim.tasks.base import Evaluation, Task, TaskOptionError
from dexmv_sim.tasks.relocate import RELOCATE_OBJECTS, RelocateTask

TASK_IDS = (*(f"relocate-{name}" for name in RELOCATE_OBJECTS), "pour", "place_inside")


def task_class(task_id: str) -> type[Task]:
    """The Task class of `task_id`, without building a task (for its class attributes); any
    relocate-<name> gives RelocateTask, which refuses an unknown object when built."""
    if task_id.startswith("relocate-"):
        return RelocateTask
    if task_id == "pour":
        from dexmv_sim.tasks.pour import PourTask

        return PourTask
    if task_id == "place_inside":
        from dexmv_sim.tasks.place_inside import PlaceInsideTask

        return PlaceInsideTask
    raise TaskOptionError(f"unknown task '{task_id}': choose one of {', '.join(TASK_IDS)}")


def make_task(task_id: str, *, mesh_dir: str | Path | None = None) -> Task:
    """A fresh task object for `task_id` (see TASK_IDS)."""
    cls = task_class(task_id)
    if cls is RelocateTask:
        return RelocateTask(task_id.removeprefix("relocate-"), mesh_dir=mesh_dir)
    return cls(mesh_dir=mesh_dir)


__all__ = ["TASK_IDS", "Evaluation", "Task", "TaskOptionError", "make_task", "task_class"]
