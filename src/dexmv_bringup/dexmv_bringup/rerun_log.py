"""What `dexmv view` shows, logged to a Rerun recording: the viewer for machines without RViz.

Sources: a two-camera recording folder (camera<i>.db3 + extrinsics.yaml, ground_truth.npz when
synthetic), a rosbag2 folder, a demonstration (.npz with `joints`, as `dexmv demo` writes) and a
training run folder (metrics.csv). Entity paths, in the `world` frame (z up):
  world/camera<i>                 camera pose (extrinsics), pinhole, color and depth images
  world/hand/keypoints, .../bones the 3D human hand (ground truth or /dexmv/hand_pose)
  world/objects/<id>              object poses (ground truth, /dexmv/object_poses or the sim's)
  world/robot/joints, .../links   the Adroit hand from its joint angles (MuJoCo forward kinematics)
  metrics/<column>                training curves
Timelines: `frame` (camera frames, control steps, rows) and `time` (seconds from the start).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

# MediaPipe / MANO keypoint order: the bones as (parent, child) pairs.
HAND_BONES = [(0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (0, 9), (9, 10), (10, 11),
              (11, 12), (0, 13), (13, 14), (14, 15), (15, 16), (0, 17), (17, 18), (18, 19), (19, 20)]


class ViewError(ValueError):
    """An input `dexmv view` cannot show; the message names the file."""


def detect_kind(path: Path) -> str:
    """recording, bag, demonstration or run, from what the path holds."""
    if path.is_dir():
        if (path / "metadata.yaml").is_file():
            return "bag"
        if any(path.glob("camera*.db3")):
            return "recording"
        if (path / "metrics.csv").is_file():
            return "run"
        if (path / "data" / "main_data.hdf5").is_file() or (path / "main_data.hdf5").is_file():
            return "dataset"
    elif path.suffix == ".npz":
        return "demonstration"
    raise ViewError(f"{path}: not a recording folder (camera<i>.db3), rosbag2 folder (metadata.yaml), "
                    "Minari dataset (data/main_data.hdf5), demonstration (.npz) or training run (metrics.csv)")


class RobotHand:
    """Adroit forward kinematics with MuJoCo: body positions for 30 joint angles."""

    def __init__(self) -> None:
        import mujoco

        from dexmv_sim.adroit import ADROIT_JOINTS, adroit_hand_model

        self.mujoco = mujoco
        self.model = adroit_hand_model()
        self.data = mujoco.MjData(self.model)
        self.joint_names = list(ADROIT_JOINTS)
        self.qpos_index = [self.model.jnt_qposadr[self.model.joint(n).id] for n in ADROIT_JOINTS]
        self.links = [(int(self.model.body_parentid[b]), b) for b in range(2, self.model.nbody)]

    def positions(self, joints: np.ndarray | dict[str, float]) -> np.ndarray:
        if isinstance(joints, dict):
            q = self.data.qpos.copy()
            for name, value in joints.items():
                if name in self.joint_names:
                    q[self.qpos_index[self.joint_names.index(name)]] = value
            self.data.qpos[:] = q
        else:
            self.data.qpos[self.qpos_index] = np.asarray(joints)[:30]
        self.mujoco.mj_kinematics(self.model, self.data)
        return self.data.xpos.copy()

    def log(self, rr: Any, joints) -> None:
        xpos = self.positions(joints)
        rr.log("world/robot/joints", rr.Points3D(xpos[1:], radii=0.004, colors=[80, 140, 255]))
        rr.log("world/robot/links", rr.LineStrips3D([[xpos[p], xpos[c]] for p, c in self.links], radii=0.003,
                                                    colors=[80, 140, 255]))


def transform(rr: Any, translation, rotation: np.ndarray) -> Any:
    """Transform3D from a translation and a 3x3 rotation matrix. (rerun-sdk 0.23's Quaternion fails
    with numpy < 2, which mediapipe needs: it drops the rotation with a warning.)"""
    return rr.Transform3D(translation=np.asarray(translation, dtype=np.float32),
                          mat3x3=np.asarray(rotation, dtype=np.float32))


def log_hand(rr: Any, path: str, keypoints: np.ndarray) -> None:
    ok = np.isfinite(keypoints).all(axis=1)
    rr.log(f"{path}/keypoints", rr.Points3D(keypoints[ok], radii=0.006, colors=[255, 170, 120]))
    rr.log(f"{path}/bones", rr.LineStrips3D([[keypoints[a], keypoints[b]] for a, b in HAND_BONES if ok[a] and ok[b]],
                                            radii=0.003, colors=[255, 120, 60]))


def log_object(rr: Any, object_id: str, matrix: np.ndarray) -> None:
    rr.log(f"world/objects/{object_id}", transform(rr, matrix[:3, 3], matrix[:3, :3]))
    rr.log(f"world/objects/{object_id}/origin", rr.Points3D([[0, 0, 0]], radii=0.01, labels=[object_id]))


def log_recording(rr: Any, folder: Path, max_frames: int | None = None, progress=None) -> int:
    """Both cameras' images and depth at their poses, plus the ground truth when the folder has it."""
    from scipy.spatial.transform import Rotation

    from dexmv_capture.camera_source import RecordingSource
    from dexmv_capture.extrinsics import load_extrinsics
    from dexmv_capture.rig import LINK_FROM_OPTICAL_QUAT

    rr.log("world", rr.ViewCoordinates.RIGHT_HAND_Z_UP, static=True)
    extrinsics = folder / "extrinsics.yaml"
    if extrinsics.is_file():
        link_from_optical = Rotation.from_quat(LINK_FROM_OPTICAL_QUAT)
        for cam in load_extrinsics(extrinsics):
            world_from_optical = Rotation.from_quat(cam.rotation) * link_from_optical
            rr.log(f"world/{cam.child_frame_id.removesuffix('_link')}",
                   transform(rr, cam.translation, world_from_optical.as_matrix()), static=True)
    truth = None
    if (folder / "ground_truth.npz").is_file():
        from dexmv_capture.synthetic.synthesize import load_ground_truth

        truth = load_ground_truth(folder / "ground_truth.npz")
    robot = RobotHand() if truth is not None else None
    joints = None
    if truth is not None:
        from dexmv_retarget import RetargetConfig, Retargeter

        joints = Retargeter(RetargetConfig(fps=float(truth[1]["fps"]))).retarget(truth[0]["keypoints_world"]).joints
    frames = 0
    for path in sorted(folder.glob("camera*.db3")):
        cam = path.stem
        source = RecordingSource(str(path), real_time=False)
        try:
            intr = source.intrinsics
            pinhole = rr.Pinhole(image_from_camera=intr.matrix(), resolution=[intr.width, intr.height],
                                 camera_xyz=rr.ViewCoordinates.RDF)
            rr.log(f"world/{cam}/image", pinhole, static=True)
            first, k = None, 0
            while (frame := source.read()) is not None and (max_frames is None or k < max_frames):
                first = frame.timestamp_ms if first is None else first
                rr.set_time("frame", sequence=k)
                rr.set_time("time", duration=(frame.timestamp_ms - first) / 1000.0)
                rr.log(f"world/{cam}/image/color", rr.Image(frame.color))
                rr.log(f"world/{cam}/image/depth", rr.DepthImage(frame.depth, meter=1.0 / source.info.depth_units))
                if truth is not None and cam == "camera1":
                    arrays, meta = truth
                    if k < len(arrays["keypoints_world"]):
                        log_hand(rr, "world/hand", arrays["keypoints_world"][k])
                        for name, info in meta["objects"].items():
                            log_object(rr, info["object_id"], arrays[f"object_pose/{name}"][k])
                        robot.log(rr, joints[k])
                k += 1
                if progress:
                    progress()
            frames = max(frames, k)
        finally:
            source.close()
    return frames


