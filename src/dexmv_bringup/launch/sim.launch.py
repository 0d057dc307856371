"""The simulated task alone: sim_node follows /adroit/joint_targets from any publisher (your node, a policy).

    ros2 launch dexmv_bringup sim.launch.py task:=pour seed:=3
"""

from dexmv_bringup.launch_actions import RVIZ_ARGUMENT, describe
from dexmv_bringup.launch_graph import sim_graph

ARGUMENTS = [
    ("task", "relocate-mustard_bottle", "task to simulate (`dexmv sim tasks`)"),
    ("seed", "0", "seed of the first episode"),
    RVIZ_ARGUMENT,
]


def generate_launch_description():
    return describe(ARGUMENTS, sim_graph)
