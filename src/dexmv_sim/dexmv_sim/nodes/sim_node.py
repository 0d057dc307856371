"""Run a DexMV task in MuJoCo as a ROS 2 node.

Subscribes:
  /adroit/joint_targets (sensor_msgs/JointState): position targets by joint name (any subset of
    the 30 Adroit joints; the others keep their targets). Best-effort, depth 1: the latest command
    wins, and publishers of either reliability connect. A policy's normalized actions map onto the
    same targets with dexmv_sim.actions.ActionMap (to_targets), so a policy node publishes here too.
Publishes (every `publish_every` control steps):
  /adroit/joint_states (sensor_msgs/JointState): 30 joints, position, velocity, actuator force.
  /dexmv/sim/object_poses (dexmv_msgs/ObjectPoseArray): the task's YCB objects in `world`.
  /tf (tf2_msgs/TFMessage): world -> sim/<body> for hand bodies (unless publish_hand_tf is false:
    then robot_state_publisher with the exported URDF draws the hand) and objects.
  /dexmv/markers (visualization_msgs/MarkerArray, namespace "sim"): the scene's geometry (hand
    meshes, objects, table) frame-locked to the sim/<body> frames; reliable + transient local, so
    RViz started later still gets it; republished on every reset. Pour's water particles come as
    one sphere list in `world` (namespace "sim/water") with every publication.
  /clock (rosgraph_msgs/Clock) when real_time is false: simulation time, stepping as fast as the
    CPU allows; message stamps are then simulation time.
Services:
  /dexmv/sim/reset_episode (dexmv_msgs/srv/ResetEpisode): new episode of a task (empty: the current
    one) from a seed.
Parameters: task, seed, real_time, publish_every, publish_hand_tf, mesh_dir (see declarations).
"""

from __future__ import annotations

import sys
import time

import numpy as np
import rclpy
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point, TransformStamped
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import JointState
from std_msgs.msg import ColorRGBA
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import Marker, MarkerArray

from dexmv_msgs.msg import ObjectPose, ObjectPoseArray
from dexmv_msgs.srv import ResetEpisode
from dexmv_sim.actions import ActionError
from dexmv_sim.adroit import ADROIT_JOINTS, FOREARM_BODY
from dexmv_sim.objects import OBJECT_IDS
from dexmv_sim.scene import CONTROL_DT
from dexmv_sim.scene_geometry import VisualGeom, visual_geometry
from dexmv_sim.simulation import TaskSimulation
from dexmv_sim.tasks import TASK_IDS, TaskOptionError

FRAME_PREFIX = "sim/"
MARKER_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
STATE_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
TF_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
WATER_PREFIX = "water/"


def _stamp(seconds: float) -> Time:
    sec = int(seconds)
    return Time(sec=sec, nanosec=round((seconds - sec) * 1e9))


def geometry_markers(geoms: list[VisualGeom], stamp: Time) -> MarkerArray:
    """One frame-locked marker per visual geom (capsules as a cylinder and two spheres)."""
    out = MarkerArray()
    out.markers.append(Marker(ns="sim", action=Marker.DELETEALL))
    mid = 0
    for g in geoms:
        parts: list[tuple[int, np.ndarray, np.ndarray, tuple[float, float, float]]] = []
        s = g.size
        if g.kind == "box":
            parts.append((Marker.CUBE, g.pos, g.quat, (2 * s[0], 2 * s[1], 2 * s[2])))
        elif g.kind == "sphere":
            parts.append((Marker.SPHERE, g.pos, g.quat, (2 * s[0],) * 3))
        elif g.kind == "ellipsoid":
            parts.append((Marker.SPHERE, g.pos, g.quat, (2 * s[0], 2 * s[1], 2 * s[2])))
        elif g.kind == "cylinder":
            parts.append((Marker.CYLINDER, g.pos, g.quat, (2 * s[0], 2 * s[0], 2 * s[1])))
        elif g.kind == "capsule":
            from dexmv_sim.scene_geometry import quat_to_mat

            axis = quat_to_mat(g.quat)[:, 2] * s[1]
            parts.append((Marker.CYLINDER, g.pos, g.quat, (2 * s[0], 2 * s[0], 2 * s[1])))
            parts.append((Marker.SPHERE, g.pos + axis, g.quat, (2 * s[0],) * 3))
            parts.append((Marker.SPHERE, g.pos - axis, g.quat, (2 * s[0],) * 3))
        elif g.kind == "plane":
            parts.append((Marker.CUBE, g.pos, g.quat, (2 * s[0], 2 * s[1], 0.001)))
        elif g.kind == "mesh":
            parts.append((Marker.MESH_RESOURCE, g.pos, g.quat, g.mesh_scale))
        for kind, pos, quat, scale in parts:
            m = Marker(ns="sim", id=mid, type=kind, action=Marker.ADD, frame_locked=True)
            mid += 1
            m.header.frame_id = "world" if g.body == "world" else FRAME_PREFIX + g.body
            m.header.stamp = stamp
            m.pose.position.x, m.pose.position.y, m.pose.position.z = (float(v) for v in pos)
            m.pose.orientation.w, m.pose.orientation.x, m.pose.orientation.y, m.pose.orientation.z = (
                float(v) for v in quat)
            m.scale.x, m.scale.y, m.scale.z = (float(v) for v in scale)
            m.color = ColorRGBA(r=g.rgba[0], g=g.rgba[1], b=g.rgba[2], a=g.rgba[3])
            if kind == Marker.MESH_RESOURCE:
                m.mesh_resource = g.mesh_file.resolve().as_uri()
                m.mesh_use_embedded_materials = False
            out.markers.append(m)
    return out


