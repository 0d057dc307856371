"""Two RealSense cameras (live or a recording) through perception and retargeting into the simulated hand.

    ros2 launch dexmv_bringup capture.launch.py                      # two live D435s
    ros2 launch dexmv_bringup capture.launch.py recording:=demo-output/recording perception:=false
    dexmv launch capture.launch.py recording:=... record:=true       # the same without ros2cli
    dexmv launch capture.launch.py recording:=... rate:=0.1 start_time:=2026-12-04T09:00:00Z time_origin_ms:=0

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
    ("rate", "1.0", "recording, real_time: playback speed, as `ros2 bag play --rate` (0.1: a tenth of real time, "
                    "for a perception slower than the cameras); stamps keep the recorded timeline"),
    ("start_time", "", "recording: ROS time (integer ns or ISO 8601 with a zone) at which time_origin_ms plays, "
                       "the same for both cameras, so their frames pair by stamp; empty: each camera's clock at "
                       "its first frame"),
    ("time_origin_ms", "", "recording: the recorded timestamp (ms) that plays at start_time, the same for both "
                           "cameras; empty: each recording's first frame"),
    ("exit_at_end", "false", "recording: each camera node exits (0) at the end of its recording; the other nodes "
                             "run on until Ctrl-C"),
    ("serial_no1", "", "live: serial number of camera1 ('' = the first device found)"),
    ("serial_no2", "", "live: serial number of camera2"),
    ("extrinsics_file", "", "rig YAML (`dexmv calibrate`); empty: the recording's extrinsics.yaml, else the "
                            "packaged nominal layout"),
    ("perception", "true", "run perception_node (hand and object poses from both cameras)"),
    ("objects", "", "perception: comma-separated YCB ids of the objects on the table, id:scale for a scaled "
                    "one (e.g. 006_mustard_bottle,005_tomato_soup_can:1.2); empty: the hand only"),
    ("retarget", "true", "run retarget_node (/dexmv/hand_pose -> /adroit/joint_targets)"),
    ("sim", "true", "run sim_node: the simulated Adroit hand mirrors the human's"),
    ("task", "relocate-mustard_bottle", "task of the simulation (`dexmv sim tasks`)"),
    ("seed", "0", "seed of the simulation's first episode"),
    ("record", "false", "run recorder_node (dexmv_learning): topics into a rosbag2 folder"),
    ("record_dir", "bags", "recorder: folder the bags are written under"),
    ("record_output", "", "recorder: the bag's folder itself (empty: a new dexmv_<time> folder under record_dir)"),
    ("record_images", "false", "recorder: also record the camera images (large)"),
    ("params_file", "", "YAML file of <node>: {ros__parameters: ...} sections applied to every node after "
                        "config/ (the arguments above still win); empty: none"),
    RVIZ_ARGUMENT,
]


def generate_launch_description():
    return describe(ARGUMENTS, capture_graph)
