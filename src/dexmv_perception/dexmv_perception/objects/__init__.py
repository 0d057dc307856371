"""Model-based 6-DoF object poses from depth: segmentation, registration to the simulation's own object
geometry, frame-to-frame tracking with re-detection, and a backend interface for learned estimators.

Public API (importing this package loads nothing heavy; MuJoCo and small_gicp load on first use):
- `DepthView`: one depth image with its intrinsics and camera pose (depth_view.py);
- `ObjectPoseEstimate`, `ObjectPoseBackend`: what an estimator returns and the protocol a learned
  estimator implements to replace the default (backend.py);
- `ObjectTracker`: the default estimator, segmentation + global registration + ICP + tracking (tracker.py);
- `rotation_error_deg`, `object_symmetry`: symmetry-aware rotation error per object (symmetry.py);
- `object_point_model`: points sampled on an object's surface from dexmv_sim's definitions (point_models.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dexmv_perception.objects.backend import ObjectPoseBackend, ObjectPoseEstimate
    from dexmv_perception.objects.depth_view import DepthView
    from dexmv_perception.objects.point_models import ObjectPointModel, object_point_model
    from dexmv_perception.objects.symmetry import ObjectSymmetry, object_symmetry, rotation_error_deg
    from dexmv_perception.objects.tracker import ObjectTracker, TrackerConfig

_WHERE = {
    "DepthView": "depth_view",
    "ObjectPoseEstimate": "backend",
    "ObjectPoseBackend": "backend",
    "ObjectTracker": "tracker",
    "TrackerConfig": "tracker",
    "ObjectPointModel": "point_models",
    "object_point_model": "point_models",
    "ObjectSymmetry": "symmetry",
    "object_symmetry": "symmetry",
    "rotation_error_deg": "symmetry",
}
__all__ = [
    "DepthView", "ObjectPointModel", "ObjectPoseBackend", "ObjectPoseEstimate", "ObjectSymmetry", "ObjectTracker",
    "TrackerConfig", "object_point_model", "object_symmetry", "rotation_error_deg",
]


def __getattr__(name: str):
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f"dexmv_perception.objects.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'dexmv_perception.objects' has no attribute {name!r}")
