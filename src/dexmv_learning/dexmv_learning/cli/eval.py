"""Evaluate a trained policy as DexMV's Table 1 does: the mean action on fresh episodes (100 by
default); relocate: success rate (object within 0.1 m of the target and lifted 2 cm at the end;
also under DAPG's rule, held for more than 25 steps, the evaluation DexMV's learning code builds on);
pour: fraction of water poured; place_inside: inside score. With several --seeds, the run is evaluated on each seed's
episodes and the mean and standard deviation over them are reported (Table 1 reports mean and
std over training seeds: `dexmv table1` does that across runs).

Writes <run>/eval.json and, unless --video 0, <run>/eval.mp4 with the first few episodes.

examples:
  dexmv eval runs/can-dapg-0
  dexmv eval runs/can-dapg-0 --episodes 100 --seeds 0 1 2 --video 3
  dexmv eval runs/can-dapg-0/checkpoints/iter_000050.pt --json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HELP = "evaluate a run's policy (success rate / fraction poured / inside score, mean and std) and record a video"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", help="run folder (its latest checkpoint) or a checkpoint file")
    parser.add_argument("--episodes", type=int, default=100, help="episodes per seed (default: %(default)s)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="evaluation seeds (default: 0)")
    parser.add_argument("--task", help="evaluate on another task with the same observation size (default: the run's)")
    parser.add_argument("--video", type=int, default=3, metavar="N", help="episodes in the video, 0: none "
                                                                          "(default: %(default)s)")
    parser.add_argument("--out", help="where eval.json and eval.mp4 go (default: the run folder)")
    parser.add_argument("--workers", type=int, help="processes stepping the simulator (default: one per core)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from dexmv_learning.evaluation.evaluate import (
        DAPG_GOAL_STEPS,
        evaluate_policy,
        load_run_policy,
        metric_name,
        record_video,
    )
    from dexmv_learning.training.checkpoint import CheckpointError
    from dexmv_sim.tasks import TASK_IDS

    if args.episodes < 1:
        print("error: --episodes must be at least 1", file=sys.stderr)
        return 2
    try:
        policy, config, checkpoint = load_run_policy(args.run)
    except CheckpointError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    task = args.task or config["task"]
    if task not in TASK_IDS:
        print(f"error: unknown task '{task}': choose one of {', '.join(TASK_IDS)}", file=sys.stderr)
        return 2
    out_dir = Path(args.out) if args.out else (Path(args.run) if Path(args.run).is_dir() else Path(args.run).parent)
    out_dir.mkdir(parents=True, exist_ok=True)
    per_seed = []
    try:
        for seed in args.seeds:
            per_seed.append(evaluate_policy(policy, task, args.episodes, seed, config.get("horizon", 200),
                                            args.workers))
    except CheckpointError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    values = np.array([e.table_value for e in per_seed])
    result = {
        "checkpoint": str(checkpoint), "task": task, "algo": config.get("algo"), "train_seed": config.get("seed"),
        "metric": metric_name(task), "episodes_per_seed": args.episodes, "seeds": list(args.seeds),
        "mean": float(values.mean()), "std": float(values.std()), "per_seed": values.tolist(),
        "success_rate": float(np.mean([e.success_rate for e in per_seed])),
        "score_mean": float(np.mean([e.score_mean for e in per_seed])),
        "steps_per_s": float(np.mean([e.steps_per_s for e in per_seed])),
    }
    dapg_rule = [e.success_rate_dapg_rule for e in per_seed]
    if all(v is not None for v in dapg_rule):
        # DAPG's rule beside ours: where our figure and DexMV's part, the rule or the behaviour?
        result["success_rate_dapg_rule"] = float(np.mean(dapg_rule))
    if args.video > 0:
        result["video"] = str(record_video(policy, task, out_dir / "eval.mp4", episodes=args.video,
                                           seed=args.seeds[0], horizon=config.get("horizon", 200)))
    (out_dir / "eval.json").write_text(json.dumps(result, indent=2) + "\n")
    if args.json:
        print(json.dumps(result))
    else:
        dapg = (f" (held more than {DAPG_GOAL_STEPS} steps, DAPG's rule: {result['success_rate_dapg_rule']:.3f})"
                if "success_rate_dapg_rule" in result else "")
        print(f"{task} ({config.get('algo')}, train seed {config.get('seed')}): {result['metric']} "
              f"{result['mean']:.3f} +- {result['std']:.3f} over {len(args.seeds)} seed(s) x {args.episodes} episodes"
              f"{dapg}{'; video ' + result['video'] if 'video' in result else ''}")
    return 0
