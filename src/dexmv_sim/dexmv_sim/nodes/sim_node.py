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
  /clock (rosgraph_msgs/Clock) when real_time is false (stepping as fast as the CPU allows) or
    use_sim_time is true: simulation time, monotonic across resets (it continues from where the
    previous episode ended; MuJoCo's own time restarts at 0 every episode). Message stamps are then
    simulation time; otherwise (real time, use_sim_time false) they are the ROS clock's.
  /dexmv/sim/episode (std_msgs/String, reliable + transient local): one JSON object per episode,
    {"episode", "task", "seed", "start_time"}: how episodes are marked on the monotonic clock.
  /dexmv/sim/episode_result (std_msgs/String, reliable + transient local, depth 100), with a
    `horizon`: one JSON object per finished episode, {"episode", "task", "seed", "steps", "success",
    "score"}: the task's own success and score (relocate: object within 0.1 m of the target;
    pour: fraction poured; place_inside: inside score) after `horizon` control steps, as
    `dexmv eval` counts them; the next episode then starts with the next seed.
  /diagnostics (diagnostic_msgs/DiagnosticArray), once a second: achieved control rate (WARN when a
    real-time node steps below 95 % of 100 Hz, e.g. pour on a slow CPU), sim time, episode, the
    task's current success and score, and rejected /adroit/joint_targets messages counted per reason.
Services:
  /dexmv/sim/reset_episode (dexmv_msgs/srv/ResetEpisode): new episode of a task (empty: the current
    one) from a seed (>= 0). A failed reset (unknown task, bad seed) changes nothing.
