"""What a viewer needs to draw a scene without MuJoCo: each visible geom as a primitive or a mesh
file, posed in its body's frame. The sim node turns this into an RViz MarkerArray (frame-locked to
the `sim/<body>` TF frames), the URDF export uses the mesh poses.

Mesh geoms: MuJoCo recentres a mesh on its centre of mass and principal axes when compiling;
`mesh_file_pose` undoes that, giving the pose of the mesh *file's* coordinates in the body frame,
which is what a viewer loading the STL needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np

from dexmv_sim.adroit import adroit_asset_dir

VISIBLE_GROUPS = (0, 1, 2)  # hand visuals, objects, table (3 and up: collision shapes, touch sites)


@dataclass(frozen=True)
class VisualGeom:
    body: str
    name: str
    kind: str  # "box", "sphere", "cylinder", "capsule", "ellipsoid", "plane" or "mesh"
    size: tuple[float, ...]  # MuJoCo sizes: half extents, radii, half lengths
    pos: np.ndarray  # in the body frame
    quat: np.ndarray  # wxyz, in the body frame
    rgba: tuple[float, float, float, float]
    mesh_file: Path | None = None
    mesh_scale: tuple[float, float, float] = (1.0, 1.0, 1.0)


_KINDS = {mujoco.mjtGeom.mjGEOM_BOX: "box", mujoco.mjtGeom.mjGEOM_SPHERE: "sphere",
          mujoco.mjtGeom.mjGEOM_CYLINDER: "cylinder", mujoco.mjtGeom.mjGEOM_CAPSULE: "capsule",
          mujoco.mjtGeom.mjGEOM_ELLIPSOID: "ellipsoid", mujoco.mjtGeom.mjGEOM_PLANE: "plane",
          mujoco.mjtGeom.mjGEOM_MESH: "mesh"}


def quat_to_mat(quat: np.ndarray) -> np.ndarray:
    mat = np.zeros(9)
    mujoco.mju_quat2Mat(mat, np.asarray(quat, dtype=float))
    return mat.reshape(3, 3)


def mat_to_quat(mat: np.ndarray) -> np.ndarray:
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, np.asarray(mat, dtype=float).ravel())
    return quat


def mesh_file(model: mujoco.MjModel, mesh_id: int) -> Path:
    """The mesh's source file (paths relative to the Adroit assets' mesh folder are resolved)."""
    start = model.mesh_pathadr[mesh_id]
    end = model.paths.index(b"\0", start)
    name = Path(model.paths[start:end].decode())
    return name if name.is_absolute() else adroit_asset_dir() / "resources" / "meshes" / name


def mesh_file_pose(model: mujoco.MjModel, geom: int) -> tuple[np.ndarray, np.ndarray]:
    """(position, rotation matrix) of a mesh geom's file coordinates (scaled) in its body frame."""
    mesh = model.geom_dataid[geom]
    rot = quat_to_mat(model.geom_quat[geom]) @ quat_to_mat(model.mesh_quat[mesh]).T
    return model.geom_pos[geom] - rot @ model.mesh_pos[mesh], rot


def visual_geometry(model: mujoco.MjModel, *, skip_bodies: tuple[str, ...] = ()) -> list[VisualGeom]:
    """Every visible geom (groups 0-2, not fully transparent) of the model, bodies in `skip_bodies`
    (or under a name prefix ending in '/') left out."""
    out = []
    for g in range(model.ngeom):
        if model.geom_group[g] not in VISIBLE_GROUPS or model.geom_rgba[g, 3] == 0.0:
            continue
        body = model.body(model.geom_bodyid[g]).name
        if any(body == s or (s.endswith("/") and body.startswith(s)) for s in skip_bodies):
            continue
        kind = _KINDS.get(int(model.geom_type[g]))
        if kind is None:
            continue
        rgba = tuple(float(c) for c in model.geom_rgba[g])
        if model.geom_matid[g] >= 0 and rgba == (0.5, 0.5, 0.5, 1.0):  # colour comes from the material
            rgba = tuple(float(c) for c in model.mat_rgba[model.geom_matid[g]])
        if kind == "mesh":
            pos, rot = mesh_file_pose(model, g)
            mesh = model.geom_dataid[g]
            out.append(VisualGeom(body, model.geom(g).name, kind, (), pos, mat_to_quat(rot), rgba,
                                  mesh_file(model, mesh), tuple(float(s) for s in model.mesh_scale[mesh])))
        else:
            out.append(VisualGeom(body, model.geom(g).name, kind, tuple(float(s) for s in model.geom_size[g]),
                                  model.geom_pos[g].copy(), model.geom_quat[g].copy(), rgba))
    return out
