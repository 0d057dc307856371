"""YCB-like objects of the DexMV tasks, built from primitives with the real objects' dimensions.

Every object is a body whose frame is the object's *model frame*: the centre of its axis-aligned
bounding box, z up when the object stands (or lies, for the clamp and the banana) in its natural
resting pose on a table. Perception's registration, the capture engineer's synthetic recordings and
the simulation therefore agree on what "the pose of 006_mustard_bottle" means.

Geometry comes in two roles:
- collision geoms (primitives; group 3, hidden in renderings unless they are also the visible
  shape) carry the object's real YCB mass, split over the pieces by volume so the inertia is right;
- visual geoms (group 2, no contacts, no mass) give the colours of the real objects, so a camera
  image looks like the YCB object (mustard-yellow bottle with a red label and a cap, red/white
  Campbell's can, yellow sugar box, red mug with a handle, dark clamp, yellow banana).

Contact parameters (chosen, not defaults):
- condim 4 (sliding + torsional friction): a pinched object does not spin about the pinch axis;
- sliding friction 1.0 (cardboard, coated tin and plastic against the rubber-like fingertips are
  0.6-1.2) and torsional 0.005 m (a few mm contact patch);
- solref (0.01, 1): a 10 ms contact time constant, five physics steps of 2 ms (MuJoCo wants at
  least two), stiffer than the default 20 ms so squeezing fingers sink less into the object;
- margin 0: contacts only on touch.

Hand-object contacts: MuJoCo combines a pair's friction per component by the maximum, so the
friction of a hand-object contact is HAND_OBJECT_FRICTION = max(HAND_FRICTION, FRICTION):
sliding 1, torsional 0.5 m, rolling 0.01 m (rolling unused at condim 4). The hand's (1, 0.5, 0.01)
is the Adroit assets' value, which DexMV's environments use too, so DexMV's hand-object contacts
have the same 0.5 m; scene.set_hand_friction writes it explicitly on every hand geom. 0.5 m is not
a physical contact patch (a fingertip pad is ~0.01 m), it is what keeps a pinched object from
twisting out of DexMV's grasps: with the hand at 0.005 m, the scripted solver's relocate success
over seeds 0-9 fell from 0.9 to 0.7 (mustard bottle, sugar box) and 0.5 (large clamp), objects
twisting out of the grasp while carried (0.02-0.2 m gave 0.5-1.0, unevenly: the grasps were tuned
at 0.5). The objects' own 0.005 m applies between objects (banana and mug).

Real YCB meshes replace the primitives when `mesh_dir` is given (see `find_ycb_mesh`): the visual
mesh (textured when its texture is next to it) plus convex collision pieces when present, else the
convex hull that MuJoCo computes from the visual mesh (which fills the mug's cavity: supply pieces).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import mujoco
import numpy as np

OBJECT_IDS = (
    "004_sugar_box",
    "005_tomato_soup_can",
    "006_mustard_bottle",
    "025_mug",
    "051_large_clamp",
    "011_banana",
)

# Short names used in task ids (relocate-mustard_bottle) and back.
SHORT_NAMES = {object_id: object_id.split("_", 1)[1] for object_id in OBJECT_IDS}
OBJECT_BY_SHORT_NAME = {short: object_id for object_id, short in SHORT_NAMES.items()}

GROUP_VISUAL = 2
GROUP_COLLISION = 3

FRICTION = (1.0, 0.005, 0.0001)
HAND_FRICTION = (1.0, 0.5, 0.01)  # the Adroit assets' (and DexMV's) hand friction, set by scene.py
HAND_OBJECT_FRICTION = tuple(max(h, o) for h, o in zip(HAND_FRICTION, FRICTION, strict=True))
CONDIM = 4
SOLREF = (0.01, 1.0)

_BOX = mujoco.mjtGeom.mjGEOM_BOX
_CYLINDER = mujoco.mjtGeom.mjGEOM_CYLINDER
_CAPSULE = mujoco.mjtGeom.mjGEOM_CAPSULE
_SPHERE = mujoco.mjtGeom.mjGEOM_SPHERE
_ELLIPSOID = mujoco.mjtGeom.mjGEOM_ELLIPSOID


class ObjectError(ValueError):
    """An unknown object id or an unusable mesh directory."""


@dataclass(frozen=True)
class Part:
    """One primitive of an object, in the object's model frame (MuJoCo sizes: half sizes, radii)."""

    type: mujoco.mjtGeom
    size: tuple[float, ...]
    pos: tuple[float, float, float] = (0.0, 0.0, 0.0)
    quat: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)
    rgba: tuple[float, float, float, float] = (0.5, 0.5, 0.5, 1.0)
    collide: bool = True  # collision geom (carries mass)
    visible: bool = True  # rendered (group 2) rather than hidden (group 3)

    def moved(self, offset: np.ndarray, scale: float = 1.0) -> Part:
        pos = (np.asarray(self.pos) + offset) * scale
        return Part(self.type, tuple(float(s) * scale for s in self.size), tuple(float(p) for p in pos), self.quat,
                    self.rgba, self.collide, self.visible)

    def volume(self) -> float:
        s = self.size
        if self.type == _BOX:
            return 8.0 * s[0] * s[1] * s[2]
        if self.type == _CYLINDER:
            return math.pi * s[0] ** 2 * 2.0 * s[1]
        if self.type == _CAPSULE:
            return math.pi * s[0] ** 2 * 2.0 * s[1] + 4.0 / 3.0 * math.pi * s[0] ** 3
        if self.type == _SPHERE:
            return 4.0 / 3.0 * math.pi * s[0] ** 3
        if self.type == _ELLIPSOID:
            return 4.0 / 3.0 * math.pi * s[0] * s[1] * s[2]
        raise ObjectError(f"no volume formula for geom type {self.type}")

    def aabb_half(self) -> np.ndarray:
        """Half sizes of this part's axis-aligned box in the model frame."""
        rot = np.zeros(9)
        mujoco.mju_quat2Mat(rot, np.asarray(self.quat, dtype=float))
        rot = rot.reshape(3, 3)
        s = self.size
        if self.type == _BOX:
            return np.abs(rot) @ np.asarray(s[:3])
        if self.type in (_SPHERE,):
            return np.full(3, s[0])
        if self.type == _ELLIPSOID:
            return np.sqrt((rot * np.asarray(s[:3])) ** 2 @ np.ones(3))
        axis = np.abs(rot[:, 2])
        if self.type == _CAPSULE:
            return axis * s[1] + s[0]
        if self.type == _CYLINDER:
            return axis * s[1] + s[0] * np.sqrt(np.clip(1.0 - axis**2, 0.0, 1.0))
        raise ObjectError(f"no bounding box formula for geom type {self.type}")


