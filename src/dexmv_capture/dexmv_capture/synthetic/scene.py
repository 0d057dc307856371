"""The MuJoCo scene of a synthetic recording: table, task objects, a skin-coloured human hand, two D435s.

Objects and the table come from dexmv_sim (same shapes, sizes and colours as the simulation); the
hand is built here from human_hand.py's skeleton: a capsule per phalanx, a box palm and a forearm,
each a mocap body placed from the keypoints of every frame. Materials and light follow what
MediaPipe Hands was measured to detect (DESIGN.md): skin rgba 0.80 0.60 0.48, matte, a
checker-textured table top, a headlight plus one light from above.

Cameras are rendered with the recorded intrinsics (MuJoCo camera focal/principal in pixels), so
ground-truth keypoints projected with those intrinsics land on the rendered hand (tested).
"""

from __future__ import annotations

import mujoco
import numpy as np
from scipy.spatial.transform import Rotation

from dexmv_capture.d435 import Intrinsics
from dexmv_capture.synthetic.hand_motion import HandTrajectory
from dexmv_capture.synthetic.human_hand import BONES

SKIN_RGBA = (0.80, 0.60, 0.48, 1.0)
SLEEVE_RGBA = (0.18, 0.24, 0.36, 1.0)
# Capsule radii (m) of the phalanges, proximal to distal, per finger (thumb first): adult finger widths.
BONE_RADIUS = np.array([
    [0.0125, 0.0105, 0.0095, 0.0088],  # thumb: metacarpal (thenar), proximal, distal
    [0.0, 0.0095, 0.0085, 0.0078],  # index: (metacarpal is the palm), proximal, middle, distal
    [0.0, 0.0098, 0.0088, 0.0080],
    [0.0, 0.0092, 0.0083, 0.0076],
    [0.0, 0.0083, 0.0075, 0.0069],
])
PALM_HALF_THICKNESS = 0.0135
FOREARM_LENGTH = 0.22
HAND_GROUP = 1  # geom group of the hand (for segmentation)
# MuJoCo cameras look along -z with +y up; optical frames (REP-103) look along +z with +y down.
OPTICAL_TO_MUJOCO = np.diag([1.0, -1.0, -1.0])
_SENSOR_PIXEL = 3e-6  # m: any pixel pitch works, MuJoCo only uses focal/sensor ratios


def _quat_wxyz(rot: np.ndarray) -> np.ndarray:
    x, y, z, w = Rotation.from_matrix(rot).as_quat()
    return np.array([w, x, y, z])


def _z_to(direction: np.ndarray) -> np.ndarray:
    """Rotation whose z axis is `direction` (for capsules), batched over (..., 3)."""
    d = direction / np.linalg.norm(direction, axis=-1, keepdims=True)
    z = np.broadcast_to([0.0, 0.0, 1.0], d.shape)
    axis = np.cross(z, d)
    s = np.linalg.norm(axis, axis=-1)
    c = d[..., 2]
    angle = np.arctan2(s, c)
    safe = np.where(s[..., None] > 1e-9, axis / np.maximum(s[..., None], 1e-12), [1.0, 0.0, 0.0])
    return Rotation.from_rotvec(safe * angle[..., None]).as_matrix()


