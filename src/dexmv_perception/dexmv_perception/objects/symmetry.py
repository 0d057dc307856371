"""Shape symmetries of the task objects and the symmetry-aware rotation error.

A depth-only estimator cannot tell apart two poses that the object's shape maps onto each other (a
soup can turned about its axis, a box turned half a turn), so its rotation error is the smallest
angle to any pose equivalent under the shape's symmetries (as the BOP benchmark's MSSD does). The
symmetries are those of the simulation's geometry; test_object_symmetry.py checks that each one
maps the object's point model onto itself, so a change of the sim's shapes that breaks one is caught.

- 004_sugar_box: a box, 180-degree turns about each axis (the printed panels are too thin to see in depth);
- 005_tomato_soup_can: a cylinder, any turn about its axis (z) and upside down;
- 051_large_clamp: lying flat and mirror-symmetric, a half turn about the jaw axis (y);
- 006_mustard_bottle (cap off-centre), 025_mug (handle), 011_banana (curved, stem at one end): none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_RX = np.diag([1.0, -1.0, -1.0])
_RY = np.diag([-1.0, 1.0, -1.0])
_RZ = np.diag([-1.0, -1.0, 1.0])


@dataclass(frozen=True)
class ObjectSymmetry:
    """discrete: rotations (model frame) that map the shape onto itself, identity included; axis: a
    continuous symmetry axis (model frame) or None; axis_flip: the axis may also point the other way."""

    discrete: tuple[np.ndarray, ...] = (np.eye(3),)
    axis: np.ndarray | None = None
    axis_flip: bool = False
    # the direction of an axis (model frame) about which the shape is symmetric but for a small
    # feature (the mug's handle): where that feature is hidden, a pose turned about it fits as well,
    # so a tracker must look for the feature all round (not a symmetry: the error is not forgiven);
    # where the axis passes: spin_axis() below
    spin_axis: np.ndarray | None = None

    def equivalent_rotations(self, rotation: np.ndarray, samples: int = 36) -> list[np.ndarray]:
        """Rotations (object in world) equivalent to `rotation`; a continuous axis sampled `samples` times."""
        from scipy.spatial.transform import Rotation

        syms = list(self.discrete)
        if self.axis is not None:
            turns = [Rotation.from_rotvec(self.axis * a).as_matrix()
                     for a in np.linspace(0, 2 * np.pi, samples, endpoint=False)]
            syms = [t @ f for t in turns for f in self.flips()]
        return [rotation @ s for s in syms]

    def flips(self) -> list[np.ndarray]:
        """The identity and, with axis_flip, a half turn that points the axis the other way."""
        if self.axis is None or not self.axis_flip:
            return [np.eye(3)]
        from scipy.spatial.transform import Rotation

        perp = np.cross(self.axis, [1.0, 0.0, 0.0] if abs(self.axis[0]) < 0.9 else [0.0, 1.0, 0.0])
        return [np.eye(3), Rotation.from_rotvec(perp / np.linalg.norm(perp) * np.pi).as_matrix()]


_SYMMETRIES = {
    "004_sugar_box": ObjectSymmetry(discrete=(np.eye(3), _RX, _RY, _RZ)),
    "005_tomato_soup_can": ObjectSymmetry(axis=np.array([0.0, 0.0, 1.0]), axis_flip=True),
    "006_mustard_bottle": ObjectSymmetry(),
    "025_mug": ObjectSymmetry(spin_axis=np.array([0.0, 0.0, 1.0])),
    "051_large_clamp": ObjectSymmetry(discrete=(np.eye(3), _RY)),
    "011_banana": ObjectSymmetry(),
}


def object_symmetry(object_id: str) -> ObjectSymmetry:
    """The shape symmetry of a task object (unknown objects: none)."""
    return _SYMMETRIES.get(object_id, ObjectSymmetry())


def upright_equivalent(rotation: np.ndarray, object_id: str) -> np.ndarray:
    """The symmetry (model frame, (3, 3)) that turns `rotation` (world <- model) into its equivalent
    whose model z axis points most nearly up (world +z): how the simulation rests every task object.
    Why: a depth-only pose of a symmetric object is any of its equivalents (a clamp lying flat may come
    out upside down); whoever uses the model frame's axes (a grasp planned for the object's yaw, an
    offset on it) needs the one the simulation means. Identity for objects without symmetries."""
    rotation = np.asarray(rotation, dtype=float)[:3, :3]
    sym = object_symmetry(object_id)
    candidates = sym.flips() if sym.axis is not None else list(sym.discrete)
    return max(candidates, key=lambda c: float((rotation @ c)[2, 2]))


def spin_axis(object_id: str, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray] | None:
    """(direction, a point on it) of the object's spin axis in its model frame at `scale`, or None.
    The model frame is centred on the bounding box, handle included, so the mug's axis is off the
    origin: it is its cavity's."""
    direction = object_symmetry(object_id).spin_axis
    if direction is None:
        return None
    from dexmv_sim.objects import object_cavity

    cavity = object_cavity(object_id, scale)
    point = np.zeros(3) if cavity is None else np.array([cavity.center_xy[0], cavity.center_xy[1], 0.0])
    return np.asarray(direction, dtype=float), point


def turn_about(direction: np.ndarray, point: np.ndarray, degrees: float) -> np.ndarray:
    """(4, 4) model-frame transform turning by `degrees` about the axis through `point`: a pose
    times it is the object turned so."""
    from scipy.spatial.transform import Rotation

    out = np.eye(4)
    out[:3, :3] = Rotation.from_rotvec(np.asarray(direction) * np.radians(degrees)).as_matrix()
    out[:3, 3] = point - out[:3, :3] @ point
    return out


def spin_feature(points: np.ndarray, direction: np.ndarray, point: np.ndarray, surface: np.ndarray | None = None,
                 tolerance_m: float = 0.004) -> np.ndarray:
    """(N,) bool: the points (model frame) that quarter and half turns about the axis move off the
    surface (`surface`: the model's points, default `points`): the feature that breaks the spin
    symmetry (the mug's handle), the only evidence of how the object is turned about that axis."""
    from scipy.spatial import cKDTree

    points = np.asarray(points, dtype=float)
    tree = cKDTree(points if surface is None else np.asarray(surface, dtype=float))
    out = np.zeros(len(points), dtype=bool)
    for degrees in (90.0, 180.0, 270.0):
        turn = turn_about(direction, point, degrees)
        dist, _ = tree.query(points @ turn[:3, :3].T + turn[:3, 3])
        out |= dist > tolerance_m
    return out


def rotation_angle_deg(rot: np.ndarray) -> float:
    """The angle (degrees) of a rotation matrix."""
    return float(np.degrees(np.arccos(np.clip((np.trace(rot) - 1.0) / 2.0, -1.0, 1.0))))


def rotation_error_deg(R_est: np.ndarray, R_true: np.ndarray, object_id: str) -> float:
    """Smallest rotation angle (degrees) between R_est and any rotation equivalent to R_true under the
    shape symmetry of `object_id` (both: world <- model frame)."""
    r_est, r_true = np.asarray(R_est, dtype=float)[:3, :3], np.asarray(R_true, dtype=float)[:3, :3]
    sym = object_symmetry(object_id)
    if sym.axis is not None:
        a_est, a_true = r_est @ sym.axis, r_true @ sym.axis
        c = float(np.dot(a_est, a_true))
        return float(np.degrees(np.arccos(np.clip(abs(c) if sym.axis_flip else c, -1.0, 1.0))))
    return min(rotation_angle_deg((r_true @ s).T @ r_est) for s in sym.discrete)
