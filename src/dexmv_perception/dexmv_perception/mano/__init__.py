"""MANO hand model: a restricted loader for the user's MANO_RIGHT.pkl, a differentiable torch layer
(shape blend shapes, PCA pose space, pose blend shapes, linear blend skinning), and a fitter of shape,
pose and translation to 21 hand keypoints.

Public API (importing this package loads neither torch nor scipy; they load on first use):
- `load_mano_model(path) -> ManoModel` (model_file.py): never executes anything from the file;
- `ManoLayer` (layer.py): torch module, (betas, pose, translation) -> vertices, joints, 21 keypoints;
- `ManoFitter`, `ManoFit` (fitting.py): fit to keypoints in `world`;
- `MANO_TO_KEYPOINTS`, `TIP_VERTEX_IDS` (keypoint_order.py): the 21-keypoint order used everywhere;
- `synthetic_mano_model`, `write_synthetic_mano_file` (synthetic.py): a small model with the real
  file's layout, for tests and for running the pipeline without the licensed file.

MANO itself is licensed per user (https://mano.is.tue.mpg.de); nothing of it is in this repository.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dexmv_perception.mano.fitting import ManoFit, ManoFitter
    from dexmv_perception.mano.keypoint_order import MANO_TO_KEYPOINTS, TIP_VERTEX_IDS
    from dexmv_perception.mano.layer import ManoLayer
    from dexmv_perception.mano.model_file import ManoFileError, ManoModel, load_mano_model
    from dexmv_perception.mano.synthetic import synthetic_mano_model, write_synthetic_mano_file

_WHERE = {
    "ManoFit": "fitting",
    "ManoFitter": "fitting",
    "MANO_TO_KEYPOINTS": "keypoint_order",
    "TIP_VERTEX_IDS": "keypoint_order",
    "ManoLayer": "layer",
    "ManoFileError": "model_file",
    "ManoModel": "model_file",
    "load_mano_model": "model_file",
    "synthetic_mano_model": "synthetic",
    "write_synthetic_mano_file": "synthetic",
}
__all__ = [
    "MANO_TO_KEYPOINTS",
    "TIP_VERTEX_IDS",
    "ManoFileError",
    "ManoFit",
    "ManoFitter",
    "ManoLayer",
    "ManoModel",
    "load_mano_model",
    "synthetic_mano_model",
    "write_synthetic_mano_file",
]


def __getattr__(name: str):
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f"dexmv_perception.mano.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'dexmv_perception.mano' has no attribute {name!r}")