@dataclass(frozen=True)
class Cavity:
    """The inside of a container (the mug) as an upright cylinder in the model frame."""

    center_xy: tuple[float, float]
    radius: float
    z_bottom: float
    z_top: float

    def contains(self, points: np.ndarray) -> np.ndarray:
        """Boolean mask of model-frame points (N x 3) inside the cavity."""
        p = np.asarray(points)
        r2 = (p[:, 0] - self.center_xy[0]) ** 2 + (p[:, 1] - self.center_xy[1]) ** 2
        return (r2 <= self.radius**2) & (p[:, 2] >= self.z_bottom) & (p[:, 2] <= self.z_top)

    def scaled(self, scale: float) -> Cavity:
        return Cavity((self.center_xy[0] * scale, self.center_xy[1] * scale), self.radius * scale,
                      self.z_bottom * scale, self.z_top * scale)


@dataclass(frozen=True)
class ObjectModel:
    """An object's primitives (already centred on the bounding box) and physical properties."""

    object_id: str
    mass: float  # kg, the real YCB object's
    parts: tuple[Part, ...]
    cavity: Cavity | None = None
    description: str = ""
    bounds: tuple[np.ndarray, np.ndarray] = field(default=None, compare=False)  # type: ignore[assignment]

    def collision_parts(self) -> list[Part]:
        return [p for p in self.parts if p.collide]


