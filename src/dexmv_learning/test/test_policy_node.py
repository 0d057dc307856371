"""policy_node drives sim_node over real DDS: it builds the observation from /adroit/joint_states,
/dexmv/sim/object_poses and the target's TF, and the hand follows the joint targets it publishes;
a corrupt checkpoint is a one-line error."""

import numpy as np
import torch
from sensor_msgs.msg import JointState

from dexmv_learning.algos.policy import GaussianMLPPolicy
from dexmv_learning.training.checkpoint import save_checkpoint
from dexmv_learning.training.config import resolve
from dexmv_sim.adroit import ADROIT_JOINTS

TASK = "relocate-tomato_soup_can"


def constant_policy_run(folder, action):
    """A run folder whose policy outputs `action` whatever it observes."""
    policy = GaussianMLPPolicy(39, 30, (32, 32), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        policy.mean_net[-1].weight.zero_()
        policy.mean_net[-1].bias.copy_(torch.as_tensor(action, dtype=torch.float32))
    save_checkpoint(folder / "checkpoints" / "iter_000001.pt",
                    {"iteration": 1, "config": resolve(TASK, "rl", 0), "policy_arch": policy.architecture(),
                     "policy": policy.state_dict()})
    return folder


class Latest:
    def __init__(self):
        self.msg, self.count = None, 0

    def __call__(self, msg):
        self.msg, self.count = msg, self.count + 1


def test_policy_node_drives_sim_node(tmp_path, ros_node, spin_until, run_node):
    from dexmv_sim.simulation import TaskSimulation

    action = np.zeros(30)
    action[ADROIT_JOINTS.index("ARTz")] = 0.5
    action[ADROIT_JOINTS.index("FFJ2")] = 0.6
    run = constant_policy_run(tmp_path / "run", action)
    expected = TaskSimulation(TASK).actions.to_targets(action)
    sim = run_node("dexmv_sim", "sim_node", params={"task": TASK, "seed": 2})
    policy = run_node("dexmv_learning", "policy_node", params={"run": str(run)})
    targets, joints = Latest(), Latest()
    ros_node.create_subscription(JointState, "/adroit/joint_targets", targets, 10)
    ros_node.create_subscription(JointState, "/adroit/joint_states", joints, 10)
    assert spin_until(ros_node, lambda: targets.count >= 20, timeout=60), \
        f"no joint targets:\n{policy.output()}\n{sim.output()}"
    assert list(targets.msg.name) == list(ADROIT_JOINTS)
    np.testing.assert_allclose(targets.msg.position, expected, atol=1e-5)
    z, ff = ADROIT_JOINTS.index("ARTz"), ADROIT_JOINTS.index("FFJ2")

    def followed():
        if joints.msg is None:  # the joint-state subscription may match after the targets' one
            return False
        q = joints.msg.position
        return abs(q[z] - expected[z]) < 0.02 and abs(q[ff] - expected[ff]) < 0.05

    assert spin_until(ros_node, followed, timeout=20), \
        "no joint states" if joints.msg is None else f"hand at {joints.msg.position[z]}, {joints.msg.position[ff]}"
    assert policy.interrupt() == 0 and "Traceback" not in policy.output()
    assert sim.interrupt() == 0


def test_policy_node_corrupt_checkpoint_is_one_line(tmp_path, run_node):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage")
    proc = run_node("dexmv_learning", "policy_node", params={"run": str(bad)})
    assert proc.proc.wait(timeout=60) == 1
    out = proc.output()
    assert "Traceback" not in out
    errors = [line for line in out.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "not a readable checkpoint" in errors[0], out
