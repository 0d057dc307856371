"""What an object pose estimator returns, and the protocol any estimator implements.

The default estimator is `ObjectTracker` (model registration and tracking). A learned estimator
(for example an ONNX model run with onnxruntime) replaces it by implementing `ObjectPoseBackend`:

    class OnnxPoseBackend:
        def __init__(self, object_ids, model_path, seed=0):
            import onnxruntime  # the user's dependency, not ours
            self.object_ids = list(object_ids)
            self.session = onnxruntime.InferenceSession(model_path)

        def update(self, views):
            ...  # run the network on the views; return one ObjectPoseEstimate per object found

        def reset(self):
            pass

Anything with `object_ids`, `update(views) -> list[ObjectPoseEstimate]` and `reset()` works; the
perception node only calls these. Estimates must be poses of the object's *model frame* (dexmv_sim:
the centre of the object's bounding box, z up in its resting pose), in `world`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from dexmv_perception.objects.depth_view import DepthView


@dataclass(frozen=True)
class ObjectPoseEstimate:
    """One object's estimated pose.

    T_world_object: (4, 4) world <- object model frame. confidence in [0, 1] (0: not found; the
    default estimator derives it from fitness and rmse). fitness: share of the object's segmented
    points that the registered model explains (within the inlier distance); rmse_m: RMS distance of
    those inliers to the model, metres.
    """

    object_id: str
    T_world_object: np.ndarray
    confidence: float
    fitness: float
    rmse_m: float

    @property
    def position(self) -> np.ndarray:
        return self.T_world_object[:3, 3].copy()

    def quaternion_xyzw(self) -> np.ndarray:
        """Orientation as ROS orders a quaternion (x, y, z, w)."""
        from scipy.spatial.transform import Rotation

        return Rotation.from_matrix(self.T_world_object[:3, :3]).as_quat()


@runtime_checkable
class ObjectPoseBackend(Protocol):
    """An object pose estimator: given the depth views of one instant, the poses of the objects found.

    Optionally a `prepare()` method, which `Perception.warm_up` calls before the first frame (load
    weights, build models), so that the node's first frames are not the slow ones."""

    object_ids: list[str]

    def update(self, views: Sequence[DepthView]) -> list[ObjectPoseEstimate]:
        """Estimates for this instant (objects not found are left out or have confidence 0)."""
        ...

    def reset(self) -> None:
        """Forget the tracking state (a new episode or recording)."""
        ...