# ------------------------------------------------------------------------------------- colours
YELLOW_MUSTARD = (0.96, 0.78, 0.05, 1.0)
RED_LABEL = (0.80, 0.10, 0.08, 1.0)
SUGAR_YELLOW = (0.95, 0.84, 0.36, 1.0)
WHITE = (0.95, 0.95, 0.93, 1.0)
CAMPBELL_RED = (0.76, 0.07, 0.07, 1.0)
TIN = (0.72, 0.72, 0.74, 1.0)
GOLD = (0.80, 0.65, 0.25, 1.0)
MUG_RED = (0.70, 0.12, 0.10, 1.0)
CLAMP_DARK = (0.12, 0.12, 0.13, 1.0)
CLAMP_ORANGE = (0.90, 0.45, 0.08, 1.0)
BANANA_YELLOW = (0.97, 0.85, 0.22, 1.0)
BANANA_BROWN = (0.35, 0.25, 0.12, 1.0)
HIDDEN = (0.4, 0.6, 0.9, 0.3)

_THIN = 0.0006  # thickness of printed-label patches laid on a face

# Bounding boxes of the real objects (m, in our model frames' axes), which the primitives follow.
# Sources: the YCB paper's object table (Calli et al., "Benchmarking in Manipulation Research: The
# YCB Object and Model Set", IEEE RAM 2015) for the boxes, can and bottle; the scanned YCB-Video
# models' extents (as listed by the BOP benchmark's ycbv models_info) for the mug (117.2 x 93.1 x
# 81.4 mm: handle to far wall, body diameter, height) and the large clamp (about 121 x 167 x 32 mm
# lying flat). Not re-measured from a physical set here.
YCB_SIZES = {
    "004_sugar_box": (0.038, 0.089, 0.175),
    "005_tomato_soup_can": (0.066, 0.066, 0.101),
    "006_mustard_bottle": (0.058, 0.095, 0.190),  # body 0.158 + cap
    "025_mug": (0.117, 0.093, 0.081),  # with the handle
    "051_large_clamp": (0.121, 0.167, 0.032),
}
CLAMP_SPREAD = 0.58  # rad, each handle from the clamp's axis (set so the clamp is 121 mm across)


def _quat_axis_angle(axis: Sequence[float], angle: float) -> tuple[float, float, float, float]:
    axis = np.asarray(axis, dtype=float)
    axis = axis / np.linalg.norm(axis)
    s = math.sin(angle / 2.0)
    return (math.cos(angle / 2.0), axis[0] * s, axis[1] * s, axis[2] * s)


def _quat_z_to(direction: Sequence[float]) -> tuple[float, float, float, float]:
    """Rotation taking +z onto `direction` (capsule and cylinder axes)."""
    d = np.asarray(direction, dtype=float)
    d = d / np.linalg.norm(d)
    q = np.zeros(4)
    mujoco.mju_quatZ2Vec(q, d)
    return tuple(float(v) for v in q)  # type: ignore[return-value]


def _sugar_box() -> list[Part]:
    hx, hy, hz = 0.038 / 2, 0.089 / 2, 0.175 / 2
    parts = [Part(_BOX, (hx, hy, hz), rgba=SUGAR_YELLOW)]
    for sign in (1.0, -1.0):  # the two large faces carry the white panel and the red brand logo
        x = sign * (hx + _THIN / 2)
        parts.append(Part(_BOX, (_THIN / 2, hy * 0.8, hz * 0.35), (x, 0.0, -0.01), rgba=WHITE, collide=False))
        parts.append(Part(_BOX, (_THIN, hy * 0.6, hz * 0.12), (x, 0.0, 0.045), rgba=RED_LABEL, collide=False))
    return parts


