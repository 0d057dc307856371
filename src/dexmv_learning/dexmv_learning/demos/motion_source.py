"""Human trajectories straight from dexmv_capture's synthetic hand motions, without rendering.

The embedded default demo set needs a handful of recordings per task; rendering two D435 streams
costs minutes each and perception is not always installed, so the default set takes the same
ground truth a synthetic recording's ground_truth.npz holds (keypoints, object poses, stamps),
through the same reader checks (HumanTrajectory.from_arrays). Its summary names the source.
"""

from __future__ import annotations

import numpy as np

from dexmv_learning.demos.trajectory import HumanTrajectory, matrix_to_pose7


def motion_trajectory(task_id: str, seed: int, seconds: float = 4.0, fps: float = 30.0) -> HumanTrajectory:
    from dexmv_capture.synthetic.hand_motion import task_motion

    motion = task_motion(task_id, seed, seconds, fps)
    names = list(motion.objects)
    ids = [motion.objects[n].object_id for n in names]
    poses = np.stack([matrix_to_pose7(motion.objects[n].poses) for n in names], axis=1)
    meta = {"task": task_id, "seed": seed, "fps": fps, "seconds": seconds,
            "target": None if motion.target is None else motion.target.tolist(), "grasp_type": motion.grasp_type}
    return HumanTrajectory.from_arrays(keypoints=motion.keypoints, confidence=None,
                                       stamps=np.arange(motion.frames) / fps, object_ids=ids, object_poses=poses,
                                       object_confidence=None, source="ground_truth (synthetic motion)",
                                       path=f"synthetic:{task_id}:seed{seed}", meta=meta)
