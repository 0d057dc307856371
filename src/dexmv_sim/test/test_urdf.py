"""The exported URDF reproduces MuJoCo's kinematics and places the visual meshes where MuJoCo draws them.

RViz and robot_state_publisher are not available here; this checks the file against the model
they would read it for: forward kinematics of the URDF (origins, axes, joint types, implemented
below from the URDF text alone) against MuJoCo's body poses at random joint positions, and the
STL vertices placed by the URDF visuals against MuJoCo's compiled mesh vertices.
"""

import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlparse

import mujoco
import numpy as np
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

from dexmv_sim.adroit import ADROIT_JOINTS, adroit_hand_model
from dexmv_sim.urdf import FRAME_PREFIX, hand_urdf


def _xyz_rpy(element) -> np.ndarray:
    origin = element.find("origin")
    xyz = np.array([float(v) for v in origin.get("xyz").split()])
    rpy = np.array([float(v) for v in origin.get("rpy").split()])
    pose = np.eye(4)
    pose[:3, :3] = Rotation.from_euler("xyz", rpy).as_matrix()
    pose[:3, 3] = xyz
    return pose


def _urdf_fk(root: ET.Element, q: dict[str, float]) -> dict[str, np.ndarray]:
    joints = {j.find("child").get("link"): j for j in root.findall("joint")}
    poses = {"world": np.eye(4)}

    def pose(link: str) -> np.ndarray:
        if link not in poses:
            joint = joints[link]
            motion = np.eye(4)
            if joint.get("type") != "fixed":
                axis = np.array([float(v) for v in joint.find("axis").get("xyz").split()])
                value = q[joint.get("name")]
                if joint.get("type") == "prismatic":
                    motion[:3, 3] = axis * value
                else:
                    motion[:3, :3] = Rotation.from_rotvec(axis * value).as_matrix()
            poses[link] = pose(joint.find("parent").get("link")) @ _xyz_rpy(joint) @ motion
        return poses[link]

    for link in joints:
        pose(link)
    return poses


def test_urdf_kinematics_match_mujoco(tmp_path):
    text = hand_urdf(tmp_path / "adroit.urdf")
    root = ET.fromstring(text)
    movable = [j for j in root.findall("joint") if j.get("type") != "fixed"]
    assert [j.get("name") for j in movable] == list(ADROIT_JOINTS)
    model = adroit_hand_model()
    data = mujoco.MjData(model)
    for j in movable:  # limits as in the model
        limit = j.find("limit")
        np.testing.assert_allclose([float(limit.get("lower")), float(limit.get("upper"))],
                                   model.jnt_range[ADROIT_JOINTS.index(j.get("name"))], atol=1e-5)
    rng = np.random.default_rng(0)
    for _ in range(5):
        data.qpos[:] = rng.uniform(model.jnt_range[:, 0], model.jnt_range[:, 1])
        mujoco.mj_kinematics(model, data)
        poses = _urdf_fk(root, dict(zip(ADROIT_JOINTS, data.qpos, strict=True)))
        for body in range(1, model.nbody):
            pose = poses[FRAME_PREFIX + model.body(body).name]
            np.testing.assert_allclose(pose[:3, 3], data.xpos[body], atol=1e-6)
            np.testing.assert_allclose(pose[:3, :3], data.xmat[body].reshape(3, 3), atol=1e-6)


def _read_stl(path) -> np.ndarray:
    raw = path.read_bytes()
    count = int(np.frombuffer(raw[80:84], dtype="<u4")[0])
    if len(raw) == 84 + 50 * count:  # binary
        records = np.frombuffer(raw[84:84 + 50 * count], dtype=np.dtype([("n", "<f4", 3), ("v", "<f4", (3, 3)),
                                                                          ("a", "<u2")]))
        return records["v"].reshape(-1, 3).astype(float)
    verts = [line.split()[1:4] for line in raw.decode().splitlines() if line.strip().startswith("vertex")]
    return np.array(verts, dtype=float)


def test_urdf_visual_meshes_sit_where_mujoco_draws_them(tmp_path):
    root = ET.fromstring(hand_urdf(tmp_path / "adroit.urdf", copy_meshes=True))
    model = adroit_hand_model()
    checked = 0
    for link in root.findall("link"):
        for visual in link.findall("visual"):
            mesh = visual.find("geometry/mesh")
            path = urlparse(mesh.get("filename")).path
            assert path.startswith(str(tmp_path / "meshes")), path  # copied next to the URDF
            scale = np.array([float(v) for v in mesh.get("scale").split()])
            pose = _xyz_rpy(visual)
            placed = (_read_stl(Path(path)) * scale) @ pose[:3, :3].T + pose[:3, 3]
            geom = model.geom(visual.get("name")).id
            mesh_id = model.geom_dataid[geom]
            first = model.mesh_vertadr[mesh_id]
            verts = model.mesh_vert[first:first + model.mesh_vertnum[mesh_id]]
            rot = np.zeros(9)
            mujoco.mju_quat2Mat(rot, model.geom_quat[geom])
            in_body = verts @ rot.reshape(3, 3).T + model.geom_pos[geom]
            distance, _ = cKDTree(in_body).query(placed)
            assert distance.max() < 1e-4, f"{visual.get('name')}: mesh off by {distance.max():.5f} m"
            checked += 1
    assert checked >= 20