def _tomato_soup_can() -> list[Part]:
    r, hz = 0.066 / 2, 0.101 / 2
    rim = 0.004
    body = hz - rim
    parts = [
        Part(_CYLINDER, (r, hz), rgba=CAMPBELL_RED, visible=False),  # collision: the whole can
        Part(_CYLINDER, (r + _THIN, body / 2), (0, 0, body / 2), rgba=CAMPBELL_RED, collide=False),
        Part(_CYLINDER, (r + _THIN, body / 2), (0, 0, -body / 2), rgba=WHITE, collide=False),
        Part(_CYLINDER, (r * 0.96, rim / 2), (0, 0, hz - rim / 2), rgba=TIN, collide=False),
        Part(_CYLINDER, (r * 0.96, rim / 2), (0, 0, -hz + rim / 2), rgba=TIN, collide=False),
        Part(_BOX, (_THIN, 0.010, 0.007), (r + _THIN, 0, 0.004), rgba=GOLD, collide=False),  # medallion
    ]
    return parts


def _mustard_bottle() -> list[Part]:
    hx, hy = 0.058 / 2, 0.095 / 2
    body_h, total_h = 0.158, 0.190
    z0 = -total_h / 2  # bottom
    body_c = z0 + body_h / 2
    cap_h = total_h - body_h
    shoulder = 0.022
    parts = [
        Part(_BOX, (hx, hy, body_h / 2 - shoulder / 2), (0, 0, body_c - shoulder / 2), rgba=YELLOW_MUSTARD),
        # rounded shoulder up to the cap
        Part(_ELLIPSOID, (hx, hy, shoulder), (0, 0, z0 + body_h - shoulder), rgba=YELLOW_MUSTARD),
        Part(_CYLINDER, (0.016, cap_h * 0.35), (0, 0.008, z0 + body_h + cap_h * 0.35), rgba=YELLOW_MUSTARD),
        Part(_CYLINDER, (0.006, cap_h * 0.15), (0, 0.012, z0 + body_h + cap_h * 0.85), rgba=RED_LABEL),
    ]
    for sign in (1.0, -1.0):  # French's red banner on both large faces
        parts.append(Part(_BOX, (_THIN, hy * 0.62, 0.018), (sign * (hx + _THIN), 0, body_c - 0.005), rgba=RED_LABEL,
                          collide=False))
    return parts


MUG_RADIUS = 0.093 / 2  # YCB 025_mug: 93 mm across the body (see YCB_SIZES)
MUG_HEIGHT = 0.081
MUG_WALL = 0.005
MUG_BOTTOM = 0.007
MUG_HANDLE_REACH = 0.024  # the handle sticks out this far beyond the wall: 117 mm overall
_MUG_SEGMENTS = 16


def _mug() -> list[Part]:
    """Hollow mug: a bottom disk, 16 wall slabs around a circle, a D-shaped handle along +x."""
    r, h = MUG_RADIUS, MUG_HEIGHT
    parts = [Part(_CYLINDER, (r, MUG_BOTTOM / 2), (0, 0, MUG_BOTTOM / 2), rgba=MUG_RED)]
    wall_h = h - MUG_BOTTOM
    chord = 2.0 * r * math.tan(math.pi / _MUG_SEGMENTS)
    for k in range(_MUG_SEGMENTS):
        a = 2.0 * math.pi * k / _MUG_SEGMENTS
        c = r - MUG_WALL / 2
        parts.append(Part(_BOX, (MUG_WALL / 2, chord / 2, wall_h / 2), (c * math.cos(a), c * math.sin(a),
                                                                       MUG_BOTTOM + wall_h / 2),
                          _quat_axis_angle((0, 0, 1), a), rgba=MUG_RED))
    # handle: two stubs out of the wall and an upright grip
    hr = 0.0055
    reach = r + MUG_HANDLE_REACH - hr
    for z in (0.020, 0.064):
        parts.append(Part(_CAPSULE, (hr, (reach - r + 0.002) / 2), ((reach + r - 0.002) / 2, 0, z),
                          _quat_z_to((1, 0, 0)), rgba=MUG_RED))
    parts.append(Part(_CAPSULE, (hr, 0.022), (reach, 0, 0.042), rgba=MUG_RED))
    # white inside so the cavity reads as a cavity from above
    parts.append(Part(_CYLINDER, (r - MUG_WALL - 0.0005, 0.0004), (0, 0, MUG_BOTTOM + 0.0004), rgba=WHITE,
                      collide=False))
    return parts


def _mug_cavity() -> Cavity:
    return Cavity((0.0, 0.0), MUG_RADIUS - MUG_WALL, MUG_BOTTOM, MUG_HEIGHT)


