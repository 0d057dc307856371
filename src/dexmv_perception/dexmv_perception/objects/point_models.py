"""Points on an object's visible surface, sampled from the simulation's own object definition.

The model is built at run time from `dexmv_sim.objects.add_object` compiled by MuJoCo (primitives
or, with `mesh_dir`, the real YCB meshes), so registration, the simulation and the synthetic
recordings agree on every dimension and on the model frame; nothing is copied here. Only geoms a
camera sees are sampled (rendered groups 0-2: hidden collision shapes are skipped), and points that
lie inside another primitive of the same object (a mug's handle stubs inside its wall) are dropped,
and so are faces where two primitives touch, which leaves the outer surface that a depth camera
measures.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SAMPLE_SPACING_M = 0.0025  # surface sampling before the voxel grid
# A point inside another primitive *or on its surface* (within this distance) is dropped: faces where two
# primitives touch (a can's rim on its body, a label on a box) are inside the object, and keeping them
# gives ICP a second, hidden copy of a visible face to slide onto.
CONTACT_TOLERANCE_M = 0.0003
RENDERED_GROUPS = (0, 1, 2)


@dataclass(frozen=True)
class ObjectPointModel:
    """points/normals (N, 3) in the object's model frame; radius: farthest point from the origin (m)."""

    object_id: str
    scale: float
    points: np.ndarray
    normals: np.ndarray
    radius: float
    half_extent: np.ndarray  # half sizes of the points' axis-aligned box, m

    @property
    def diameter(self) -> float:
        return float(2.0 * np.linalg.norm(self.half_extent))


def _frame(pos: np.ndarray, quat: np.ndarray) -> np.ndarray:
    import mujoco

    rot = np.zeros(9)
    mujoco.mju_quat2Mat(rot, np.asarray(quat, dtype=float))
    t = np.eye(4)
    t[:3, :3] = rot.reshape(3, 3)
    t[:3, 3] = pos
    return t


