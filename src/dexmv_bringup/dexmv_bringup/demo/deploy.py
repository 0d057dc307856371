"""Demo stage: the trained policy deployed as a ROS 2 node driving the simulated hand.

sim_node (real time, 100 Hz, DexMV's 200-step episodes) and dexmv_learning's policy_node, each its
own process over DDS, as deploy.launch.py starts them. Once the policy's joint targets reach the
simulation, this process resets the simulation (its ResetEpisode service) so that one whole episode
runs under the policy, and reads that episode's result from /dexmv/sim/episode_result.
"""

from __future__ import annotations

import json
import time

from dexmv_bringup.demo.run_state import DemoRun
from dexmv_bringup.node_process import NodeProcess, interrupt_all, unclean_exits


def stage_deploy(run: DemoRun) -> str:
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import JointState
    from std_msgs.msg import String

    from dexmv_msgs.srv import ResetEpisode

    policy_run = run.need("run")
    logs = run.out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    seed = run.seed + 2000  # an episode neither training nor evaluation saw
    nodes: dict[str, NodeProcess] = {}
    context = rclpy.Context()
    results: list[dict] = []
    targets = [0]
    try:
        nodes["sim_node"] = NodeProcess.start("dexmv_sim", "sim_node", log_dir=logs, log_name="deploy_sim_node",
                                              params={"task": run.task, "seed": seed, "horizon": run.horizon})
        nodes["policy_node"] = NodeProcess.start("dexmv_learning", "policy_node", log_dir=logs,
                                                 params={"run": str(policy_run)})
        if not nodes["sim_node"].wait_for_output("simulating", run.timeout):
            raise RuntimeError(f"sim_node did not start within {run.timeout} s:\n{nodes['sim_node'].output()[-800:]}")
        rclpy.init(context=context)
        node = rclpy.create_node("dexmv_demo_deploy", context=context)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        every = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE,
                           durability=DurabilityPolicy.TRANSIENT_LOCAL)
        node.create_subscription(String, "/dexmv/sim/episode_result", lambda m: results.append(json.loads(m.data)),
                                 every)
        node.create_subscription(JointState, "/adroit/joint_targets",
                                 lambda _: targets.__setitem__(0, targets[0] + 1), 10)
        reset = node.create_client(ResetEpisode, "/dexmv/sim/reset_episode")

        def spin_until(done, timeout: float) -> bool:
            deadline = time.monotonic() + timeout
            while not done() and time.monotonic() < deadline:
                executor.spin_once(timeout_sec=0.05)
                for name, proc in nodes.items():
                    if proc.proc.poll() is not None:
                        raise RuntimeError(f"{name} exited ({proc.proc.returncode}):\n{proc.output()[-800:]}")
            return done()

        if not spin_until(lambda: targets[0] >= 10 and reset.service_is_ready(), run.timeout):
            raise RuntimeError(f"policy_node published {targets[0]} joint targets within {run.timeout} s:\n"
                               f"{nodes['policy_node'].output()[-800:]}")
        future = reset.call_async(ResetEpisode.Request(task=run.task, seed=seed))
        if not spin_until(future.done, run.timeout) or not future.result().success:
            raise RuntimeError(f"sim_node's reset failed: {future.result().message if future.done() else 'timeout'}")
        started = time.monotonic()
        episode_s = run.horizon * 0.01
        if not spin_until(lambda: any(r["seed"] == seed and r["episode"] >= 1 for r in results),
                          episode_s * 5 + run.timeout):
            raise RuntimeError(f"no episode result within {episode_s * 5 + run.timeout:.0f} s "
                               f"(sim_node:\n{nodes['sim_node'].output()[-800:]})")
        wall = time.monotonic() - started
    finally:
        rclpy.try_shutdown(context=context)
        codes = interrupt_all(nodes)
    unclean_exits(codes, logs)
    result = next(r for r in results if r["seed"] == seed and r["episode"] >= 1)
    run.products["deploy"] = result
    return (f"policy_node drove sim_node for one {result['steps']}-step episode (seed {seed}, {wall:.1f} s wall, "
            f"{targets[0]} joint targets over DDS): success={result['success']} score={result['score']:.2f}; "
            "both nodes stopped cleanly on SIGINT")
