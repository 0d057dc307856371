"""Test peer, run as its own OS process: echoes DexMV messages back and serves ResetEpisode.

  /echo_peer/hand_pose_in  -> /echo_peer/hand_pose_out   (dexmv_msgs/HandPose, unchanged)
  /echo_peer/objects_in    -> /echo_peer/objects_out     (dexmv_msgs/ObjectPoseArray, unchanged)
  /echo_peer/reset_episode (dexmv_msgs/ResetEpisode): success for task names with a '-' or known
  names, a message that repeats task and seed.
"""

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node

from dexmv_msgs.msg import HandPose, ObjectPoseArray
from dexmv_msgs.srv import ResetEpisode


class EchoPeer(Node):
    def __init__(self) -> None:
        super().__init__("echo_peer")
        hand_out = self.create_publisher(HandPose, "/echo_peer/hand_pose_out", 10)
        objects_out = self.create_publisher(ObjectPoseArray, "/echo_peer/objects_out", 10)
        self.create_subscription(HandPose, "/echo_peer/hand_pose_in", hand_out.publish, 10)
        self.create_subscription(ObjectPoseArray, "/echo_peer/objects_in", objects_out.publish, 10)
        self.create_service(ResetEpisode, "/echo_peer/reset_episode", self._reset)
        self.get_logger().info("echo peer ready")

    def _reset(self, request: ResetEpisode.Request, response: ResetEpisode.Response) -> ResetEpisode.Response:
        response.success = request.task in ("pour", "place_inside") or request.task.startswith("relocate-")
        response.task = request.task
        response.message = f"task={request.task} seed={request.seed}"
        return response


def main() -> None:
    rclpy.init()
    node = EchoPeer()
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