def _large_clamp() -> list[Part]:
    """Spring clamp lying flat: pivot, two jaws towards +y, two handles spreading towards -y.

    The handles spread CLAMP_SPREAD rad each side of -y, which makes the clamp 121 mm across the
    handle ends and 167 mm from jaw tip to handle end (YCB 051_large_clamp, see YCB_SIZES)."""
    hz = 0.032 / 2
    parts = [Part(_CYLINDER, (0.017, hz), (0, 0.012, 0), rgba=CLAMP_DARK)]
    for sign in (1.0, -1.0):
        parts.append(Part(_BOX, (0.007, 0.036, 0.011), (sign * 0.010, 0.048, 0), rgba=CLAMP_DARK))
        parts.append(Part(_BOX, (0.009, 0.006, 0.012), (sign * 0.007, 0.080, 0), rgba=CLAMP_ORANGE))  # pads
        angle = sign * CLAMP_SPREAD
        direction = np.array([math.sin(angle), -math.cos(angle), 0.0])
        centre = np.array([0.0, 0.0, 0.0]) + direction * 0.048 + np.array([0.0, 0.004, 0.0])
        parts.append(Part(_BOX, (0.011, 0.046, 0.010), tuple(centre), _quat_axis_angle((0, 0, 1), angle),
                          rgba=CLAMP_DARK))
        parts.append(Part(_BOX, (0.0115, 0.016, 0.0105), tuple(centre + direction * 0.03),
                          _quat_axis_angle((0, 0, 1), angle), rgba=CLAMP_ORANGE, collide=False))
    return parts


def _banana() -> list[Part]:
    """Banana lying on its side: five capsules along an arc in the xy plane, thinner towards the ends."""
    arc_r, span = 0.15, 1.10
    radii = (0.0125, 0.0165, 0.018, 0.0165, 0.0125)
    top = max(radii)
    n = len(radii)
    angles = np.linspace(-span / 2, span / 2, n + 1)
    pts = np.stack([arc_r * np.sin(angles), arc_r * (np.cos(angles) - 1.0), np.zeros_like(angles)], axis=1)
    parts = []
    for k in range(n):
        # every segment's underside touches the same plane, so the banana lies still on its side
        lift = np.array([0.0, 0.0, radii[k] - top])
        a, b = pts[k] + lift, pts[k + 1] + lift
        d = b - a
        parts.append(Part(_CAPSULE, (radii[k], float(np.linalg.norm(d)) / 2), tuple((a + b) / 2), _quat_z_to(d),
                          rgba=BANANA_YELLOW))
    pts = pts + np.array([0.0, 0.0, radii[0] - top])
    stem_dir = pts[-1] - pts[-2]
    parts.append(Part(_CAPSULE, (0.005, 0.008), tuple(pts[-1] + stem_dir / np.linalg.norm(stem_dir) * 0.012),
                      _quat_z_to(stem_dir), rgba=BANANA_BROWN, collide=False))
    parts.append(Part(_SPHERE, (0.0065,), tuple(pts[0] - (pts[1] - pts[0]) / np.linalg.norm(pts[1] - pts[0]) * 0.009),
                      rgba=BANANA_BROWN, collide=False))
    return parts


# mass (kg) from the YCB object set's published masses (Calli et al. 2015, Table 1)
_BUILDERS = {
    "004_sugar_box": (0.514, _sugar_box, None, "Domino sugar box, 38 x 89 x 175 mm, stands on its small face"),
    "005_tomato_soup_can": (0.349, _tomato_soup_can, None, "Campbell's tomato soup can, d 66 x 101 mm"),
    "006_mustard_bottle": (0.603, _mustard_bottle, None, "French's mustard bottle, body 58 x 95 x 158 mm + cap"),
    "025_mug": (0.118, _mug, _mug_cavity, "mug, d 93 x 81 mm (117 mm with the handle), hollow, handle along +x"),
    "051_large_clamp": (0.125, _large_clamp, None, "spring clamp, 121 x 167 x 32 mm, lying flat, jaws along +y"),
    "011_banana": (0.066, _banana, None, "banana, ~190 mm long, lying on its side, curved in the xy plane"),
}


