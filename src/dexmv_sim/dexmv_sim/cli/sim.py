"""Simulation tools: list the tasks, render an episode to images or video, export the hand's URDF.

examples:
  dexmv sim tasks
  dexmv sim render --task pour --seed 0 --out pour.png               # contact sheet of 6 frames
  dexmv sim render --task relocate-mug --policy scripted --out mug.gif
  dexmv sim render --task relocate-mustard_bottle --camera side --out m.mp4   # OpenCV, MPEG-4 'mp4v'
  dexmv sim urdf --out adroit.urdf --copy-meshes

Policies: "scripted" (relocate tasks: dexmv_sim.scripted.RelocateSolver, which grasps the object
and brings it to the target within the 200-step episode), "zero" (hold the initial pose),
"random" (smoothly varying random actions from --seed).
Output by suffix: .png (a contact sheet), .gif (Pillow), .mp4 (imageio's ffmpeg plugin, H.264, when
imageio-ffmpeg is installed; else OpenCV, MPEG-4 'mp4v'; the error says so when neither is).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "simulation tools: tasks, render an episode (PNG/GIF/MP4), export the URDF"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    tasks = sub.add_parser("tasks", help="list task ids, env ids, observation sizes")
    tasks.set_defaults(_sim=_tasks)
    render = sub.add_parser("render", help="render an episode to .png (contact sheet), .gif or .mp4")
    render.add_argument("--task", default="relocate-mustard_bottle", help="task id (default: %(default)s)")
    render.add_argument("--seed", type=int, default=0, help="episode and policy seed (default: %(default)s)")
    render.add_argument("--policy", choices=("scripted", "zero", "random"), default="scripted",
                        help="what moves the hand (default: %(default)s; scripted falls back to zero off relocate)")
    render.add_argument("--steps", type=int, default=None,
                        help="control steps, 100 per second (default: 200, one episode)")
    render.add_argument("--camera", default="front", help="front, side, top or behind (default: %(default)s)")
    render.add_argument("--width", type=int, default=640)
    render.add_argument("--height", type=int, default=480)
    render.add_argument("--fps", type=int, default=25, help="video frames per second (default: %(default)s)")
    render.add_argument("--frames", type=int, default=6, help="frames on a .png contact sheet (default: %(default)s)")
    render.add_argument("--mesh-dir", help="folder of real YCB meshes (default: primitive objects)")
    render.add_argument("--out", required=True, help="output file: .png, .gif or .mp4")
    render.set_defaults(_sim=_render)
    urdf = sub.add_parser("urdf", help="write the hand's kinematic URDF (for RViz RobotModel)")
    urdf.add_argument("--out", required=True, help="URDF file to write")
    urdf.add_argument("--copy-meshes", action="store_true", help="copy the STL meshes into meshes/ beside it")
    urdf.set_defaults(_sim=_urdf)
    parser.set_defaults(_sim=None, _sim_parser=parser)


def run(args: argparse.Namespace) -> int:
    if args._sim is None:
        args._sim_parser.print_help()
        return 2
    return int(args._sim(args) or 0)


def _tasks(args: argparse.Namespace) -> int:
    from dexmv_sim.envs import ENV_IDS
    from dexmv_sim.tasks import make_task

    print(f"{'task':26s} {'gymnasium id':36s} obs  act")
    for task_id, env_id in ENV_IDS.items():
        print(f"{task_id:26s} {env_id:36s} {make_task(task_id).obs_dim:3d}   30")
    return 0


def _urdf(args: argparse.Namespace) -> int:
    from dexmv_sim.urdf import hand_urdf

    hand_urdf(args.out, copy_meshes=args.copy_meshes)
    print(f"wrote {args.out}" + (f" and {Path(args.out).resolve().parent / 'meshes'}/" if args.copy_meshes else ""))
    return 0


def _render(args: argparse.Namespace) -> int:
    import numpy as np
    from tqdm import tqdm

    from dexmv_sim.rendering import RenderError, SceneRenderer
    from dexmv_sim.simulation import TaskSimulation
    from dexmv_sim.tasks import TaskOptionError
    from dexmv_sim.video import VideoError, write_frames

    out = Path(args.out)
    if out.suffix.lower() not in (".png", ".gif", ".mp4"):
        print(f"error: --out {out}: use .png, .gif or .mp4", file=sys.stderr)
        return 2
    try:
        sim = TaskSimulation(args.task, mesh_dir=args.mesh_dir)
        renderer = SceneRenderer(sim.model, args.width, args.height)
    except (TaskOptionError, RenderError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.camera not in [sim.model.camera(i).name for i in range(sim.model.ncam)]:
        print(f"error: unknown camera '{args.camera}'", file=sys.stderr)
        return 2
    rng = np.random.default_rng(args.seed)
    sim.reset(rng)
    args.steps = args.steps or 200
    targets = _policy_targets(sim, args.policy, args.steps, args.seed)
    sheet = out.suffix.lower() == ".png"
    every = max(1, args.steps // max(1, args.frames - 1)) if sheet else max(1, round(100 / args.fps))
    frames = [renderer.rgb(sim.data, args.camera)]
    for step in tqdm(range(args.steps), desc=f"{args.task} ({args.policy})", unit="step", file=sys.stderr):
        sim.step_targets(targets() if callable(targets) else targets[min(step, len(targets) - 1)])
        if (step + 1) % every == 0:
            frames.append(renderer.rgb(sim.data, args.camera))
    renderer.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        write_frames(out, frames, fps=args.fps, sheet_frames=args.frames)
    except VideoError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    result = sim.evaluate()
    print(f"wrote {out} ({len(frames)} frames); end of episode: success={result.success} score={result.score:.2f}")
    return 0


def _policy_targets(sim, policy: str, steps: int, seed: int):
    import numpy as np

    from dexmv_sim.tasks.relocate import RelocateTask

    start = sim.targets
    if policy == "scripted" and isinstance(sim.task, RelocateTask):
        from dexmv_sim.scripted import RelocateSolver

        return RelocateSolver(sim)  # closed loop: called once per step
    if policy == "random":
        rng = np.random.default_rng(seed)
        knots = rng.uniform(-1, 1, (steps // 50 + 2, 30))
        t = np.arange(steps) / 50.0
        actions = np.stack([np.interp(t, np.arange(len(knots)), knots[:, j]) for j in range(30)], axis=1)
        return sim.actions.to_targets(actions)
    return np.repeat(start[None], steps, axis=0)
