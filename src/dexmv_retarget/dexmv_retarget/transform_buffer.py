"""A small buffer of the latest transforms of a TF tree, for nodes where tf2_ros is not available.

Feed it what arrives on /tf_static and /tf (parent, child, translation, quaternion); `lookup`
chains the transforms between any two connected frames. It keeps only the latest transform per
child frame (no interpolation in time): right for static camera extrinsics and slowly moving
frames, which is what the retarget node needs; where tf2_ros is importable, use tf2_ros. Pure
numpy, no rclpy, so any package can reuse it and tests need no ROS graph.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.spatial.transform import Rotation


class TransformLookupError(LookupError):
    """No chain of known transforms connects the two frames, or one on the way is too old."""


@dataclass(frozen=True)
class StampedTransform:
    parent: str
    child: str
    translation: tuple[float, float, float]
    quaternion_xyzw: tuple[float, float, float, float]  # normalised
    stamp: float  # seconds
    static: bool

    @cached_property
    def matrix(self) -> np.ndarray:
        """4x4, parent <- child; built on first lookup only: a busy /tf (the sim's bodies at 100 Hz)
        costs a tuple per transform, not a rotation conversion."""
        return transform_matrix(self.translation, self.quaternion_xyzw)


def transform_matrix(translation: np.ndarray, quaternion_xyzw: np.ndarray) -> np.ndarray:
    """4x4 homogeneous transform from a translation and a (x, y, z, w) quaternion (ROS order)."""
    q = np.asarray(quaternion_xyzw, dtype=float)
    norm = np.linalg.norm(q)
    if not np.isfinite(norm) or norm < 1e-9:
        raise ValueError(f"quaternion {q.tolist()} is not a rotation")
    out = np.eye(4)
    out[:3, :3] = Rotation.from_quat(q / norm).as_matrix()
    out[:3, 3] = np.asarray(translation, dtype=float)
    return out


class TransformBuffer:
    """Latest transform per child frame; lookups walk the tree through the common ancestor."""

    def __init__(self) -> None:
        self._by_child: dict[str, StampedTransform] = {}

    def set_transform(self, parent: str, child: str, translation: np.ndarray, quaternion_xyzw: np.ndarray,
                      stamp: float = 0.0, static: bool = False) -> None:
        parent, child = parent.lstrip("/"), child.lstrip("/")  # tf2 ignores a leading slash
        if not parent or not child or parent == child:
            raise ValueError(f"transform {parent!r} -> {child!r} needs two different, non-empty frame names")
        previous = self._by_child.get(child)
        if previous is not None and not static and previous.stamp > stamp:
            return  # an older message arriving late
        x, y, z, w = (float(v) for v in quaternion_xyzw)
        norm = math.sqrt(x * x + y * y + z * z + w * w)
        if not math.isfinite(norm) or norm < 1e-9:
            raise ValueError(f"quaternion {[x, y, z, w]} is not a rotation")
        tx, ty, tz = (float(v) for v in translation)
        if not all(math.isfinite(v) for v in (tx, ty, tz)):
            raise ValueError(f"translation {[tx, ty, tz]} is not finite")
        self._by_child[child] = StampedTransform(parent, child, (tx, ty, tz),
                                                 (x / norm, y / norm, z / norm, w / norm), float(stamp), static)

    def frames(self) -> list[str]:
        names = set(self._by_child)
        names.update(t.parent for t in self._by_child.values())
        return sorted(names)

    def _chain_to_root(self, frame: str) -> list[str]:
        chain = [frame]
        while chain[-1] in self._by_child:
            chain.append(self._by_child[chain[-1]].parent)
            if len(chain) > len(self._by_child) + 1:
                raise TransformLookupError(f"the transform tree has a loop through {chain[-1]!r}")
        return chain

    def lookup(self, target: str, source: str, now: float | None = None, max_age: float | None = None) -> np.ndarray:
        """4x4 transform target <- source (maps points given in `source` into `target`).

        With `now` and `max_age`, a non-static transform on the way older than max_age seconds is an error.
        """
        target, source = target.lstrip("/"), source.lstrip("/")
        if target == source:
            return np.eye(4)
        up_source, up_target = self._chain_to_root(source), self._chain_to_root(target)
        common = next((f for f in up_source if f in set(up_target)), None)
        if common is None:
            raise TransformLookupError(
                f"no transform from {source!r} to {target!r}: known frames {self.frames() or 'none'} "
                "(is /tf_static being published?)")
        root_from_source = self._compose(up_source[: up_source.index(common)], now, max_age)
        root_from_target = self._compose(up_target[: up_target.index(common)], now, max_age)
        return np.linalg.inv(root_from_target) @ root_from_source

    def _compose(self, frames: list[str], now: float | None, max_age: float | None) -> np.ndarray:
        """common <- frames[0], walking up through frames[1:]."""
        out = np.eye(4)
        for frame in frames:
            t = self._by_child[frame]
            if now is not None and max_age is not None and not t.static and now - t.stamp > max_age:
                raise TransformLookupError(
                    f"transform {t.parent!r} -> {t.child!r} is {now - t.stamp:.2f} s old (max {max_age} s)")
            out = t.matrix @ out
        return out