def log_demonstration(rr: Any, path: Path) -> int:
    """A robot demonstration (.npz with `joints` at 100 Hz, optionally `achieved`): the hand moving."""
    with np.load(path, allow_pickle=False) as data:
        if "joints" not in data.files:
            raise ViewError(f"{path}: no `joints` array (expected a demonstration written by `dexmv demo`)")
        joints = data["achieved"] if "achieved" in data.files else data["joints"]
    robot = RobotHand()
    rr.log("world", rr.ViewCoordinates.RIGHT_HAND_Z_UP, static=True)
    for t, q in enumerate(joints):
        rr.set_time("frame", sequence=t)
        rr.set_time("time", duration=t * 0.01)
        robot.log(rr, q)
    return len(joints)


def log_dataset(rr: Any, folder: Path, episode: int = 0) -> int:
    """One episode of a Minari dataset of an Adroit task: the hand from the observations' first 30
    values (the 30 hand joints, as in our envs and D4RL's Adroit data), rewards as a curve."""
    from minari import MinariDataset

    data = folder / "data" if (folder / "data" / "main_data.hdf5").is_file() else folder
    try:
        dataset = MinariDataset(data)
    except Exception as err:  # minari raises several types for unreadable datasets
        raise ViewError(f"{folder}: cannot read the Minari dataset: {err}") from None
    if not 0 <= episode < dataset.total_episodes:
        raise ViewError(f"{folder}: episode {episode} out of range (it has {dataset.total_episodes})")
    ep = next(iter(dataset.iterate_episodes([episode])))
    obs = np.asarray(ep.observations)
    if obs.ndim != 2 or obs.shape[1] < 30:
        raise ViewError(f"{folder}: observations of shape {obs.shape}: expected an Adroit task's (steps, >= 30)")
    robot = RobotHand()
    rr.log("world", rr.ViewCoordinates.RIGHT_HAND_Z_UP, static=True)
    for t, q in enumerate(obs):
        rr.set_time("frame", sequence=t)
        rr.set_time("time", duration=t * 0.01)
        robot.log(rr, q[:30])
        if t < len(ep.rewards):
            rr.log("metrics/reward", rr.Scalars(float(ep.rewards[t])))
    return len(obs)


