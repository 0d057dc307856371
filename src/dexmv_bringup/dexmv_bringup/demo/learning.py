"""Demo stages after the graph: the recorded bag -> robot demonstrations -> DAPG -> evaluation.

Each stage runs the same code as its command (`dexmv demos`, `dexmv train --algo dapg`,
`dexmv eval`), on the demo's bag and with the demo's small budget, so what the demo shows is what
a user gets from the commands; their progress bars show while they run.
"""

from __future__ import annotations

import json

from dexmv_bringup.demo.run_state import DemoRun


def _verb(*argv: str) -> None:
    """Run a `dexmv` verb in this process; a non-zero exit is the stage's failure."""
    from dexmv_bringup.cli.main import main

    code = main(list(argv))
    if code != 0:
        raise RuntimeError(f"`dexmv {' '.join(argv[:1])}` exited {code} (command: dexmv {' '.join(argv)})")


def stage_demos(run: DemoRun) -> str:
    """The bag recorded by the graph stage (perceived hand and object poses) -> a Minari dataset."""
    from dexmv_learning.demos.conversion import ConversionConfig
    from dexmv_learning.demos.dataset import DatasetError
    from dexmv_learning.demos.generate import convert_all, summary_lines, write_results
    from dexmv_learning.demos.trajectory import TrajectoryInputError, load_trajectory

    bag = run.need("bag")
    try:
        trajectory = load_trajectory(bag)
    except (TrajectoryInputError, ValueError) as err:
        raise RuntimeError(f"the recorded bag is no usable demonstration: {err}") from None
    config = ConversionConfig(max_gap_s=run.max_gap)
    results = convert_all(run.task, [trajectory], config, seed=run.seed)
    dropped = [r.dropped for r in results if r.demonstration is None]
    if len(dropped) == len(results):
        raise RuntimeError(f"the bag's demonstration was dropped: {'; '.join(dropped)} (perception in "
                           f"{run.out / 'logs' / 'perception_node.log'})")
    out = run.out / "demos"
    try:
        summary = write_results(out, run.task, results, config, overwrite=True)
    except DatasetError as err:
        raise RuntimeError(str(err)) from None
    run.products["demos"] = out
    run.products["demos_summary"] = summary
    made = f"dataset {out} (from {bag}, {trajectory.frames} perceived frames)"
    return "\n      ".join([*summary_lines(summary), made])


def stage_train(run: DemoRun) -> str:
    """DAPG, briefly: behaviour cloning on the demo, then a few natural-policy-gradient iterations."""
    from dexmv_learning.training.run_folder import RunFolder

    demos = run.need("demos")
    out = run.out / "run"
    if out.exists():
        import shutil

        shutil.rmtree(out)  # the demo's own run of an earlier invocation
    _verb("train", "--task", run.task, "--algo", "dapg", "--demos", str(demos), "--seed", str(run.seed),
          "--iterations", str(run.iterations), "--trajectories", str(run.trajectories), "--horizon", str(run.horizon),
          "--eval-every", "0", "--out", str(out))
    rows = RunFolder(out).read_metrics()
    if not rows:
        raise RuntimeError(f"{out}/metrics.csv is empty after training")
    run.products["run"] = out
    first, last = rows[0], rows[-1]
    curve = out / "learning_curve.png"
    return (f"DAPG on {run.task}: {len(rows)} iterations x {run.trajectories} trajectories of {run.horizon} steps; "
            f"return {float(first['return_mean']):.1f} -> {float(last['return_mean']):.1f}, sampled success "
            f"{float(first['success_rate']):.2f} -> {float(last['success_rate']):.2f}; run folder {out}"
            + (f", curve {curve}" if curve.exists() else ""))


def stage_evaluate(run: DemoRun) -> str:
    """`dexmv eval`: the mean policy on fresh episodes, as Table 1 counts them, and a video."""
    out = run.need("run")
    _verb("eval", str(out), "--episodes", str(run.episodes), "--seeds", str(run.seed + 1000), "--video", "2")
    result = json.loads((out / "eval.json").read_text())
    run.products["eval"] = result
    return (f"{result['metric']} {result['mean']:.2f} over {run.episodes} episodes (seed {run.seed + 1000}); "
            f"video {result.get('video', 'none')}")
