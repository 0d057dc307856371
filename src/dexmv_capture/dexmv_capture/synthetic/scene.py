"""The MuJoCo scene of a synthetic recording: table, task objects, a skin-coloured human hand, two D435s.

Objects and the table come from dexmv_sim (same shapes and sizes as the simulation); the hand is
built here around human_hand.py's skeleton as a set of capsules (phalanges, metacarpals, knuckle
line, thenar, thumb web, wrist and forearm) and a palm box, each a mocap body placed from the
keypoints of every frame. What MediaPipe Hands needs to find it (measured with `dexmv bench
capture`, README): a full, rounded hand silhouette rather than sticks on a plank, bare skin from
the wrist a hand's length up the forearm, skin (rgba 0.80 0.60 0.48, matte) that stands out from
a cool grey checker table top, and soft light without a dark hand-shaped shadow.

Cameras are rendered with the recorded intrinsics (MuJoCo camera focal/principal in pixels), so
ground-truth keypoints projected with those intrinsics land on the rendered hand (tested).
Rendering is single-sample (no multisampling) with shadows off: on Mesa's software EGL that is
about 5x faster per image, and a 3x3 Gaussian blur gives back the softness of a real lens.
"""

from __future__ import annotations

import mujoco
import numpy as np
from scipy.spatial.transform import Rotation

from dexmv_capture.d435 import Intrinsics
from dexmv_capture.synthetic.grasp import PALM_HALF_THICKNESS
from dexmv_capture.synthetic.hand_motion import HandTrajectory
from dexmv_capture.synthetic.human_hand import BONES

SKIN_RGBA = (0.80, 0.60, 0.48, 1.0)
SLEEVE_RGBA = (0.18, 0.24, 0.36, 1.0)
TABLE_CHECKER_RGB = ((0.56, 0.58, 0.62), (0.44, 0.46, 0.50))  # cool grey: skin stands out against it
# Capsule radii (m) of the phalanges, proximal to distal, per finger (thumb first): adult finger widths.
BONE_RADIUS = np.array([
    [0.0125, 0.0105, 0.0095, 0.0088],  # thumb: metacarpal (thenar), proximal, distal
    [0.0110, 0.0095, 0.0085, 0.0078],  # index: metacarpal (back of the hand), proximal, middle, distal
    [0.0110, 0.0098, 0.0088, 0.0080],
    [0.0105, 0.0092, 0.0083, 0.0076],
    [0.0100, 0.0083, 0.0075, 0.0069],
])
METACARPAL_START = 0.3  # finger metacarpal capsules start this far from the wrist towards the MCP
# The palm box is PALM_HALF_THICKNESS thick on either side of the wrist plane: the palm skin where
# grasp.py lets the object touch it, the back of the hand just over the metacarpal capsules (which then
# round the edges instead of showing as ridges, which MediaPipe did not take for a hand).
FINGER_SCALE = 1.12  # BONE_RADIUS are bone-centre-to-skin; fingers read better on camera a little fuller
# Wrist and forearm, distance from the wrist keypoint along the forearm (start, end), radius, sideways
# offset (pairs of capsules make the flat, wider-than-thick cross-section of a wrist), material.
FOREARM = ((0.0, 0.08, 0.0175, 0.011, "skin"), (0.0, 0.08, 0.0175, -0.011, "skin"),
           (0.08, 0.19, 0.021, 0.012, "skin"), (0.08, 0.19, 0.021, -0.012, "skin"),
           (0.19, 0.42, 0.042, 0.0, "sleeve"))
HAND_GROUP = 1  # geom group of the hand (for segmentation)
# MuJoCo cameras look along -z with +y up; optical frames (REP-103) look along +z with +y down.
OPTICAL_TO_MUJOCO = np.diag([1.0, -1.0, -1.0])
_SENSOR_PIXEL = 3e-6  # m: any pixel pitch works, MuJoCo only uses focal/sensor ratios


def _quat_wxyz(rot: np.ndarray) -> np.ndarray:
    """MuJoCo quaternion(s) (w, x, y, z) of rotation matrices (..., 3, 3)."""
    return Rotation.from_matrix(rot).as_quat(scalar_first=True)


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