def _check_id(object_id: str) -> None:
    if object_id not in _BUILDERS:
        raise ObjectError(f"unknown object '{object_id}': choose one of {', '.join(OBJECT_IDS)}")


def _parts_bounds(parts: Sequence[Part]) -> tuple[np.ndarray, np.ndarray]:
    lo = np.full(3, np.inf)
    hi = np.full(3, -np.inf)
    for part in parts:
        half = part.aabb_half()
        lo = np.minimum(lo, np.asarray(part.pos) - half)
        hi = np.maximum(hi, np.asarray(part.pos) + half)
    return lo, hi


def object_model(object_id: str, scale: float = 1.0) -> ObjectModel:
    """The primitive model of `object_id`, recentred so its bounding box is centred on the origin."""
    _check_id(object_id)
    mass, builder, cavity_fn, description = _BUILDERS[object_id]
    parts = builder()
    lo, hi = _parts_bounds([p for p in parts if p.collide])
    offset = -(lo + hi) / 2.0
    parts = [p.moved(offset, scale) for p in parts]
    cavity = None
    if cavity_fn is not None:
        c = cavity_fn()
        cavity = Cavity((c.center_xy[0] + offset[0], c.center_xy[1] + offset[1]), c.radius,
                        c.z_bottom + offset[2], c.z_top + offset[2]).scaled(scale)
    half = (hi - lo) / 2.0 * scale
    return ObjectModel(object_id, mass * scale**3, tuple(parts), cavity, description, (-half, half))


def object_bounds(object_id: str, *, mesh_dir: str | Path | None = None,
                  scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) corners of the object's axis-aligned bounding box in its model frame (m)."""
    if mesh_dir is not None:
        lo, hi = _mesh_bounds(find_ycb_mesh(mesh_dir, object_id).visual)
        return lo * scale, hi * scale
    lo, hi = object_model(object_id, scale).bounds
    return lo.copy(), hi.copy()


def object_extent(object_id: str, *, mesh_dir: str | Path | None = None, scale: float = 1.0) -> np.ndarray:
    """Axis-aligned half sizes (x, y, z) of the object in its model frame, metres."""
    lo, hi = object_bounds(object_id, mesh_dir=mesh_dir, scale=scale)
    return (hi - lo) / 2.0


def resting_height(object_id: str, *, mesh_dir: str | Path | None = None, scale: float = 1.0) -> float:
    """Height of the model frame above the table top when the object rests in its natural pose."""
    lo, _ = object_bounds(object_id, mesh_dir=mesh_dir, scale=scale)
    return float(-lo[2])


