"""Human-to-Adroit hand motion retargeting (DexMV Sec. 3.2): stage-1 initial guess and stage-2
task-space-vector optimization, streaming and batch APIs, and the retarget node.

Public API: `Retargeter`, `RetargetConfig`, `FrameStatus`, `FrameResult`, `TrajectoryResult`
(retargeter.py); `TransformBuffer` (transform_buffer.py) for nodes without tf2_ros. Importing the
package imports nothing heavy (MuJoCo loads when a Retargeter is made).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dexmv_retarget.retargeter import FrameResult, FrameStatus, RetargetConfig, Retargeter, TrajectoryResult

__all__ = ["FrameResult", "FrameStatus", "RetargetConfig", "Retargeter", "TrajectoryResult"]


def __getattr__(name: str):
    if name in __all__:
        from dexmv_retarget import retargeter

        return getattr(retargeter, name)
    raise AttributeError(f"module 'dexmv_retarget' has no attribute {name!r}")