def log_run(rr: Any, folder: Path) -> int:
    """A training run's metrics.csv: one scalar series per numeric column, against its first column."""
    import csv

    with open(folder / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise ViewError(f"{folder / 'metrics.csv'}: no rows")
    columns = list(rows[0])
    for i, row in enumerate(rows):
        rr.set_time("frame", sequence=int(float(row[columns[0]])) if row[columns[0]] else i)
        for name in columns[1:]:
            try:
                rr.log(f"metrics/{name}", rr.Scalars(float(row[name])))
            except ValueError:
                continue
    return len(rows)


def _frame_paths(parents: dict[str, str], frame: str) -> str:
    """Rerun entity path of a TF frame: its chain of parents up to `world`."""
    chain, seen = [], set()
    while frame and frame != "world" and frame not in seen:
        seen.add(frame)
        chain.append(frame.replace("/", "__"))
        frame = parents.get(frame, "")
    return "/".join(["world", *reversed(chain)])


def log_bag(rr: Any, folder: Path, progress=None) -> int:
    """A rosbag2 folder: images, camera info, TF, hand poses, object poses and joint states."""
    from rclpy.serialization import deserialize_message
    from scipy.spatial.transform import Rotation

    from dexmv_bringup.bag_playback import BagReader, message_class

    rr.log("world", rr.ViewCoordinates.RIGHT_HAND_Z_UP, static=True)
    parents: dict[str, str] = {}
    robot = None
    count = 0
    with BagReader(folder) as reader:
        types = {t.name: t.msgtype for t in reader.topics}
        classes = {t: message_class(m) for t, m in types.items()}
        for msg in reader.messages():
            count += 1
            if progress:
                progress()
            kind = types[msg.topic]
            if kind not in HANDLED:
                continue
            m = deserialize_message(msg.data, classes[msg.topic])
            rr.set_time("time", duration=msg.offset_s)
            if kind == "tf2_msgs/msg/TFMessage":
                for t in m.transforms:
                    parents[t.child_frame_id] = t.header.frame_id
                    tr, q = t.transform.translation, t.transform.rotation
                    rotation = Rotation.from_quat([q.x, q.y, q.z, q.w]).as_matrix()
                    rr.log(_frame_paths(parents, t.child_frame_id), transform(rr, [tr.x, tr.y, tr.z], rotation),
                           static=msg.topic == "/tf_static")
            elif kind == "sensor_msgs/msg/Image":
                entity = f"{_frame_paths(parents, m.header.frame_id)}/image"
                if m.encoding in ("16UC1", "mono16"):
                    depth = np.frombuffer(m.data, np.uint16).reshape(m.height, m.width)
                    rr.log(f"{entity}/depth", rr.DepthImage(depth, meter=1000.0))
                elif m.encoding in ("rgb8", "bgr8"):
                    img = np.frombuffer(m.data, np.uint8).reshape(m.height, m.width, 3)
                    rr.log(f"{entity}/color", rr.Image(img[..., ::-1] if m.encoding == "bgr8" else img))
            elif kind == "sensor_msgs/msg/CameraInfo":
                rr.log(f"{_frame_paths(parents, m.header.frame_id)}/image", rr.Pinhole(
                    image_from_camera=np.reshape(m.k, (3, 3)), resolution=[m.width, m.height],
                    camera_xyz=rr.ViewCoordinates.RDF), static=True)
            elif kind == "dexmv_msgs/msg/HandPose":
                kp = np.array([[p.x, p.y, p.z] for p in m.keypoints], dtype=float).reshape(-1, 3)
                if len(kp) == 21:
                    log_hand(rr, f"{_frame_paths(parents, m.header.frame_id)}/hand", kp)
            elif kind == "dexmv_msgs/msg/ObjectPoseArray":
                for o in m.objects:
                    p, q = o.pose.position, o.pose.orientation
                    matrix = np.eye(4)
                    matrix[:3, :3] = Rotation.from_quat([q.x, q.y, q.z, q.w]).as_matrix()
                    matrix[:3, 3] = [p.x, p.y, p.z]
                    prefix = "sim_" if "sim" in msg.topic else ""
                    log_object(rr, prefix + o.object_id, matrix)
            elif kind == "sensor_msgs/msg/JointState" and msg.topic == "/adroit/joint_states":
                robot = robot or RobotHand()
                robot.log(rr, dict(zip(m.name, m.position, strict=False)))
    return count


HANDLED = {"tf2_msgs/msg/TFMessage", "sensor_msgs/msg/Image", "sensor_msgs/msg/CameraInfo", "dexmv_msgs/msg/HandPose",
           "dexmv_msgs/msg/ObjectPoseArray", "sensor_msgs/msg/JointState"}