def _hand_capsules() -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The hand's capsules as endpoint formulas: names, weights A/B (n, 21) over keypoints, local
    offsets (n, 2, 3) in the hand frame added to each endpoint, radii (n,)."""
    names, wa, wb, offsets, radii = [], [], [], [], []

    def add(name: str, a: dict[int, float], b: dict[int, float], radius: float,
            offset_a=(0.0, 0.0, 0.0), offset_b=(0.0, 0.0, 0.0)) -> None:
        va, vb = np.zeros(21), np.zeros(21)
        for k, w in a.items():
            va[k] = w
        for k, w in b.items():
            vb[k] = w
        names.append(name)
        wa.append(va)
        wb.append(vb)
        offsets.append([offset_a, offset_b])
        radii.append(radius)

    for k, (parent, child) in enumerate(BONES):
        finger, seg = divmod(k, 4)
        start = {parent: 1.0} if finger == 0 or seg > 0 else {0: 1.0 - METACARPAL_START, child: METACARPAL_START}
        radius = BONE_RADIUS[finger, seg] * (FINGER_SCALE if seg > 0 or finger == 0 else 1.0)
        add(f"bone_{parent}_{child}", start, {child: 1.0}, radius)
    add("knuckles", {5: 1.0}, {17: 1.0}, 0.0105)
    add("heel", {0: 1.0}, {0: 1.0}, 0.0135, (0.012, 0.022, -0.005), (0.012, -0.024, -0.005))
    add("thenar", {0: 1.0}, {1: 0.3, 2: 0.7}, 0.0135, (0.015, 0.012, -0.007))
    add("web", {1: 0.2, 2: 0.8}, {5: 0.8, 6: 0.2}, 0.0065, (0.0, 0.0, -0.003), (0.0, 0.0, -0.003))
    return names, np.array(wa), np.array(wb), np.array(offsets, dtype=float), np.array(radii)


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
        spec.visual.quality.offsamples = 0
        spec.visual.headlight.ambient = [0.30, 0.30, 0.30]
        spec.visual.headlight.diffuse = [0.40, 0.40, 0.40]
        spec.visual.headlight.specular = [0.0, 0.0, 0.0]
        spec.visual.map.znear = 0.01
        add_table(spec)
        checker = spec.add_texture(name="table_checker", type=mujoco.mjtTexture.mjTEXTURE_2D,
                                   builtin=mujoco.mjtBuiltin.mjBUILTIN_CHECKER, rgb1=list(TABLE_CHECKER_RGB[0]),
                                   rgb2=list(TABLE_CHECKER_RGB[1]), width=256, height=256)
        material = spec.add_material(name="table_checker", texrepeat=[12, 12], specular=0.0, shininess=0.0)
        material.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = checker.name
        top = spec.geom("table/visual_0")
        top.material, top.rgba = "table_checker", [1.0, 1.0, 1.0, 1.0]
        spec.worldbody.add_light(name="top", pos=[0.0, -0.1, 1.6], dir=[0.0, 0.0, -1.0], diffuse=[0.45, 0.45, 0.45],
                                 specular=[0.0, 0.0, 0.0], castshadow=False)
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
        # hand: one mocap body per capsule, the palm box and the forearm
        names, self._wa, self._wb, self._offsets, radii = _hand_capsules()
        for name, radius in zip(names, radii, strict=True):
            body = spec.worldbody.add_body(name=f"hand/{name}", mocap=True)
            body.add_geom(name=f"hand/{name}", type=mujoco.mjtGeom.mjGEOM_CAPSULE, size=[radius, 0.01, 0],
                          material="skin", group=HAND_GROUP, contype=0, conaffinity=0)
        palm = spec.worldbody.add_body(name="hand/palm", mocap=True)
        palm.add_geom(name="hand/palm", type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.04, 0.035, PALM_HALF_THICKNESS],
                      material="skin", group=HAND_GROUP, contype=0, conaffinity=0)
        forearm = spec.worldbody.add_body(name="hand/forearm", mocap=True)
        for k, (start, end, radius, side, material) in enumerate(FOREARM):  # body z: along the forearm, y: hand y
            forearm.add_geom(name=f"hand/forearm_{k}", type=mujoco.mjtGeom.mjGEOM_CAPSULE,
                             size=[radius, (end - start) / 2, 0], pos=[0, side, (start + end) / 2], material=material,
                             group=HAND_GROUP, contype=0, conaffinity=0)
        self.camera_names = list(camera_poses)
        for name, pose in camera_poses.items():
            cam = spec.worldbody.add_camera(name=name, pos=list(pose[:3, 3]),
                                            quat=list(_quat_wxyz(pose[:3, :3] @ OPTICAL_TO_MUJOCO)))
            cam.resolution = [intrinsics.width, intrinsics.height]
            cam.sensor_size = [intrinsics.width * _SENSOR_PIXEL, intrinsics.height * _SENSOR_PIXEL]
            cam.focal_pixel = [intrinsics.fx, intrinsics.fy]
            # MuJoCo moves the image centre against principal_pixel (measured: +20 moves the image centre
            # 20 px left), so the offset that puts it at (ppx, ppy) is (W/2 - ppx, H/2 - ppy)
            cam.principal_pixel = [intrinsics.width / 2 - intrinsics.ppx, intrinsics.height / 2 - intrinsics.ppy]
        self.model = spec.compile()
        self.data = mujoco.MjData(self.model)
        m = self.model
        self._capsule_geoms = np.array([m.geom(f"hand/{n}").id for n in names])
        self._capsule_mocap = np.array([m.body_mocapid[m.body(f"hand/{n}").id] for n in names])
        self._palm_geom = m.geom("hand/palm").id
        self._palm_mocap = m.body_mocapid[m.body("hand/palm").id]
        self._forearm_mocap = m.body_mocapid[m.body("hand/forearm").id]
        self._object_qpos = [(name, m.jnt_qposadr[m.joint(f"{name}/joint").id]) for name in self._object_names]
        self.hand_geoms = np.array([g for g in range(m.ngeom) if m.geom_group[g] == HAND_GROUP])
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
        wrist = motion.wrist_pose[t]
        rot = wrist[:3, :3]
        a = self._wa @ kp + self._offsets[:, 0] @ rot.T
        b = self._wb @ kp + self._offsets[:, 1] @ rot.T
        d.mocap_pos[self._capsule_mocap] = (a + b) / 2
        d.mocap_quat[self._capsule_mocap] = _quat_wxyz(_z_to(b - a))
        m.geom_size[self._capsule_geoms, 1] = np.linalg.norm(b - a, axis=-1) / 2
        # palm box: from near the wrist to the knuckles, between the index and little MCPs
        mcp_x = (kp[[5, 17]] - kp[0]) @ rot[:, 0]
        mid_y = (kp[[5, 17]] - kp[0]) @ rot[:, 1]
        x0, x1 = 0.008, float(mcp_x.mean())
        centre_local = np.array([(x0 + x1) / 2, mid_y.mean(), 0.0])
        d.mocap_pos[self._palm_mocap] = kp[0] + rot @ centre_local
        d.mocap_quat[self._palm_mocap] = _quat_wxyz(rot)
        m.geom_size[self._palm_geom, :2] = [max(0.02, (x1 - x0) / 2), abs(mid_y[0] - mid_y[1]) / 2]
        d.mocap_pos[self._forearm_mocap] = kp[0]
        d.mocap_quat[self._forearm_mocap] = _quat_wxyz(rot @ Rotation.from_euler("y", -np.pi / 2).as_matrix())
        for name, adr in self._object_qpos:
            pose = motion.objects[name].poses[t]
            d.qpos[adr:adr + 3] = pose[:3, 3]
            d.qpos[adr + 3:adr + 7] = _quat_wxyz(pose[:3, :3])
        mujoco.mj_kinematics(m, d)
        mujoco.mj_camlight(m, d)

    def render_color(self, camera: str) -> np.ndarray:
        """RGB uint8 (H, W, 3) of `camera` at the current frame, softened like a real lens."""
        import cv2

        r = self._ensure_renderer()
        r.update_scene(self.data, camera=camera)
        return cv2.GaussianBlur(r.render(), (3, 3), 0.6)

    def render_depth(self, camera: str) -> np.ndarray:
        """Depth in metres (H, W) float32 of `camera` at the current frame (no noise)."""
        r = self._ensure_renderer()
        r.enable_depth_rendering()
        try:
            r.update_scene(self.data, camera=camera)
            return r.render().astype(np.float32)
        finally:
            r.disable_depth_rendering()

    def render(self, camera: str) -> tuple[np.ndarray, np.ndarray]:
        """(RGB uint8 (H, W, 3), depth in metres (H, W) float32) of `camera` at the current frame."""
        return self.render_color(camera), self.render_depth(camera)

    def hand_mask(self, camera: str) -> np.ndarray:
        """(H, W) bool: pixels where the hand (including the forearm) is the nearest surface."""
        r = self._ensure_renderer()
        r.enable_segmentation_rendering()
        try:
            r.update_scene(self.data, camera=camera)
            seg = r.render()
        finally:
            r.disable_segmentation_rendering()
        # a table lookup, and the enum as an int: comparing an array with the pybind enum goes element by
        # element through Python (0.6 s per image)
        is_hand = np.zeros(self.model.ngeom + 1, bool)
        is_hand[self.hand_geoms] = True
        return is_hand[seg[..., 0]] & (seg[..., 1] == int(mujoco.mjtObj.mjOBJ_GEOM))

    def _ensure_renderer(self) -> mujoco.Renderer:
        if self._renderer is None:
            self._renderer = mujoco.Renderer(self.model, self.intrinsics.height, self.intrinsics.width)
        return self._renderer

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