def resting_pose(object_id: str, xy: Sequence[float] = (0.0, 0.0), yaw: float = 0.0, *,
                 mesh_dir: str | Path | None = None, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(position, quaternion wxyz) of the object resting on a table whose top is at z = 0."""
    pos = np.array([xy[0], xy[1], resting_height(object_id, mesh_dir=mesh_dir, scale=scale)])
    return pos, np.asarray(_quat_axis_angle((0, 0, 1), yaw))


def object_cavity(object_id: str, scale: float = 1.0) -> Cavity | None:
    """The container volume of hollow objects (the mug) in the model frame, else None."""
    return object_model(object_id, scale).cavity


# --------------------------------------------------------------------------------- real meshes
@dataclass(frozen=True)
class YcbMeshFiles:
    visual: Path
    texture: Path | None
    collision: tuple[Path, ...]


_MESH_SUFFIXES = (".obj", ".stl", ".msh")


def find_ycb_mesh(mesh_dir: str | Path, object_id: str) -> YcbMeshFiles:
    """Locate an object's meshes under `mesh_dir`.

    Accepted layouts (the first that exists wins): the YCB download
    `<dir>/<id>/google_16k/textured.obj` (+ `texture_map.png`), `<dir>/<id>/textured.obj`,
    `<dir>/<id>/<id>.obj|.stl`, `<dir>/<id>.obj|.stl`. Convex collision pieces (e.g. from CoACD or
    V-HACD) are read from `<dir>/<id>/collision/*.obj|*.stl` when that folder exists.
    """
    _check_id(object_id)
    root = Path(mesh_dir).expanduser()
    if not root.is_dir():
        raise ObjectError(f"mesh directory {root} does not exist")
    folder = root / object_id
    candidates = [folder / "google_16k" / "textured.obj", folder / "textured.obj"]
    candidates += [folder / f"{object_id}{s}" for s in _MESH_SUFFIXES]
    candidates += [root / f"{object_id}{s}" for s in _MESH_SUFFIXES]
    visual = next((c for c in candidates if c.is_file()), None)
    if visual is None:
        raise ObjectError(f"no mesh for {object_id} in {root}: looked for " + ", ".join(str(c) for c in candidates))
    texture = visual.parent / "texture_map.png"
    pieces: tuple[Path, ...] = ()
    if (folder / "collision").is_dir():
        pieces = tuple(sorted(p for p in (folder / "collision").iterdir() if p.suffix.lower() in (".obj", ".stl")))
    return YcbMeshFiles(visual, texture if texture.is_file() else None, pieces)


def _mesh_bounds(path: Path) -> tuple[np.ndarray, np.ndarray]:
    spec = mujoco.MjSpec()
    spec.add_mesh(name="m", file=str(path))
    body = spec.worldbody.add_body(name="b")
    body.add_geom(type=mujoco.mjtGeom.mjGEOM_MESH, meshname="m", contype=0, conaffinity=0)
    try:
        model = spec.compile()
    except ValueError as err:
        raise ObjectError(f"MuJoCo cannot load mesh {path}: {err}") from err
    # the compiled mesh is re-centred on its centre of mass; undo that to get file coordinates
    adr, n = model.mesh_vertadr[0], model.mesh_vertnum[0]
    verts = model.mesh_vert[adr:adr + n]
    rot = np.zeros(9)
    mujoco.mju_quat2Mat(rot, model.geom_quat[0])
    world = verts @ rot.reshape(3, 3).T + model.geom_pos[0]
    return world.min(axis=0), world.max(axis=0)


# ----------------------------------------------------------------------------------- building
def _set_contact(geom: mujoco.MjsGeom) -> None:
    geom.contype = 1
    geom.conaffinity = 1
    geom.condim = CONDIM
    geom.friction = list(FRICTION)
    geom.solref = list(SOLREF)
    geom.margin = 0.0
    geom.gap = 0.0


def _set_visual_only(geom: mujoco.MjsGeom) -> None:
    geom.contype = 0
    geom.conaffinity = 0
    geom.group = GROUP_VISUAL
    geom.mass = 0.0
    geom.density = 0.0


def _add_part(body: mujoco.MjsBody, part: Part, name: str, mass: float) -> mujoco.MjsGeom:
    geom = body.add_geom(name=name, type=part.type, size=list(part.size) + [0.0] * (3 - len(part.size)),
                         pos=list(part.pos), quat=list(part.quat), rgba=list(part.rgba))
    if part.collide:
        _set_contact(geom)
        geom.mass = mass
        geom.group = GROUP_VISUAL if part.visible else GROUP_COLLISION
        if not part.visible:
            geom.rgba = list(HIDDEN)
    else:
        _set_visual_only(geom)
    return geom


def _free_joint(body: mujoco.MjsBody, name: str) -> None:
    """An undamped, frictionless free joint whatever the scene's default joint class says (the Adroit
    model's default adds damping, armature and friction loss meant for the hand's joints)."""
    joint = body.add_freejoint(name=name)
    joint.damping = [0.0, 0.0, 0.0]
    joint.armature = 0.0
    joint.frictionloss = 0.0


def add_object(parent: mujoco.MjsBody, object_id: str, *, name: str | None = None,
               pos: Sequence[float] = (0.0, 0.0, 0.0), quat: Sequence[float] = (1.0, 0.0, 0.0, 0.0),
               free: bool = True, mesh_dir: str | Path | None = None, scale: float = 1.0) -> mujoco.MjsBody:
    """Add `object_id` under `parent` as a body whose frame is the object's model frame.

    `name` (default: the object id) names the body; its geoms are `<name>/...` and its free joint
    (when `free`) `<name>/joint`. `pos`/`quat` (wxyz) place the model frame in `parent`'s frame;
    use `resting_pose` to stand it on a table. `scale` enlarges the object uniformly (mass with
    the cube of it); place_inside uses the mug at twice its size, as DexMV does.
    """
    _check_id(object_id)
    name = name or object_id
    if mesh_dir is not None:
        return _add_mesh_object(parent, object_id, name, pos, quat, free, Path(mesh_dir), scale)
    body = parent.add_body(name=name, pos=list(pos), quat=list(quat))
    if free:
        _free_joint(body, f"{name}/joint")
    model = object_model(object_id, scale)
    colliders = model.collision_parts()
    total = sum(p.volume() for p in colliders)
    for k, part in enumerate(model.parts):
        mass = model.mass * part.volume() / total if part.collide else 0.0
        _add_part(body, part, f"{name}/{'collision' if part.collide else 'visual'}_{k}", mass)
    return body


def _mesh_volumes(paths: Sequence[Path], scale: float) -> np.ndarray:
    """Volumes (m^3) of the convex hulls MuJoCo collides with, to split the mass over pieces."""
    spec = mujoco.MjSpec()
    for k, path in enumerate(paths):
        spec.add_mesh(name=f"m{k}", file=str(path), scale=[scale] * 3)
        spec.worldbody.add_body(name=f"b{k}").add_geom(type=mujoco.mjtGeom.mjGEOM_MESH, meshname=f"m{k}", density=1.0)
    try:
        model = spec.compile()
    except ValueError as err:
        raise ObjectError(f"MuJoCo cannot load the meshes {[str(p) for p in paths]}: {err}") from err
    return np.array([model.body(f"b{k}").mass[0] for k in range(len(paths))])


def _add_mesh_object(parent: mujoco.MjsBody, object_id: str, name: str, pos: Sequence[float],
                     quat: Sequence[float], free: bool, mesh_dir: Path, scale: float) -> mujoco.MjsBody:
    """Build the object from real meshes in a spec of its own (meshes are assets), then attach it."""
    files = find_ycb_mesh(mesh_dir, object_id)
    child = mujoco.MjSpec()
    body = child.worldbody.add_body(name="object")
    if free:
        _free_joint(body, "joint")
    child.add_mesh(name="visual_mesh", file=str(files.visual.resolve()), scale=[scale] * 3)
    geom = body.add_geom(name="visual", type=mujoco.mjtGeom.mjGEOM_MESH, meshname="visual_mesh",
                         rgba=list(_default_colour(object_id)))
    if files.texture is not None:
        child.add_texture(name="texture", file=str(files.texture.resolve()), type=mujoco.mjtTexture.mjTEXTURE_2D)
        material = child.add_material(name="material")
        material.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = "texture"
        geom.material = "material"
        geom.rgba = [1.0, 1.0, 1.0, 1.0]
    _set_visual_only(geom)
    pieces = files.collision or (files.visual,)
    volumes = _mesh_volumes([p.resolve() for p in pieces], scale)
    mass = _BUILDERS[object_id][0] * scale**3
    for k, path in enumerate(pieces):
        child.add_mesh(name=f"collision_mesh_{k}", file=str(path.resolve()), scale=[scale] * 3)
        geom = body.add_geom(name=f"collision_{k}", type=mujoco.mjtGeom.mjGEOM_MESH, meshname=f"collision_mesh_{k}",
                             rgba=list(HIDDEN), group=GROUP_COLLISION)
        _set_contact(geom)
        geom.mass = float(mass * volumes[k] / volumes.sum())
    frame = parent.add_frame(pos=list(pos), quat=list(quat))
    attached = frame.attach_body(body, f"{name}/", "")
    attached.name = name
    return attached


def _default_colour(object_id: str) -> tuple[float, float, float, float]:
    return next(p.rgba for p in object_model(object_id).parts)


from dexmv_sim.table import add_table  # noqa: E402,F401 - the table objects stand on, re-exported for users
