"""Run a trained policy as a ROS 2 node against the simulator (or a robot with the same topics).

Subscribes:
  /adroit/joint_states (sensor_msgs/JointState): the hand's 30 joint positions, by name.
  /dexmv/sim/object_poses (dexmv_msgs/ObjectPoseArray): the task's objects in `world`.
  /tf (tf2_msgs/TFMessage): world -> sim/target, the relocate target (sim_node publishes it).
Publishes:
  /adroit/joint_targets (sensor_msgs/JointState): the policy's action as 30 named joint position
    targets, at `rate` Hz, once joint states, object poses (and the target) have arrived.
Parameters:
  run (required): a `dexmv train` run folder (latest checkpoint) or a checkpoint file.
  task: the task the observation is built for (default: the run's).
  rate: control rate in Hz (default 100, the simulator's).
  deterministic: mean action (default true, as evaluation) or sampled with the policy's noise.
A missing, corrupt or foreign checkpoint is one error line and exit code 1.
"""

from dexmv_runtime.node_main import quiet_interrupts, run_node

quiet_interrupts()

import sys  # noqa: E402

import numpy as np  # noqa: E402
from rcl_interfaces.msg import ParameterDescriptor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402
from tf2_msgs.msg import TFMessage  # noqa: E402

from dexmv_learning.deployment import DeployedPolicy, PolicyInputError  # noqa: E402
from dexmv_learning.training.checkpoint import CheckpointError  # noqa: E402
from dexmv_msgs.msg import ObjectPoseArray  # noqa: E402

RELIABLE_10 = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
TF_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
TARGET_FRAME = "sim/target"


class PolicyNode(Node):
    def __init__(self) -> None:
        super().__init__("policy_node")
        d = ParameterDescriptor
        run = self.declare_parameter("run", "", d(description="run folder or checkpoint file")).value
        task = self.declare_parameter("task", "", d(description="task (default: the run's)")).value
        rate = float(self.declare_parameter("rate", 100.0, d(description="control rate, Hz")).value)
        deterministic = bool(self.declare_parameter(
            "deterministic", True, d(description="mean action (true) or sampled")).value)
        if not run:
            raise CheckpointError("parameter 'run' is empty: give a run folder or checkpoint (-p run:=PATH)")
        if not 0.1 <= rate <= 1000.0:
            raise CheckpointError(f"parameter 'rate' must be in 0.1..1000 Hz, got {rate}")
        self.policy = DeployedPolicy(run, task or None, deterministic)
        self.joints: JointState | None = None
        self.poses: dict[str, np.ndarray] = {}
        self.target: np.ndarray | None = None
        self.published = 0
        self.pub = self.create_publisher(JointState, "/adroit/joint_targets", RELIABLE_10)
        self.create_subscription(JointState, "/adroit/joint_states", self._on_joints, RELIABLE_10)
        self.create_subscription(ObjectPoseArray, "/dexmv/sim/object_poses", self._on_poses, RELIABLE_10)
        self.create_subscription(TFMessage, "/tf", self._on_tf, TF_QOS)
        self.timer = self.create_timer(1.0 / rate, self.tick)
        self.get_logger().info(f"policy {self.policy.checkpoint} ({self.policy.config.get('algo')}) on "
                               f"{self.policy.task_id} at {rate:g} Hz")

    def _on_joints(self, msg: JointState) -> None:
        self.joints = msg

    def _on_poses(self, msg: ObjectPoseArray) -> None:
        for obj in msg.objects:
            p, q = obj.pose.position, obj.pose.orientation
            self.poses[obj.object_id] = np.array([p.x, p.y, p.z, q.w, q.x, q.y, q.z])

    def _on_tf(self, msg: TFMessage) -> None:
        for t in msg.transforms:
            if t.child_frame_id == TARGET_FRAME and t.header.frame_id == "world":
                v = t.transform.translation
                self.target = np.array([v.x, v.y, v.z])

    def tick(self) -> None:
        if self.joints is None:
            return
        try:
            obs = self.policy.observation(self.joints.name, self.joints.position, self.poses, self.target)
        except PolicyInputError as err:
            self.get_logger().info(f"waiting: {err}", throttle_duration_sec=2.0)
            return
        targets = self.policy.targets(obs)
        msg = JointState(name=self.policy.joint_names, position=targets.tolist())
        msg.header.stamp = self.get_clock().now().to_msg()
        self.pub.publish(msg)
        self.published += 1
        if self.published == 1:
            self.get_logger().info("publishing joint targets")


def main(args: list[str] | None = None) -> int:
    return run_node(PolicyNode, name="policy_node", args=args, startup_errors=(CheckpointError, ValueError))


if __name__ == "__main__":
    sys.exit(main())