class SyntheticScene:
    """A renderable scene for one HandTrajectory and a set of cameras (optical poses in world)."""

    def __init__(self, motion: HandTrajectory, camera_poses: dict[str, np.ndarray], intrinsics: Intrinsics) -> None:
        from dexmv_sim.objects import add_object
        from dexmv_sim.table import add_table

        self.motion, self.intrinsics = motion, intrinsics
        spec = mujoco.MjSpec()
        spec.modelname = "dexmv_capture_synthetic"
        spec.visual.global_.offwidth = max(640, intrinsics.width)
        spec.visual.global_.offheight = max(480, intrinsics.height)
        spec.visual.headlight.ambient = [0.25, 0.25, 0.25]
        spec.visual.headlight.diffuse = [0.45, 0.45, 0.45]
        spec.visual.headlight.specular = [0.0, 0.0, 0.0]
        spec.visual.map.znear = 0.01
        add_table(spec)
        checker = spec.add_texture(name="table_checker", type=mujoco.mjtTexture.mjTEXTURE_2D,
                                   builtin=mujoco.mjtBuiltin.mjBUILTIN_CHECKER, rgb1=[0.78, 0.66, 0.50],
                                   rgb2=[0.66, 0.55, 0.42], width=256, height=256)
        material = spec.add_material(name="table_checker", texrepeat=[12, 12], specular=0.0, shininess=0.0)
        material.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = checker.name
        top = spec.geom("table/visual_0")
        top.material, top.rgba = "table_checker", [1.0, 1.0, 1.0, 1.0]
        spec.worldbody.add_light(name="top", pos=[0.0, -0.1, 1.6], dir=[0.0, 0.0, -1.0], diffuse=[0.55, 0.55, 0.55],
                                 specular=[0.0, 0.0, 0.0], castshadow=True)
        spec.add_material(name="skin", rgba=list(SKIN_RGBA), specular=0.0, shininess=0.0, reflectance=0.0)
        spec.add_material(name="sleeve", rgba=list(SLEEVE_RGBA), specular=0.0, shininess=0.0)
        self._object_names = []
        for key, track in motion.objects.items():
            pos, rot = track.poses[0, :3, 3], track.poses[0, :3, :3]
            add_object(spec.worldbody, track.object_id, name=key, pos=pos, quat=_quat_wxyz(rot), free=True,
                       scale=track.scale)
            self._object_names.append(key)
        for name, fixture in motion.fixtures.items():
            self._add_container(spec, name, fixture)
        # hand: one mocap body per bone, the palm and the forearm
        self._bones = []
        for k, (parent, child) in enumerate(BONES):
            finger, seg = divmod(k, 4)
            radius = BONE_RADIUS[finger, seg]
            if radius == 0.0:
                continue  # finger metacarpals live inside the palm box
            body = spec.worldbody.add_body(name=f"hand/bone_{parent}_{child}", mocap=True)
            body.add_geom(name=f"hand/bone_{parent}_{child}", type=mujoco.mjtGeom.mjGEOM_CAPSULE,
                          size=[radius, 0.01, 0], material="skin", group=HAND_GROUP, contype=0, conaffinity=0)
            self._bones.append((parent, child, radius))
        palm = spec.worldbody.add_body(name="hand/palm", mocap=True)
        palm.add_geom(name="hand/palm", type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.04, 0.035, PALM_HALF_THICKNESS],
                      material="skin", group=HAND_GROUP, contype=0, conaffinity=0)
        forearm = spec.worldbody.add_body(name="hand/forearm", mocap=True)
        forearm.add_geom(name="hand/wrist", type=mujoco.mjtGeom.mjGEOM_CAPSULE, size=[0.026, 0.03, 0],
                         pos=[0, 0, 0.03], material="skin", group=HAND_GROUP, contype=0, conaffinity=0)
        forearm.add_geom(name="hand/sleeve", type=mujoco.mjtGeom.mjGEOM_CAPSULE,
                         size=[0.037, FOREARM_LENGTH / 2 - 0.03, 0], pos=[0, 0, 0.07 + FOREARM_LENGTH / 2],
                         material="sleeve", group=HAND_GROUP, contype=0, conaffinity=0)
        self.camera_names = list(camera_poses)
        for name, pose in camera_poses.items():
            cam = spec.worldbody.add_camera(name=name, pos=list(pose[:3, 3]),
                                            quat=list(_quat_wxyz(pose[:3, :3] @ OPTICAL_TO_MUJOCO)))
            cam.resolution = [intrinsics.width, intrinsics.height]
            cam.sensor_size = [intrinsics.width * _SENSOR_PIXEL, intrinsics.height * _SENSOR_PIXEL]
            cam.focal_pixel = [intrinsics.fx, intrinsics.fy]
            cam.principal_pixel = [intrinsics.ppx - intrinsics.width / 2, intrinsics.ppy - intrinsics.height / 2]
        self.model = spec.compile()
        self.data = mujoco.MjData(self.model)
        self._geom_capsules = [self.model.geom(f"hand/bone_{p}_{c}").id for p, c, _ in self._bones]
        for gid, (p, c, _) in zip(self._geom_capsules, self._bones, strict=True):
            length = np.linalg.norm(motion.keypoints[0, c] - motion.keypoints[0, p])
            self.model.geom_size[gid, 1] = length / 2  # bone lengths do not change over a motion
        self.hand_geoms = np.array([g for g in range(self.model.ngeom) if self.model.geom_group[g] == HAND_GROUP])
        self._renderer: mujoco.Renderer | None = None

    @staticmethod
    def _add_container(spec: mujoco.MjSpec, name: str, fixture: dict) -> None:
        """pour's open container, as dexmv_sim.tasks.pour builds it (floor and four walls)."""
        cx, cy, _ = fixture["center"]
        sx, sy, sz = (v / 2 for v in fixture["size"])
        t = 0.003
        body = spec.worldbody.add_body(name=name, pos=[cx, cy, 0.0])
        boards = [((sx, sy, t), (0, 0, t)), ((t, sy, sz), (sx - t, 0, sz)), ((t, sy, sz), (-sx + t, 0, sz)),
                  ((sx, t, sz), (0, sy - t, sz)), ((sx, t, sz), (0, -sy + t, sz))]
        for k, (size, pos) in enumerate(boards):
            body.add_geom(name=f"{name}/wall_{k}", type=mujoco.mjtGeom.mjGEOM_BOX, size=list(size), pos=list(pos),
                          rgba=[0.90, 0.90, 0.35, 1.0], contype=0, conaffinity=0)

    def set_frame(self, t: int) -> None:
        """Pose the hand and objects as in frame t of the motion."""
        m, d, motion = self.model, self.data, self.motion
        kp = motion.keypoints[t]
        for k, (p, c, _) in enumerate(self._bones):
            mocap = m.body_mocapid[m.body(f"hand/bone_{p}_{c}").id]
            d.mocap_pos[mocap] = (kp[p] + kp[c]) / 2
            d.mocap_quat[mocap] = _quat_wxyz(_z_to(kp[c] - kp[p]))
            del k
        wrist = motion.wrist_pose[t]
        rot = wrist[:3, :3]
        # palm box: from the wrist to the knuckles, centred on the hand's mid-line
        mcps = kp[[5, 9, 13, 17]]
        centre_local = np.array([np.mean((mcps - kp[0]) @ rot[:, 0]) * 0.5 + 0.004, -0.006, 0.0])
        mocap = m.body_mocapid[m.body("hand/palm").id]
        d.mocap_pos[mocap] = kp[0] + rot @ centre_local
        d.mocap_quat[mocap] = _quat_wxyz(rot)
        half_len = max(0.03, centre_local[0])
        m.geom_size[m.geom("hand/palm").id, :2] = [half_len, 0.5 * np.linalg.norm(kp[5] - kp[17]) + 0.006]
        mocap = m.body_mocapid[m.body("hand/forearm").id]
        d.mocap_pos[mocap] = kp[0]
        d.mocap_quat[mocap] = _quat_wxyz(rot @ Rotation.from_euler("y", -np.pi / 2).as_matrix())  # z along -x_hand
        for name in self._object_names:
            pose = motion.objects[name].poses[t]
            adr = m.jnt_qposadr[m.joint(f"{name}/joint").id]
            d.qpos[adr:adr + 3] = pose[:3, 3]
            d.qpos[adr + 3:adr + 7] = _quat_wxyz(pose[:3, :3])
        mujoco.mj_kinematics(m, d)
        mujoco.mj_camlight(m, d)

    def render(self, camera: str) -> tuple[np.ndarray, np.ndarray]:
        """(RGB uint8 (H, W, 3), depth in metres (H, W) float32) of `camera` at the current frame."""
        r = self._ensure_renderer()
        r.update_scene(self.data, camera=camera)
        rgb = r.render().copy()
        r.enable_depth_rendering()
        r.update_scene(self.data, camera=camera)
        depth = r.render().astype(np.float32)
        r.disable_depth_rendering()
        return rgb, depth

    def hand_mask(self, camera: str) -> np.ndarray:
        """(H, W) bool: pixels where the hand (including the forearm) is the nearest surface."""
        r = self._ensure_renderer()
        r.enable_segmentation_rendering()
        r.update_scene(self.data, camera=camera)
        seg = r.render()
        r.disable_segmentation_rendering()
        geom = seg[..., 0]
        return np.isin(geom, self.hand_geoms) & (seg[..., 1] == mujoco.mjtObj.mjOBJ_GEOM)

    def _ensure_renderer(self) -> mujoco.Renderer:
        if self._renderer is None:
            self._renderer = mujoco.Renderer(self.model, self.intrinsics.height, self.intrinsics.width)
        return self._renderer

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
