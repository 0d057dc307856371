"""A rosbag2 recording played back into the graph, with the nodes that consume what it holds.

    ros2 launch dexmv_bringup replay.launch.py bag:=bags/capture-0001 retarget:=true
    ros2 bag play works as well where it exists; bag_player needs only the rosbags library.
"""

from dexmv_bringup.launch_actions import RVIZ_ARGUMENT, describe
from dexmv_bringup.launch_graph import replay_graph

ARGUMENTS = [
    ("bag", "", "rosbag2 folder (metadata.yaml + .mcap or .db3) to play; required"),
    ("rate", "1.0", "playback speed factor"),
    ("loop", "false", "play the bag again and again"),
    ("topics", "", "comma-separated topics to play (empty: all of them)"),
    ("wait_for_subscribers", "0", "play once every played topic has this many subscribers"),
    ("retarget", "false", "run retarget_node on the bag's /dexmv/hand_pose (leave false when the bag holds "
                          "/adroit/joint_targets already)"),
    ("sim", "true", "run sim_node following the played (or retargeted) /adroit/joint_targets"),
    ("task", "relocate-mustard_bottle", "task of the simulation"),
    ("seed", "0", "seed of the simulation's first episode"),
    RVIZ_ARGUMENT,
]


def generate_launch_description():
    return describe(ARGUMENTS, replay_graph)
