"""Kinematic URDF of the Adroit hand on its arm, for RViz's RobotModel with robot_state_publisher.

Links are named like the sim node's TF frames (`sim/<body>`), the root is `world`, so
robot_state_publisher fed with /adroit/joint_states draws the hand where the simulation has it
(run the sim node with publish_hand_tf:=false then, so the two do not both publish the hand's
frames). The six arm joints sit on one MuJoCo body (forearm); URDF allows one joint per link, so
they become a chain of massless links `sim/arm_<joint>` with identity origins, which is exactly
how MuJoCo composes several joints of one body. Visual meshes are the installed gymnasium-robotics
STL files (referenced as file:// URIs, or copied next to the URDF with copy_meshes), with MuJoCo's
mesh recentring undone so the file's coordinates are used. No inertias or collisions: RobotModel
only draws; simulate with MuJoCo.
"""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import mujoco
import numpy as np

from dexmv_sim.adroit import ARM_JOINTS, FOREARM_BODY, adroit_hand_spec
from dexmv_sim.scene_geometry import mesh_file, mesh_file_pose, quat_to_mat

FRAME_PREFIX = "sim/"
ROOT_LINK = "world"


def _fmt(values) -> str:
    return " ".join(f"{float(v):.9g}" for v in values)


def _rpy(rot: np.ndarray) -> np.ndarray:
    """URDF roll-pitch-yaw (fixed axes x, y, z) of a rotation matrix."""
    from scipy.spatial.transform import Rotation

    return Rotation.from_matrix(rot).as_euler("xyz")


def _origin(parent: ET.Element, pos: np.ndarray, rot: np.ndarray) -> None:
    ET.SubElement(parent, "origin", xyz=_fmt(pos), rpy=_fmt(_rpy(rot)))


def hand_urdf(out: str | Path | None = None, *, copy_meshes: bool = False) -> str:
    """URDF text of the hand; written to `out` (with meshes/ beside it when copy_meshes) if given."""
    model = adroit_hand_spec().compile()
    robot = ET.Element("robot", name="dexmv_adroit")
    ET.SubElement(robot, "link", name=ROOT_LINK)
    mesh_dir = None
    if out is not None and copy_meshes:
        mesh_dir = Path(out).resolve().parent / "meshes"
        mesh_dir.mkdir(parents=True, exist_ok=True)
    for body in range(1, model.nbody):
        name = FRAME_PREFIX + model.body(body).name
        parent = model.body_parentid[body]
        parent_link = ROOT_LINK if parent == 0 else FRAME_PREFIX + model.body(parent).name
        joints = list(range(model.body_jntadr[body], model.body_jntadr[body] + model.body_jntnum[body]))
        pos, rot = model.body_pos[body], quat_to_mat(model.body_quat[body])
        if model.body(body).name == FOREARM_BODY:  # six joints on one body: a chain of massless links
            chain_parent = parent_link
            for k, j in enumerate(joints):
                child = name if k == len(joints) - 1 else f"{FRAME_PREFIX}arm_{ARM_JOINTS[k]}"
                if child != name:
                    ET.SubElement(robot, "link", name=child)
                _joint(robot, model, j, chain_parent, child, pos if k == 0 else np.zeros(3),
                       rot if k == 0 else np.eye(3))
                chain_parent = child
        elif len(joints) == 1:
            _joint(robot, model, joints[0], parent_link, name, pos, rot)
        elif not joints:
            joint = ET.SubElement(robot, "joint", name=f"{name}_fixed", type="fixed")
            ET.SubElement(joint, "parent", link=parent_link)
            ET.SubElement(joint, "child", link=name)
            _origin(joint, pos, rot)
        else:
            raise RuntimeError(f"body {name} has {len(joints)} joints; only the forearm may have several")
        robot.append(_link(model, body, name, mesh_dir))
    ET.indent(robot)
    text = '<?xml version="1.0"?>\n' + ET.tostring(robot, encoding="unicode") + "\n"
    if out is not None:
        Path(out).write_text(text)
    return text


def _joint(robot: ET.Element, model: mujoco.MjModel, j: int, parent: str, child: str, pos: np.ndarray,
           rot: np.ndarray) -> None:
    kind = "prismatic" if model.jnt_type[j] == mujoco.mjtJoint.mjJNT_SLIDE else "revolute"
    joint = ET.SubElement(robot, "joint", name=model.joint(j).name, type=kind)
    ET.SubElement(joint, "parent", link=parent)
    ET.SubElement(joint, "child", link=child)
    _origin(joint, pos, rot)
    ET.SubElement(joint, "axis", xyz=_fmt(model.jnt_axis[j]))
    low, high = model.jnt_range[j]
    actuator = next((a for a in range(model.nu) if model.actuator_trnid[a, 0] == j), None)
    effort = 100.0
    if actuator is not None:  # the servo's largest force: gain times the widest control span
        effort = float(model.actuator_gainprm[actuator, 0] * np.ptp(model.actuator_ctrlrange[actuator]))
    ET.SubElement(joint, "limit", lower=f"{low:.6g}", upper=f"{high:.6g}", effort=f"{effort:.6g}", velocity="10")


def _link(model: mujoco.MjModel, body: int, name: str, mesh_dir: Path | None) -> ET.Element:
    link = ET.Element("link", name=name)
    for g in range(model.ngeom):
        if model.geom_bodyid[g] != body or model.geom_type[g] != mujoco.mjtGeom.mjGEOM_MESH:
            continue
        if model.geom_contype[g] or model.geom_conaffinity[g]:
            continue  # collision meshes (the thumb's): the visual mesh of the same part is drawn already
        mesh = model.geom_dataid[g]
        pos, rot = mesh_file_pose(model, g)  # MuJoCo's recentring undone: the file's own coordinates
        source = mesh_file(model, mesh)
        if mesh_dir is not None:
            shutil.copyfile(source, mesh_dir / source.name)
            source = mesh_dir / source.name
        visual = ET.SubElement(link, "visual", name=model.geom(g).name)
        _origin(visual, pos, rot)
        geometry = ET.SubElement(visual, "geometry")
        ET.SubElement(geometry, "mesh", filename=source.resolve().as_uri(), scale=_fmt(model.mesh_scale[mesh]))
        material = ET.SubElement(visual, "material", name="adroit_skin")
        rgba = model.geom_rgba[g]
        if model.geom_matid[g] >= 0:  # the Adroit visuals take their skin colour from a material
            rgba = model.mat_rgba[model.geom_matid[g]]
        ET.SubElement(material, "color", rgba=_fmt(rgba))
    return link
