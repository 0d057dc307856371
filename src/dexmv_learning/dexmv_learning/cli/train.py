"""Train a policy on a DexMV task with one of the methods DexMV compares (Sec. 3.3), all on the
same TRPO / natural-policy-gradient backbone:

  rl    pure RL on the task's dense reward
  dapg  behaviour-cloning initialisation, then the demo term lambda0 * lambda1^k (Rajeswaran 2018)
  gail  GAIL+: discriminator reward on (s, a) added to the task reward
  soil  inverse dynamics labels state-only demonstrations, then DAPG's term (Radosavovic 2021)
  bc    behaviour cloning alone (each iteration: more epochs over the demonstrations)

Hyper-parameters default to DAPG's/DexMV's (200 trajectories of 200 steps per iteration); each is
documented in dexmv_learning/config/defaults.yaml and may be overridden with --config FILE.
The run folder gets config.yaml, checkpoints/iter_*.pt (torch.load(weights_only=True)),
metrics.csv, tensorboard/ and learning_curve.png. Runs are reproducible for a given seed, and
--resume continues from the last checkpoint with the results an uninterrupted run would give.

examples:
  dexmv train --task relocate-tomato_soup_can --algo dapg --seed 0 --iterations 100 --out runs/can-dapg-0
  dexmv train --task relocate-mug --algo rl --trajectories 50 --horizon 200 --out runs/mug-rl
  dexmv train --out runs/can-dapg-0 --resume --iterations 200        # continue (and extend) a run
  dexmv train --task relocate-mug --algo rl --out /shared/runs/mug --ray auto --ray-actors 8 --workers 4
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "train a policy (rl, dapg, gail, soil, bc) on a task; run folder with checkpoints, metrics, curves"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", help="task id, e.g. relocate-tomato_soup_can, pour, place_inside")
    parser.add_argument("--algo", choices=("rl", "dapg", "gail", "soil", "bc"), help="method")
    parser.add_argument("--demos", help="demonstration dataset (Minari directory); default for methods that need "
                                        "them: dexmv_learning.demos.default_location(task)")
    parser.add_argument("--seed", type=int, default=0, help="run seed (default: %(default)s)")
    parser.add_argument("--iterations", type=int, help="iterations in all (default: config, 100)")
    parser.add_argument("--trajectories", type=int, help="trajectories per iteration (default: config, 200)")
    parser.add_argument("--horizon", type=int, help="steps per trajectory (default: config, 200)")
    parser.add_argument("--workers", type=int, help="processes stepping the simulator (default: one per core)")
    parser.add_argument("--checkpoint-every", type=int, help="keep a checkpoint every K iterations (default: 10)")
    parser.add_argument("--eval-every", type=int, help="evaluate the mean policy every K iterations, 0: never")
    parser.add_argument("--eval-episodes", type=int, help="episodes per evaluation during training (default: 50)")
    parser.add_argument("--config", help="YAML file overriding keys of config/defaults.yaml")
    parser.add_argument("--out", required=True, help="run folder")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                        help="run as Ray task(s) (optional extra: DEXMV_EXTRAS=ray make setup); ADDRESS: a cluster's "
                             "HOST:PORT or 'auto' (the one `ray start` made here); without ADDRESS a Ray of this "
                             "machine only (loopback). --out must be storage every node shares")
    parser.add_argument("--ray-actors", type=int, default=0, metavar="N",
                        help="with --ray: spread each run's rollouts over N Ray actors of --workers processes each "
                             "(same results as local sampling; default 0: sample in the run's own task)")


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    from dexmv_learning.training.config import NEEDS_DEMOS, ConfigError, check, resolve
    from dexmv_learning.training.run_folder import RunFolder

    run_folder = RunFolder(args.out)
    overrides = {"iterations": args.iterations, "trajectories": args.trajectories, "horizon": args.horizon,
                 "num_workers": args.workers, "checkpoint_every": args.checkpoint_every,
                 "eval_every": args.eval_every, "eval_episodes": args.eval_episodes}
    try:
        if args.resume:
            if not run_folder.exists():
                return _error(f"--resume: {args.out} has no config.yaml (not a run folder)")
            config = run_folder.read_config()
            for key in ("task", "algo"):
                given = getattr(args, key)
                if given is not None and given != config[key]:
                    return _error(f"--resume: {args.out} is a {config['algo']} run on {config['task']}, "
                                  f"not --{key} {given}")
            if args.iterations is not None:
                config["iterations"] = args.iterations
            if any(v is not None for k, v in overrides.items() if k not in ("iterations", "num_workers")):
                return _error("--resume continues with the run's config.yaml: only --iterations and --workers "
                              "may change")
            if args.workers is not None:
                config["num_workers"] = args.workers  # bit-identical results with any number of workers
            check(config)
        else:
            if args.task is None or args.algo is None:
                return _error("--task and --algo are required (unless --resume)")
            if run_folder.exists():
                return _error(f"{args.out} already holds a run: use --resume, or another --out")
            demos = args.demos
            if demos is None and args.algo in NEEDS_DEMOS:
                from dexmv_learning.demos import default_location

                demos = str(default_location(args.task))
                if not Path(demos).exists():
                    return _error(f"--algo {args.algo} needs demonstrations: none at the default location "
                                  f"{demos} (make them with `dexmv demos`, or give --demos DATASET)")
            config = resolve(args.task, args.algo, args.seed, overrides, args.config, demos)
    except ConfigError as err:
        return _error(str(err))

    from dexmv_sim.tasks import TASK_IDS

    if config["task"] not in TASK_IDS:
        return _error(f"unknown task '{config['task']}': choose one of {', '.join(TASK_IDS)}")
    if args.ray is not None:
        return _train_on_ray(config, args)
    return train_run(config, run_folder, resume=args.resume, progress=not args.no_progress)


def _train_on_ray(config: dict, args: argparse.Namespace) -> int:
    from dexmv_learning.distributed.sweep import train_on_ray

    if args.ray_actors < 0:
        return _error(f"--ray-actors must be 0 or more, got {args.ray_actors}")
    try:
        return train_on_ray(config, args.out, args.ray, args.ray_actors, progress=not args.no_progress)
    except RuntimeError as err:  # Ray missing or unreachable, a run that fits no node
        return _error(str(err))


def train_run(config: dict, run_folder, resume: bool = False, progress: bool = True, on_iteration=None,
              make_sampler=None) -> int:
    """Train (or continue) the run described by `config` in `run_folder`; 0 on success, 2 on bad input.

    on_iteration(row) follows each iteration; make_sampler (Sampler's signature) replaces the local
    sampler of the training batches (Ray actors: dexmv_learning.distributed); evaluation samples locally."""
    from dexmv_learning.training.checkpoint import CheckpointError
    from dexmv_learning.training.demos import DemoError, load_demo_data
    from dexmv_learning.training.sampler import Sampler
    from dexmv_learning.training.trainer import Trainer

    if resume:
        from dexmv_learning.training.config import current_reward, reward_mismatch

        problem = reward_mismatch(config)
        if problem is not None:
            return _error(f"--resume: {problem}")
        config["reward"] = current_reward(config["task"])  # recorded from now on (older runs had none)
    make = make_sampler or Sampler
    sampler = make(config["task"], config["trajectories"], config["horizon"], config["num_workers"] or None)
    trainer = None
    try:
        demos = None
        if config.get("demos"):
            try:
                demos = load_demo_data(config["demos"], sampler.obs_dim, sampler.act_dim, config["task"])
            except (DemoError, ValueError) as err:
                return _error(str(err))
            if demos.state_only and config["algo"] in ("dapg", "gail", "bc"):
                return _error(f"{config['demos']} is state-only: --algo {config['algo']} needs actions "
                              "(use --algo soil)")
            problem = demos.horizon_problem(config["horizon"])
            if problem is not None:  # a warning, not an error: the run may still learn to be faster
                print(f"warning: {config['demos']}: {problem}", file=sys.stderr)
        run_folder.write_config(config)
        trainer = Trainer(config, run_folder, demos=demos, sampler=sampler)
        if demos is not None and not resume:
            print(f"{demos.count} demonstrations ({len(demos.obs)} steps{', state only' if demos.state_only else ''}) "
                  f"from {config['demos']}")
        try:
            trainer.train(resume=resume, progress=progress, on_iteration=on_iteration)
        except CheckpointError as err:
            return _error(str(err))
        last = run_folder.read_metrics()[-1] if run_folder.read_metrics() else {}
        print(f"{run_folder.path}: {trainer.iteration} iterations, {trainer.env_steps} env steps, "
              f"{trainer.wall_s:.0f} s; last: return {last.get('return_mean') or '-'}, "
              f"eval success {last.get('eval_success_rate') or '-'}")
        return 0
    finally:
        if trainer is not None:
            trainer.close()
        else:
            sampler.close()
