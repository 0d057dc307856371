"""A perceived symmetric object's poses expressed in the equivalent frame the simulation means.

Perception fits the object's shape to depth, so for a symmetric shape any equivalent pose is as good
as another (dexmv_perception.objects.symmetry): a large clamp lying flat comes out upside down as
often as not. The simulation rests every object with its model z axis up, and the conversion uses
the model frame's axes (the robot grasp's yaw and its offset on the object), so an upside-down
clamp got a grasp turned half round (perceived demonstrations of seeds 100-104: 5 of 5 clamps
upside down). The first perceived pose picks the symmetry that turns the object upright, and every
frame is turned by the same one: the trajectory stays continuous, and the shape is where it was.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from dexmv_learning.demos.trajectory import HumanTrajectory


def upright_frames(traj: HumanTrajectory, object_id: str) -> tuple[HumanTrajectory, bool]:
    """`traj` with `object_id`'s orientations turned by the symmetry that makes its first finite pose
    upright, and whether they were turned (False also for objects without symmetries)."""
    from scipy.spatial.transform import Rotation

    from dexmv_perception.objects.symmetry import upright_equivalent

    k = traj.object_index(object_id)
    quats = traj.object_poses[:, k, 3:]
    finite = np.flatnonzero(np.isfinite(quats).all(axis=1))
    if finite.size == 0:
        return traj, False
    turn = upright_equivalent(Rotation.from_quat(quats[finite[0]]).as_matrix(), object_id)
    if np.allclose(turn, np.eye(3)):
        return traj, False
    poses = traj.object_poses.copy()
    poses[finite, k, 3:] = (Rotation.from_quat(quats[finite]) * Rotation.from_matrix(turn)).as_quat()
    return replace(traj, object_poses=poses), True
