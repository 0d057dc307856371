"""Two RealSense cameras (live or a recording) through perception and retargeting into the simulated hand.

    ros2 launch dexmv_bringup capture.launch.py                      # two live D435s
    ros2 launch dexmv_bringup capture.launch.py recording:=demo-output/recording perception:=false
    dexmv launch capture.launch.py recording:=... record:=true       # the same without ros2cli

Nodes: camera_node x2 (camera1, camera2), extrinsics_publisher, perception_node, retarget_node,
sim_node, recorder_node (record:=true), RViz (rviz:=auto). Parameters: config/*.yaml of this
package; the arguments below override some of them.
"""

from dexmv_bringup.launch_actions import RVIZ_ARGUMENT, describe
from dexmv_bringup.launch_graph import capture_graph

# name, default, description: `ros2 launch dexmv_bringup capture.launch.py --show-args` prints them.
ARGUMENTS = [
    ("recording", "", "folder of a two-camera recording (camera1.db3, camera2.db3, extrinsics.yaml: `dexmv synth` "
                      "or `dexmv recording` output); empty: live cameras"),
    ("real_time", "true", "recording: play at the recorded rate (false: as fast as possible)"),
    ("wait_for_subscribers", "0", "recording: play once each camera's image topics have this many subscribers "
                                  "(so that a recorder or perception sees the first frame)"),
    ("serial_no1", "", "live: serial number of camera1 ('' = the first device found)"),
    ("serial_no2", "", "live: serial number of camera2"),
    ("extrinsics_file", "", "rig YAML (`dexmv calibrate`); empty: the recording's extrinsics.yaml, else the "
                            "packaged nominal layout"),
    ("perception", "true", "run perception_node (hand and object poses from both cameras)"),
    ("retarget", "true", "run retarget_node (/dexmv/hand_pose -> /adroit/joint_targets)"),
    ("sim", "true", "run sim_node: the simulated Adroit hand mirrors the human's"),
    ("task", "relocate-mustard_bottle", "task of the simulation (`dexmv sim tasks`)"),
    ("seed", "0", "seed of the simulation's first episode"),
    ("record", "false", "run recorder_node (dexmv_learning): topics into a rosbag2 folder"),
    ("record_dir", "bags", "recorder: folder the bags are written under"),
    ("record_images", "false", "recorder: also record the camera images (large)"),
    RVIZ_ARGUMENT,
]


def generate_launch_description():
    return describe(ARGUMENTS, capture_graph)
