"""Demo stage: the trained policy deployed as a ROS 2 node driving the simulated hand.

The stage runs `dexmv launch deploy.launch.py` (ROS 2's launch service, as `ros2 launch` runs it):
sim_node (real time, 100 Hz, DexMV's 200-step episodes) and dexmv_learning's policy_node, each its
own process over DDS. Once the policy's joint targets reach the simulation, this process resets the
simulation (its ResetEpisode service) so that one whole episode runs under the policy, reads that
episode's result from /dexmv/sim/episode_result, and stops the launch with SIGINT.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from dexmv_bringup.demo.run_state import DemoRun
from dexmv_bringup.launch_process import LaunchProcess, missing_launch_modules

STOP_S = 60.0  # seconds launch may take to stop both nodes on SIGINT


def stage_deploy(run: DemoRun) -> str:
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import JointState
    from std_msgs.msg import String

    from dexmv_msgs.srv import ResetEpisode

    policy_run = run.need("run")
    missing = missing_launch_modules()
    if missing:
        raise RuntimeError(f"the deploy stage runs deploy.launch.py, but ROS 2's launch packages "
                           f"({', '.join(missing)}) are not importable: set DEXMV_LAUNCH_WHEELS to a folder of the "
                           "launch wheels and run `make setup`, or source a ROS 2 install")
    logs = run.out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    seed = run.seed + 2000  # an episode neither training nor evaluation saw
    arguments = {"run": str(Path(policy_run).resolve()), "task": run.task, "seed": str(seed),
                 "horizon": str(run.horizon), "rviz": "false"}
    launch_log = logs / "deploy_launch.log"
    (logs / "deploy_command.txt").write_text(
        "dexmv launch deploy.launch.py " + " ".join(f"{k}:={v}" for k, v in arguments.items()) + "\n")
    graph = LaunchProcess("deploy.launch.py", [f"{k}:={v}" for k, v in arguments.items()], launch_log,
                          env={"ROS_LOG_DIR": str((logs / "ros").resolve())})
    context = rclpy.Context()
    results: list[dict] = []
    targets = [0]
    try:
        graph.wait_for_node_output("sim_node", "simulating", run.timeout)
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
                graph.fail_if_down()
            return done()

        if not spin_until(lambda: targets[0] >= 10 and reset.service_is_ready(), run.timeout):
            raise RuntimeError(f"policy_node published {targets[0]} joint targets within {run.timeout} s:\n"
                               f"{graph.node_output('policy_node')[-800:]}")
        future = reset.call_async(ResetEpisode.Request(task=run.task, seed=seed))
        if not spin_until(future.done, run.timeout) or not future.result().success:
            raise RuntimeError(f"sim_node's reset failed: {future.result().message if future.done() else 'timeout'}")
        started = time.monotonic()
        episode_s = run.horizon * 0.01
        if not spin_until(lambda: any(r["seed"] == seed and r["episode"] >= 1 for r in results),
                          episode_s * 5 + run.timeout):
            raise RuntimeError(f"no episode result within {episode_s * 5 + run.timeout:.0f} s "
                               f"(sim_node:\n{graph.node_output('sim_node')[-800:]})")
        wall = time.monotonic() - started
    finally:
        rclpy.try_shutdown(context=context)
        code, left = graph.interrupt(STOP_S)  # SIGINT to launch, which passes it to both nodes
    graph.stopped_cleanly(code, left)
    result = next(r for r in results if r["seed"] == seed and r["episode"] >= 1)
    run.products["deploy"] = result
    return (f"policy_node drove sim_node for one {result['steps']}-step episode (seed {seed}, {wall:.1f} s wall, "
            f"{targets[0]} joint targets over DDS): success={result['success']} score={result['score']:.2f}; "
            "both nodes stopped cleanly on SIGINT")
