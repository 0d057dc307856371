"""The default object pose estimator: segmentation, global registration, ICP, tracking, re-detection."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dexmv_perception.objects.backend import ObjectPoseEstimate
from dexmv_perception.objects.depth_view import DepthView


@dataclass(frozen=True)
class TrackerConfig:
    """Tuning of the default estimator (metres, degrees)."""

    voxel_m: float = 0.004


class ObjectTracker:
    """Track the 6-DoF poses of `object_ids` (YCB ids, e.g. "006_mustard_bottle") in depth views.

    scales: per object id, the uniform scale the object has in the scene (place_inside's mug is
    twice its size); default 1. seed: the global registration's random draws.
    """

    def __init__(self, object_ids: Sequence[str], seed: int = 0, *, scales: dict[str, float] | None = None,
                 config: TrackerConfig | None = None) -> None:
        self.object_ids = list(object_ids)
        self.seed = seed
        self.scales = dict(scales or {})
        self.config = config or TrackerConfig()

    def update(self, views: Sequence[DepthView]) -> list[ObjectPoseEstimate]:
        raise NotImplementedError("ObjectTracker.update: registration is being implemented (API only)")

    def reset(self) -> None:
        raise NotImplementedError("ObjectTracker.reset: registration is being implemented (API only)")
