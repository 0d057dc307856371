"""Human trajectories through the perception path: synthetic D435 recordings -> perception -> poses.

The embedded default demo set is made the way real demonstrations are: dexmv_capture renders a
task's synthetic human motion into two RealSense recordings (colour + noisy aligned depth, as
`dexmv synth` does), dexmv_perception's offline pipeline (what `dexmv perceive --recording
--model-complexity 0` runs: MediaPipe's lite model on both cameras, depth lifting, two-view fusion,
filter, object registration and tracking) turns them into `poses.npz`, and that file is read like
any perceived demonstration. The lite model, not `dexmv perceive`'s default full one: the default
demonstration set and the policies trained on it were made with it.
Every object of the scene is tracked (perception takes each one's points out before it looks for
the next); the conversion reads the one the hand moves.

Rendering and perception cost about a minute or two per 4 s recording on a loaded 2-core machine,
so each recording folder (`<recordings>/<task>-seed<k>-<seconds>s/`: the .db3 files,
ground_truth.npz, extrinsics.yaml, poses.npz) is kept and reused when its poses.npz exists; delete
the folder to perceive it again.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from dexmv_learning.demos.trajectory import HumanTrajectory, read_poses_npz

DEFAULT_RECORDINGS_DIR = Path("data") / "recordings"


class PerceptionUnavailable(RuntimeError):
    """dexmv_perception (or one of its parts) cannot run here; the message says what is missing."""


def recording_dir(root: str | Path, task_id: str, seed: int, seconds: float) -> Path:
    return Path(root) / f"{task_id}-seed{seed}-{seconds:g}s"


def perceive_recording(directory: Path, object_ids: list[str], out: Path, *, seed: int = 0,
                       object_scales: dict[str, float] | None = None,
                       progress: Callable[[], None] | None = None) -> Path:
    """dexmv_perception's offline pipeline on a two-camera recording folder -> poses.npz (world);
    `object_scales`: the scene's model scales by object id (dexmv_perception's
    objects_of_synthetic_recording), 1 for the ones not named."""
    try:
        from dexmv_perception.hand.tracker import HandTrackerConfig
        from dexmv_perception.perception import Perception
        from dexmv_perception.pose_file import PoseTrackWriter
        from dexmv_perception.rig_recording import READ_AHEAD, iterate_moments, open_rig_recording
    except ImportError as err:  # pragma: no cover - perception is part of the workspace
        raise PerceptionUnavailable(f"dexmv_perception cannot be imported ({err}); use --ground-truth") from None
    from dexmv_capture.synthetic.synthesize import load_ground_truth

    _, meta = load_ground_truth(directory / "ground_truth.npz")
    scales = object_scales or {}
    rig = open_rig_recording(directory)
    perception = Perception(rig.cameras, HandTrackerConfig(model_complexity=0), object_ids=object_ids,
                            object_scales={k: v for k, v in scales.items() if k in object_ids}, seed=seed)
    writer = PoseTrackWriter("world", perception.object_ids or object_ids)
    try:
        for stamp, _, result in perception.stream(iterate_moments(rig, read_ahead=READ_AHEAD)):
            hand = result.hand
            writer.add(stamp, hand.keypoints, hand.confidence, hand.hand_confidence, hand.side, result.objects,
                       result.mano)
            if progress:
                progress()
    finally:
        perception.close()
    return writer.save(out, {"source": str(directory), "cameras": rig.cameras, "model_complexity": 0,
                             "notes": perception.notes, "task": meta.get("task"), "seed": meta.get("seed")})


def pose_file_objects(path: Path) -> list[str]:
    """The object ids a poses.npz holds tracks of."""
    with np.load(path, allow_pickle=False) as data:
        return [str(x) for x in data["object_ids"]] if "object_ids" in data.files else []


def perceived_trajectory(task_id: str, seed: int, seconds: float, root: str | Path = DEFAULT_RECORDINGS_DIR, *,
                         fps: float = 30.0, progress: Callable[[str], None] | None = None) -> HumanTrajectory:
    """The synthetic recording of (task, seed, seconds) rendered and perceived (or reused), read back
    as a HumanTrajectory whose source is "perception"."""
    from dexmv_capture.synthetic.synthesize import synthesize
    from dexmv_learning.demos.conversion import moved_object

    directory = recording_dir(root, task_id, seed, seconds)
    poses = directory / "poses.npz"
    if not poses.is_file():
        if progress:
            progress(f"rendering {directory.name}")
        synthesize(task_id, seconds, seed, directory, fps=fps)
    # every object of the scene is tracked, though only the moved one is converted: the tracker takes
    # each object's points out before looking for the next, and a banana lying beside place_inside's
    # mug, looked for alone, was fitted to the mug's wall or the arm (0.3-1 m off; seeds 0 and 4)
    try:
        from dexmv_perception.cli.perceive import objects_of_synthetic_recording
    except ImportError as err:  # pragma: no cover - perception is part of the workspace
        raise PerceptionUnavailable(f"dexmv_perception cannot be imported ({err}); use --ground-truth") from None
    objects, scales = objects_of_synthetic_recording(directory)
    objects = objects or [moved_object(task_id)]
    if not poses.is_file() or not set(objects) <= set(pose_file_objects(poses)):
        if progress:
            progress(f"perceiving {directory.name}")
        perceive_recording(directory, objects, poses.with_suffix(".partial.npz"), seed=seed, object_scales=scales)
        poses.with_suffix(".partial.npz").replace(poses)  # a run stopped half-way leaves no poses.npz
    traj = read_poses_npz(poses).with_objects([moved_object(task_id)])
    traj.meta.update(task=task_id, seed=seed, seconds=seconds, recording=str(directory))
    return traj