class SimNode(Node):
    def __init__(self) -> None:
        super().__init__("sim_node")
        d = ParameterDescriptor
        self.task_id = self.declare_parameter(
            "task", "relocate-mustard_bottle", d(description=f"task to run: one of {', '.join(TASK_IDS)}")).value
        self.seed = int(self.declare_parameter("seed", 0, d(description="seed of the first episode")).value)
        self.real_time = bool(self.declare_parameter(
            "real_time", True, d(description="step at 100 Hz wall time (true) or as fast as possible, "
                                             "publishing /clock (false)")).value)
        self.publish_every = max(1, int(self.declare_parameter(
            "publish_every", 1, d(description="publish states every N control steps (100 Hz / N)")).value))
        self.publish_hand_tf = bool(self.declare_parameter(
            "publish_hand_tf", True, d(description="publish world -> sim/<hand body> TF (false when "
                                                   "robot_state_publisher draws the URDF)")).value)
        mesh_dir = self.declare_parameter("mesh_dir", "", d(description="folder of real YCB meshes "
                                                                        "(empty: primitive objects)")).value
        self.mesh_dir = mesh_dir or None
        self.joint_pub = self.create_publisher(JointState, "/adroit/joint_states", STATE_QOS)
        self.pose_pub = self.create_publisher(ObjectPoseArray, "/dexmv/sim/object_poses", STATE_QOS)
        self.tf_pub = self.create_publisher(TFMessage, "/tf", TF_QOS)
        self.marker_pub = self.create_publisher(MarkerArray, "/dexmv/markers", MARKER_QOS)
        self.water_pub = None  # made when a task has water (pour)
        self.clock_pub = None if self.real_time else self.create_publisher(Clock, "/clock", 10)
        self.create_subscription(JointState, "/adroit/joint_targets", self._on_targets, qos_profile_sensor_data)
        self.create_service(ResetEpisode, "/dexmv/sim/reset_episode", self._on_reset)
        self._start(self.task_id, self.seed)
        self.timer = self.create_timer(CONTROL_DT, self.tick) if self.real_time else None
        self.get_logger().info(f"simulating {self.sim.task.describe()} "
                               f"({'real time' if self.real_time else 'as fast as possible, /clock'})")

    # ------------------------------------------------------------------ episode
    def _start(self, task_id: str, seed: int) -> None:
        if not hasattr(self, "sim") or self.sim.task_id != task_id:
            self.sim = TaskSimulation(task_id, mesh_dir=self.mesh_dir)
            model = self.sim.model
            forearm = model.body(FOREARM_BODY).id
            self._hand_bodies = [b for b in range(1, model.nbody) if self._under(b, forearm)]
            names = [model.body(b).name for b in range(model.nbody)]
            self._object_bodies = [(n, i) for i, n in enumerate(names) if n in OBJECT_IDS]
            self._other_bodies = [b for b in range(1, model.nbody) if b not in self._hand_bodies
                                  and not names[b].startswith(WATER_PREFIX)]
            self._water = [i for i, n in enumerate(names) if n.startswith(WATER_PREFIX)]
            self._geometry = visual_geometry(model, skip_bodies=(WATER_PREFIX,))
        self.task_id = task_id
        self.sim.reset(np.random.default_rng(seed))
        self.targets = self.sim.targets
        self.marker_pub.publish(geometry_markers(self._geometry, self.now()))
        self.publish()

    def _under(self, body: int, root: int) -> bool:
        while body > 0:
            if body == root:
                return True
            body = self.sim.model.body_parentid[body]
        return False

    def now(self) -> Time:
        if self.real_time:
            return self.get_clock().now().to_msg()
        return _stamp(float(self.sim.data.time))

    # ------------------------------------------------------------------ callbacks
    def _on_targets(self, msg: JointState) -> None:
        try:
            self.targets = self.sim.actions.named_targets(msg.name, msg.position, self.targets)
        except ActionError as err:
            self.get_logger().warning(f"/adroit/joint_targets ignored: {err}", throttle_duration_sec=2.0)

    def _on_reset(self, request: ResetEpisode.Request, response: ResetEpisode.Response) -> ResetEpisode.Response:
        task = request.task or self.task_id
        try:
            self._start(task, int(request.seed))
        except (TaskOptionError, ValueError) as err:
            response.success, response.message, response.task = False, str(err), self.task_id
            return response
        response.success, response.message, response.task = True, self.sim.task.describe(), self.task_id
        self.get_logger().info(f"reset: {response.message} (seed {request.seed})")
        return response

    def tick(self) -> None:
        self.sim.step_targets(self.targets)
        if self.clock_pub is not None:
            self.clock_pub.publish(Clock(clock=_stamp(float(self.sim.data.time))))
        if self.sim.steps % self.publish_every == 0:
            self.publish()

    # ------------------------------------------------------------------ output
    def publish(self) -> None:
        data, stamp = self.sim.data, self.now()
        joints = JointState(name=list(ADROIT_JOINTS))
        joints.header.stamp = stamp
        joints.position = data.qpos[:30].tolist()
        joints.velocity = data.qvel[:30].tolist()
        joints.effort = data.actuator_force[:30].tolist()
        self.joint_pub.publish(joints)
        poses = ObjectPoseArray()
        poses.header.stamp, poses.header.frame_id = stamp, "world"
        for name, body in self._object_bodies:
            pose = ObjectPose(object_id=name, confidence=1.0)
            pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = data.xpos[body].tolist()
            w, x, y, z = data.xquat[body].tolist()
            pose.pose.orientation.w, pose.pose.orientation.x = w, x
            pose.pose.orientation.y, pose.pose.orientation.z = y, z
            poses.objects.append(pose)
        self.pose_pub.publish(poses)
        bodies = (self._hand_bodies if self.publish_hand_tf else []) + self._other_bodies
        tf = TFMessage()
        for body in bodies:
            t = TransformStamped()
            t.header.stamp, t.header.frame_id = stamp, "world"
            t.child_frame_id = FRAME_PREFIX + self.sim.model.body(body).name
            t.transform.translation.x, t.transform.translation.y, t.transform.translation.z = data.xpos[body].tolist()
            w, x, y, z = data.xquat[body].tolist()
            t.transform.rotation.w, t.transform.rotation.x, t.transform.rotation.y, t.transform.rotation.z = w, x, y, z
            tf.transforms.append(t)
        self.tf_pub.publish(tf)
        if self._water:
            if self.water_pub is None:
                # water moves every step: a volatile publisher, so the latched sample stays the geometry
                self.water_pub = self.create_publisher(MarkerArray, "/dexmv/markers", STATE_QOS)
            water = Marker(ns="sim/water", id=0, type=Marker.SPHERE_LIST, action=Marker.ADD)
            water.header.stamp, water.header.frame_id = stamp, "world"
            water.pose.orientation.w = 1.0
            radius = float(self.sim.model.geom_size[self.sim.model.body_geomadr[self._water[0]], 0])
            water.scale.x = water.scale.y = water.scale.z = 2 * radius
            water.color = ColorRGBA(r=0.32, g=0.36, b=0.98, a=0.8)
            water.points = [Point(x=p[0], y=p[1], z=p[2]) for p in data.xpos[self._water].tolist()]
            self.water_pub.publish(MarkerArray(markers=[water]))


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args)
    # made before the node announces itself: a SIGINT right after that must not land in the
    # executor's constructor (a half-built executor prints a traceback when collected)
    executor = SingleThreadedExecutor()
    try:
        node = SimNode()
    except (TaskOptionError, ValueError, RuntimeError) as err:
        rclpy.logging.get_logger("sim_node").error(str(err))
        rclpy.try_shutdown()
        return 1
    executor.add_node(node)
    try:
        if node.real_time:
            executor.spin()
        else:
            while rclpy.ok():
                executor.spin_once(timeout_sec=0.0)
                node.tick()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except RuntimeError:
        # A SIGINT that lands while rclpy takes a message surfaces as pybind11's "Unable to
        # convert call argument". rclpy shuts the context down from its own signal thread, often
        # a moment after the interrupt: give it a second before calling this a real error.
        deadline = time.monotonic() + 1.0
        while rclpy.ok() and time.monotonic() < deadline:
            time.sleep(0.005)
        if rclpy.ok():
            raise
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