def _sample_primitive(kind: str, size: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Points and outward normals on a primitive's surface in its own frame, about one per spacing^2."""
    density = 1.0 / SAMPLE_SPACING_M**2
    if kind == "box":
        pts, nrm = [], []
        for axis in range(3):
            others = [a for a in range(3) if a != axis]
            area = 4.0 * size[others[0]] * size[others[1]]
            for sign in (1.0, -1.0):
                n = max(4, int(area * density))
                p = np.zeros((n, 3))
                p[:, others[0]] = rng.uniform(-size[others[0]], size[others[0]], n)
                p[:, others[1]] = rng.uniform(-size[others[1]], size[others[1]], n)
                p[:, axis] = sign * size[axis]
                q = np.zeros((n, 3))
                q[:, axis] = sign
                pts.append(p)
                nrm.append(q)
        return np.concatenate(pts), np.concatenate(nrm)
    if kind in ("cylinder", "capsule"):
        r, h = size[0], size[1]
        n_side = max(8, int(2 * np.pi * r * 2 * h * density))
        a = rng.uniform(0, 2 * np.pi, n_side)
        side = np.stack([r * np.cos(a), r * np.sin(a), rng.uniform(-h, h, n_side)], 1)
        side_n = np.stack([np.cos(a), np.sin(a), np.zeros(n_side)], 1)
        pts, nrm = [side], [side_n]
        if kind == "cylinder":
            for sign in (1.0, -1.0):
                n = max(4, int(np.pi * r * r * density))
                rr = r * np.sqrt(rng.uniform(0, 1, n))
                b = rng.uniform(0, 2 * np.pi, n)
                pts.append(np.stack([rr * np.cos(b), rr * np.sin(b), np.full(n, sign * h)], 1))
                nrm.append(np.tile([0.0, 0.0, sign], (n, 1)))
        else:
            for sign in (1.0, -1.0):
                n = max(4, int(2 * np.pi * r * r * density))
                d = rng.normal(size=(n, 3))
                d /= np.linalg.norm(d, axis=1, keepdims=True)
                d[:, 2] = sign * np.abs(d[:, 2])
                pts.append(d * r + [0.0, 0.0, sign * h])
                nrm.append(d)
        return np.concatenate(pts), np.concatenate(nrm)
    if kind in ("sphere", "ellipsoid"):
        s = np.full(3, size[0]) if kind == "sphere" else np.asarray(size[:3])
        area = 4 * np.pi * (np.prod(s) ** (2 / 3))
        n = max(8, int(area * density))
        d = rng.normal(size=(n, 3))
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        p = d * s
        normal = p / s**2
        return p, normal / np.linalg.norm(normal, axis=1, keepdims=True)
    raise ValueError(f"cannot sample a {kind}")


def _inside(kind: str, size: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Points (in the primitive's frame) inside it or on its surface, within CONTACT_TOLERANCE_M."""
    e = -CONTACT_TOLERANCE_M
    if kind == "box":
        return np.all(np.abs(p) < np.asarray(size[:3]) - e, axis=1)
    if kind == "cylinder":
        return (p[:, 0] ** 2 + p[:, 1] ** 2 < (size[0] - e) ** 2) & (np.abs(p[:, 2]) < size[1] - e)
    if kind == "capsule":
        z = np.clip(p[:, 2], -size[1], size[1])
        return np.linalg.norm(p - np.stack([0 * z, 0 * z, z], 1), axis=1) < size[0] - e
    if kind == "sphere":
        return np.linalg.norm(p, axis=1) < size[0] - e
    if kind == "ellipsoid":
        s = np.asarray(size[:3])
        return np.sum((p / s) ** 2, axis=1) < (1.0 - e / s.min()) ** 2
    return np.zeros(len(p), dtype=bool)


def _sample_mesh(model, geom: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    mesh = model.geom_dataid[geom]
    v0, nv = model.mesh_vertadr[mesh], model.mesh_vertnum[mesh]
    f0, nf = model.mesh_faceadr[mesh], model.mesh_facenum[mesh]
    verts = model.mesh_vert[v0:v0 + nv].astype(float)
    faces = model.mesh_face[f0:f0 + nf]
    tri = verts[faces]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    area = 0.5 * np.linalg.norm(cross, axis=1)
    n = max(16, int(area.sum() / SAMPLE_SPACING_M**2))
    pick = rng.choice(len(faces), n, p=area / area.sum())
    u, v = rng.uniform(size=(2, n))
    flip = u + v > 1
    u[flip], v[flip] = 1 - u[flip], 1 - v[flip]
    t = tri[pick]
    p = t[:, 0] + u[:, None] * (t[:, 1] - t[:, 0]) + v[:, None] * (t[:, 2] - t[:, 0])
    normal = cross[pick] / np.maximum(np.linalg.norm(cross[pick], axis=1, keepdims=True), 1e-12)
    return p, normal


def _voxel_thin(points: np.ndarray, normals: np.ndarray, voxel: float) -> tuple[np.ndarray, np.ndarray]:
    """One point per voxel (the first one), which evens out the sampling density."""
    keys = np.floor(points / voxel).astype(np.int64)
    _, first = np.unique(keys, axis=0, return_index=True)
    first.sort()
    return points[first], normals[first]


@functools.lru_cache(maxsize=32)
def object_point_model(object_id: str, scale: float = 1.0, mesh_dir: str | None = None,
                       voxel_m: float = 0.003) -> ObjectPointModel:
    """The visible surface of `object_id` (dexmv_sim's geometry) as points every ~voxel_m, model frame.

    Deterministic (a fixed sampling seed); cached per arguments.
    """
    import mujoco

    from dexmv_sim.objects import add_object

    spec = mujoco.MjSpec()
    add_object(spec.worldbody, object_id, name="object", free=False,
               mesh_dir=None if mesh_dir is None else Path(mesh_dir), scale=scale)
    model = spec.compile()
    body = model.body("object").id
    rng = np.random.default_rng(12345)
    kinds = {int(mujoco.mjtGeom.mjGEOM_BOX): "box", int(mujoco.mjtGeom.mjGEOM_CYLINDER): "cylinder",
             int(mujoco.mjtGeom.mjGEOM_CAPSULE): "capsule", int(mujoco.mjtGeom.mjGEOM_SPHERE): "sphere",
             int(mujoco.mjtGeom.mjGEOM_ELLIPSOID): "ellipsoid", int(mujoco.mjtGeom.mjGEOM_MESH): "mesh"}
    geoms = [g for g in range(model.ngeom) if model.geom_bodyid[g] == body
             and model.geom_group[g] in RENDERED_GROUPS and model.geom_rgba[g, 3] > 0
             and int(model.geom_type[g]) in kinds]
    if not geoms:
        raise ValueError(f"{object_id}: no visible geometry to build a point model from")
    frames = {g: _frame(model.geom_pos[g], model.geom_quat[g]) for g in geoms}
    all_p, all_n = [], []
    for g in geoms:
        kind = kinds[int(model.geom_type[g])]
        if kind == "mesh":
            p, n = _sample_mesh(model, g, rng)
        else:
            p, n = _sample_primitive(kind, model.geom_size[g], rng)
        keep = np.ones(len(p), dtype=bool)
        for other in geoms:
            okind = kinds[int(model.geom_type[other])]
            if other == g or okind == "mesh":
                continue
            rel = np.linalg.inv(frames[other]) @ frames[g]
            q = p @ rel[:3, :3].T + rel[:3, 3]
            keep &= ~_inside(okind, model.geom_size[other], q)
        t = frames[g]
        all_p.append(p[keep] @ t[:3, :3].T + t[:3, 3])
        all_n.append(n[keep] @ t[:3, :3].T)
    points, normals = _voxel_thin(np.concatenate(all_p), np.concatenate(all_n), voxel_m)
    lo, hi = points.min(axis=0), points.max(axis=0)
    return ObjectPointModel(object_id, float(scale), points, normals, float(np.linalg.norm(points, axis=1).max()),
                            (hi - lo) / 2.0)
