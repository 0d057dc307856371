"""A trained policy driving the simulated hand: sim_node and dexmv_learning's policy_node.

    ros2 launch dexmv_bringup deploy.launch.py run:=runs/dapg-relocate task:=relocate-mustard_bottle
"""

from dexmv_bringup.launch_actions import RVIZ_ARGUMENT, describe
from dexmv_bringup.launch_graph import deploy_graph

ARGUMENTS = [
    ("run", "", "training run folder or checkpoint written by `dexmv train`; required"),
    ("task", "relocate-mustard_bottle", "task to simulate: the one the policy was trained on"),
    ("seed", "0", "seed of the first episode"),
    ("horizon", "200", "control steps per episode (DexMV's 200); each result on /dexmv/sim/episode_result, then "
                       "the next seed; 0: one endless episode"),
    RVIZ_ARGUMENT,
]


def generate_launch_description():
    return describe(ARGUMENTS, deploy_graph)