Parameters: task, seed, real_time, publish_every, publish_hand_tf, mesh_dir, horizon (see
declarations), and ROS's use_sim_time.
"""

from __future__ import annotations

from dexmv_runtime.node_main import exit_with, interrupted, quiet_interrupts, run_node, spin_until_interrupted

quiet_interrupts()  # a Ctrl-C while MuJoCo loads exits quietly

import json  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402

import numpy as np  # noqa: E402
import rclpy  # noqa: E402
from builtin_interfaces.msg import Time  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue  # noqa: E402
from geometry_msgs.msg import Point, TransformStamped  # noqa: E402
from rcl_interfaces.msg import ParameterDescriptor  # noqa: E402
from rclpy.clock import Clock as RosClock  # noqa: E402
from rclpy.clock import ClockType  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data  # noqa: E402
from rosgraph_msgs.msg import Clock  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402
from std_msgs.msg import ColorRGBA, String  # noqa: E402
from tf2_msgs.msg import TFMessage  # noqa: E402
from visualization_msgs.msg import Marker, MarkerArray  # noqa: E402

from dexmv_msgs.msg import ObjectPose, ObjectPoseArray  # noqa: E402
from dexmv_msgs.srv import ResetEpisode  # noqa: E402
from dexmv_sim.actions import ActionError  # noqa: E402
from dexmv_sim.adroit import ADROIT_JOINTS, FOREARM_BODY  # noqa: E402
from dexmv_sim.objects import OBJECT_IDS  # noqa: E402
from dexmv_sim.scene import CONTROL_DT  # noqa: E402
from dexmv_sim.scene_geometry import VisualGeom, visual_geometry  # noqa: E402
from dexmv_sim.simulation import TaskSimulation  # noqa: E402
from dexmv_sim.tasks import TASK_IDS, TaskOptionError  # noqa: E402

FRAME_PREFIX = "sim/"
MARKER_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
STATE_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
# Episode results: every one kept for late joiners (a 2 s episode can end before a subscriber matches).
RESULT_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
TF_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
WATER_PREFIX = "water/"
DIAGNOSTICS_PERIOD = 1.0  # s, wall clock
RATE_WARN_FRACTION = 0.95  # a real-time node below this share of 100 Hz says so
LOG_EVERY = 2.0  # s, per rejection reason


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
        self.seed = int(self.declare_parameter("seed", 0, d(description="seed of the first episode (>= 0)")).value)
        self.real_time = bool(self.declare_parameter(
            "real_time", True, d(description="step at 100 Hz wall time (true) or as fast as possible, "
                                             "publishing /clock (false)")).value)
        self.publish_every = max(1, int(self.declare_parameter(
            "publish_every", 1, d(description="publish states every N control steps (100 Hz / N)")).value))
        self.publish_hand_tf = bool(self.declare_parameter(
            "publish_hand_tf", True, d(description="publish world -> sim/<hand body> TF (false when "
                                                   "robot_state_publisher draws the URDF)")).value)
        self.horizon = int(self.declare_parameter(
            "horizon", 0, d(description="control steps per episode (DexMV: 200); each finished episode's "
                                        "success and score go to /dexmv/sim/episode_result and the next "
                                        "starts with the next seed (0: one endless episode)")).value)
        if self.horizon < 0:
            raise ValueError(f"horizon: must be >= 0 control steps, got {self.horizon}")
        mesh_dir = self.declare_parameter("mesh_dir", "", d(description="folder of real YCB meshes "
                                                                        "(empty: primitive objects)")).value
        self.mesh_dir = mesh_dir or None
        # simulation time on stamps and /clock: always when not real time, and when ROS says so
        self.sim_time_stamps = not self.real_time or bool(self.get_parameter("use_sim_time").value)
        self.joint_pub = self.create_publisher(JointState, "/adroit/joint_states", STATE_QOS)
        self.pose_pub = self.create_publisher(ObjectPoseArray, "/dexmv/sim/object_poses", STATE_QOS)
        self.tf_pub = self.create_publisher(TFMessage, "/tf", TF_QOS)
        self.marker_pub = self.create_publisher(MarkerArray, "/dexmv/markers", MARKER_QOS)
        self.episode_pub = self.create_publisher(String, "/dexmv/sim/episode", MARKER_QOS)
        self.result_pub = self.create_publisher(String, "/dexmv/sim/episode_result", RESULT_QOS)
        self.episode_steps = 0
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.water_pub = None  # made when a task has water (pour)
        self.clock_pub = self.create_publisher(Clock, "/clock", 10) if self.sim_time_stamps else None
        self.create_subscription(JointState, "/adroit/joint_targets", self._on_targets, qos_profile_sensor_data)
        self.create_service(ResetEpisode, "/dexmv/sim/reset_episode", self._on_reset)
        self.rejected: Counter[str] = Counter()
        self._last_logged: dict[str, float] = {}
        self.episode = 0
        self._time_base = 0.0  # simulation time at which the current episode started
        self.sim: TaskSimulation | None = None
        self._start(self.task_id, self.seed)
        self._ticks = 0
        self._rate_window = (time.monotonic(), 0)
        self.achieved_hz = 0.0
        self._warned_rate = False
        # wall-clock timers on the steady clock: with use_sim_time the ROS clock is our own /clock
        steady = RosClock(clock_type=ClockType.STEADY_TIME)
        self.timer = self.create_timer(CONTROL_DT, self.tick, clock=steady) if self.real_time else None
        self.create_timer(DIAGNOSTICS_PERIOD, self.publish_diagnostics, clock=steady)
        self.get_logger().info(f"simulating {self.sim.task.describe()} "
                               f"({'real time' if self.real_time else 'as fast as possible, /clock'})")

    # ------------------------------------------------------------------ episode
    def _start(self, task_id: str, seed: int) -> None:
        """Start an episode; raises (changing nothing) on an unknown task or a bad seed."""
        if seed < 0:
            raise ValueError(f"seed: must be >= 0, got {seed}")
        rng = np.random.default_rng(seed)
        sim = self.sim
        if sim is None or sim.task_id != task_id:
            try:
                sim = TaskSimulation(task_id, mesh_dir=self.mesh_dir)
            except TaskOptionError as err:
                raise TaskOptionError(f"task: {err}") from err
        ended_at = self.sim_time() if self.sim is not None else 0.0  # before a reset of the same sim zeroes it
        sim.reset(rng)  # validated above: nothing below fails for a good task and seed
        if self.sim is not None:
            self._time_base = ended_at
            self.episode += 1
        if sim is not self.sim:
            self.sim = sim
            model = sim.model
            forearm = model.body(FOREARM_BODY).id
            self._hand_bodies = [b for b in range(1, model.nbody) if self._under(b, forearm)]
            names = [model.body(b).name for b in range(model.nbody)]
            self._object_bodies = [(n, i) for i, n in enumerate(names) if n in OBJECT_IDS]
            self._other_bodies = [b for b in range(1, model.nbody) if b not in self._hand_bodies
                                  and not names[b].startswith(WATER_PREFIX)]
            self._water = [i for i, n in enumerate(names) if n.startswith(WATER_PREFIX)]
            self._geometry = visual_geometry(model, skip_bodies=(WATER_PREFIX,))
        self.task_id, self.seed = task_id, seed
        self.targets = self.sim.targets
        self.episode_steps = 0
        self.episode_pub.publish(String(data=json.dumps({"episode": self.episode, "task": task_id, "seed": seed,
                                                         "start_time": round(self._time_base, 6)})))
        self.marker_pub.publish(geometry_markers(self._geometry, self.now()))
        self.publish()

    def _under(self, body: int, root: int) -> bool:
        while body > 0:
            if body == root:
                return True
            body = self.sim.model.body_parentid[body]
        return False

    def sim_time(self) -> float:
        """Simulation time since the node started, across episodes (monotonic)."""
        return self._time_base + float(self.sim.data.time)

    def now(self) -> Time:
        if self.sim_time_stamps:
            return _stamp(self.sim_time())
        return self.get_clock().now().to_msg()

    # ------------------------------------------------------------------ callbacks
    def _on_targets(self, msg: JointState) -> None:
        try:
            self.targets = self.sim.actions.named_targets(msg.name, msg.position, self.targets)
        except ActionError as err:
            self._reject(err.reason, str(err))

    def _reject(self, reason: str, message: str) -> None:
        """Count a rejected message by reason; log each reason at most every LOG_EVERY seconds."""
        self.rejected[reason] += 1
        now = time.monotonic()
        if now - self._last_logged.get(reason, -np.inf) >= LOG_EVERY:
            self._last_logged[reason] = now
            self.get_logger().warning(f"/adroit/joint_targets ignored ({reason}, {self.rejected[reason]} so far): "
                                      f"{message}")

    def _on_reset(self, request: ResetEpisode.Request, response: ResetEpisode.Response) -> ResetEpisode.Response:
        task = request.task or self.task_id
        try:
            self._start(task, int(request.seed))
        except (TaskOptionError, ValueError) as err:
            response.success, response.message, response.task = False, str(err), self.task_id
            self.get_logger().warning(f"reset refused, still running {self.task_id}: {err}")
            return response
        response.success, response.task = True, self.task_id
        response.message = (f"{self.sim.task.describe()}; episode {self.episode} starts at sim time "
                            f"{self._time_base:.3f} s")
        self.get_logger().info(f"reset: {response.message} (seed {request.seed})")
        return response

    def tick(self) -> None:
        self.sim.step_targets(self.targets)
        self._ticks += 1
        self.episode_steps += 1
        if self.horizon and self.episode_steps >= self.horizon:
            self._finish_episode()
            return
        if self.clock_pub is not None:
            self.clock_pub.publish(Clock(clock=_stamp(self.sim_time())))
        if self.sim.steps % self.publish_every == 0:
            self.publish()

    def _finish_episode(self) -> None:
        """The episode's result (the task's success and score at its last step), then the next episode."""
        result = self.sim.evaluate()
        record = {"episode": self.episode, "task": self.task_id, "seed": self.seed, "steps": self.episode_steps,
                  "success": bool(result.success), "score": round(float(result.score), 6)}
        self.result_pub.publish(String(data=json.dumps(record)))
        self.get_logger().info(f"episode {self.episode} ({self.task_id}, seed {self.seed}) ended after "
                               f"{self.episode_steps} steps: success={record['success']} score={record['score']:.3f}")
        self._start(self.task_id, self.seed + 1)

    def publish_diagnostics(self) -> None:
        """Achieved control rate, episode and rejections on /diagnostics (once a second)."""
        now = time.monotonic()
        start, ticks = self._rate_window
        if now - start <= 0:
            return
        self.achieved_hz = (self._ticks - ticks) / (now - start)
        self._rate_window = (now, self._ticks)
        target = 1.0 / CONTROL_DT
        status = DiagnosticStatus(name="sim_node: simulation", hardware_id="dexmv_sim", level=DiagnosticStatus.OK)
        if self.real_time and self.achieved_hz < RATE_WARN_FRACTION * target:
            status.level = DiagnosticStatus.WARN
            status.message = (f"cannot keep real time: {self.achieved_hz:.0f} Hz of {target:.0f} Hz "
                              f"(real-time factor {self.achieved_hz / target:.2f})")
            if not self._warned_rate:
                self._warned_rate = True
                self.get_logger().warning(f"{self.task_id}: {status.message}; sim time runs slower than wall time")
        else:
            mode = "real time" if self.real_time else "as fast as possible"
            status.message = f"{self.achieved_hz:.0f} Hz ({mode})"
        current = self.sim.evaluate()
        values = {"task": self.task_id, "episode": self.episode, "seed": self.seed,
                  "sim_time": f"{self.sim_time():.3f}", "episode_steps": self.episode_steps,
                  "success": bool(current.success), "score": f"{current.score:.3f}",
                  "achieved_rate_hz": f"{self.achieved_hz:.1f}",
                  "target_rate_hz": f"{target:.0f}" if self.real_time else "max",
                  "rejected_total": sum(self.rejected.values())}
        values.update({f"rejected/{reason}": count for reason, count in sorted(self.rejected.items())})
        status.values = [KeyValue(key=k, value=str(v)) for k, v in values.items()]
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.now()
        self.diagnostics_pub.publish(array)

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



def _spin(executor, node: SimNode) -> None:
    """Real time: the executor's timers step the simulation. Otherwise step as fast as possible,
    serving callbacks (targets, resets, diagnostics) between steps."""
    executor.add_node(node)
    if node.real_time:
        spin_until_interrupted(executor)
        return
    while rclpy.ok() and not interrupted():
        executor.spin_once(timeout_sec=0.0)
        node.tick()


def main(args: list[str] | None = None) -> int:
    return run_node(SimNode, name="sim_node", args=args, startup_errors=(TaskOptionError, ValueError, RuntimeError),
                    spin=_spin)


if __name__ == "__main__":
    exit_with(main())
