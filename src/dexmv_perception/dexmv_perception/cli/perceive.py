"""3D hand keypoints (and object poses, MANO) from a two-camera RGB-D recording or a monocular video.

A recording folder holds one RealSense recording per camera (`<camera>.db3`, e.g. from
`dexmv synth` or a capture session) and `extrinsics.yaml` (`dexmv calibrate`); the keypoints come
out in `world`. A video (`--video clip.mp4`, any phone or webcam, no depth) gives hand-relative
keypoints (MediaPipe's metric landmarks, wrist at the origin), enough for fingers-only retargeting.

The output .npz is what `dexmv retarget --input` reads (`keypoints`, `confidence`, plus stamps,
frame, handedness, object poses and MANO parameters; see dexmv_perception/pose_file.py).
Ctrl-C writes the frames perceived so far (meta `complete` false) before it stops.

examples:
  dexmv perceive --recording recordings/pour --out pour_poses.npz
  dexmv perceive --recording recordings/relocate --objects 006_mustard_bottle --out poses.npz
  dexmv perceive --video clip.mp4 --out clip_poses.npz
  dexmv retarget --input clip_poses.npz --fingers-only --output clip_joints.npy
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "hand keypoints (and object poses) from a two-camera RGB-D recording or a monocular .mp4"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--recording", metavar="DIR", help="folder with <camera>.db3 per camera and extrinsics.yaml")
    source.add_argument("--video", metavar="MP4", help="monocular RGB video (no depth): hand-relative keypoints")
    parser.add_argument("--out", required=True, help="poses .npz to write")
    parser.add_argument("--extrinsics", help="rig YAML to use instead of <recording>/extrinsics.yaml")
    parser.add_argument("--objects", nargs="*", metavar="ID[:SCALE]",
                        help="YCB ids of the objects to track (e.g. 006_mustard_bottle, 025_mug:2); default: the "
                             "objects a synthetic recording's ground_truth.npz names, else none")
    parser.add_argument("--mano", metavar="PKL", help="MANO_RIGHT.pkl: fit MANO shape, pose and translation per frame")
    parser.add_argument("--model-complexity", type=int, choices=(0, 1), default=None,
                        help="MediaPipe hand model, 0 lite or 1 full (with the lite one where the full one finds no "
                             "hand): default 1, the more accurate (hand MPJPE about 9 %% lower on synthetic "
                             "recordings, about 1.7x the time); 0 is what perception_node runs in real time")
    parser.add_argument("--no-crop", action="store_true", help="run MediaPipe on whole frames only")
    parser.add_argument("--mirrored", action="store_true", help="the images are mirrored (a selfie camera)")
    parser.add_argument("--hand", choices=("auto", "right", "left"), default="auto",
                        help="the person's hand if known (DexMV films right hands); auto: voted from MediaPipe's "
                             "handedness; a camera that sees the other side has likely fitted a mirrored pose")
    parser.add_argument("--smooth-s", type=float, default=None, metavar="SECONDS",
                        help="RGB-D recordings: smooth each keypoint over time, both ways, with a Gaussian of this "
                             "sigma (seconds), weighted by confidence; 0 keeps the online One Euro filter's "
                             "keypoints, as perception_node publishes them (default: 0.05, hand MPJPE about 7 %% "
                             "lower on synthetic recordings)")
    parser.add_argument("--no-reverse-pass", action="store_true",
                        help="RGB-D recordings: run MediaPipe forwards only. By default it also runs over each "
                             "3 s of the recording from its end backwards, and the fusion takes both runs' views "
                             "(hand MPJPE about 6 %% lower on synthetic recordings; about 1.6x the time and 0.9 GB "
                             "more memory, whatever the recording's length)")
    parser.add_argument("--max-frames", type=int, help="stop after this many frames")
    parser.add_argument("--seed", type=int, default=0, help="seed of the object registration (default: 0)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def parse_objects(items: list[str]) -> tuple[list[str], dict[str, float]]:
    ids, scales = [], {}
    for item in items:
        name, _, scale = item.partition(":")
        ids.append(name)
        if scale:
            try:
                scales[name] = float(scale)
            except ValueError:
                raise ValueError(f"--objects {item!r}: the scale after ':' must be a number") from None
    return ids, scales


def objects_of_synthetic_recording(directory: Path) -> tuple[list[str], dict[str, float]]:
    """The object ids and scales a `dexmv synth` folder's ground truth names (none for other folders)."""
    gt = directory / "ground_truth.npz"
    if not gt.is_file():
        return [], {}
    from dexmv_capture.synthetic.synthesize import load_ground_truth

    _, meta = load_ground_truth(gt)
    objects = meta.get("objects", {})
    return ([o["object_id"] for o in objects.values()],
            {o["object_id"]: float(o.get("scale", 1.0)) for o in objects.values()})


def _progress(total: int | None, desc: str, disable: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="frame", desc=desc, disable=disable)


def perceive_recording(args: argparse.Namespace) -> tuple[Path, dict]:
    from dexmv_perception.hand.offline_smoothing import DEFAULT_SIGMA_S
    from dexmv_perception.hand.reverse_pass import with_reverse_pass
    from dexmv_perception.hand.tracker import HandTracker, HandTrackerConfig
    from dexmv_perception.perception import Perception
    from dexmv_perception.pose_file import PoseTrackWriter
    from dexmv_perception.rig_recording import READ_AHEAD, iterate_moments, open_rig_recording

    rig = open_rig_recording(args.recording, args.extrinsics)
    if args.objects is None:
        ids, scales = objects_of_synthetic_recording(Path(args.recording))
    else:
        ids, scales = parse_objects(args.objects)
    config = HandTrackerConfig(model_complexity=1 if args.model_complexity is None else args.model_complexity,
                               crop=not args.no_crop, mirrored=args.mirrored, side=args.hand)
    perception = Perception(rig.cameras, config, object_ids=ids, object_scales=scales, mano_model=args.mano,
                            seed=args.seed)
    writer = PoseTrackWriter("world", perception.object_ids or ids)
    smooth_s = DEFAULT_SIGMA_S if args.smooth_s is None else args.smooth_s
    detected = 0
    interrupted = False
    bar = _progress(args.max_frames, f"perceiving {Path(args.recording).name}", args.no_progress)
    observer = None if args.no_reverse_pass else HandTracker(rig.cameras, config)
    decoded = iterate_moments(rig, args.max_frames, read_ahead=READ_AHEAD)
    moments = ((stamp, frames, None) for stamp, frames in decoded) if observer is None \
        else with_reverse_pass(decoded, observer)
    try:
        for stamp, _, result in perception.stream(moments):
            hand = result.hand
            writer.add(stamp, hand.keypoints, hand.confidence, hand.hand_confidence, hand.side, result.objects,
                       result.mano, raw=hand.raw)
            detected += hand.detected
            bar.update(1)
    except KeyboardInterrupt:
        interrupted = True  # the frames perceived so far are written below, then the interrupt goes on
    finally:
        moments.close()  # the readers stopped now, even while an error's traceback keeps this frame
        decoded.close()
        bar.close()
        perception.close()
        if observer is not None:
            observer.close()
    notes = list(perception.notes)
    if smooth_s > 0:
        notes.append(f"keypoints smoothed over time both ways (sigma {smooth_s:g} s; --smooth-s 0: as published online)"
                     + ("; MANO was fitted to the online keypoints" if writer.has_mano() else ""))
    meta = {"source": str(args.recording), "cameras": rig.cameras, "model_complexity": config.model_complexity,
            "lite_fallback": config.model_complexity == 1 and config.lite_fallback, "crop": config.crop,
            "reverse_pass": observer is not None, "smooth_s": smooth_s, "notes": notes}
    path = _save_or_interrupt(writer, args.out, meta, interrupted, "recording", smooth_s=smooth_s)
    return path, {"frames": len(writer), "detected": detected, "notes": notes,
                  "handedness": writer.handedness(), "objects": writer.object_ids}


def _save_or_interrupt(writer, out: str | Path, meta: dict, interrupted: bool, source: str,
                       smooth_s: float = 0.0) -> Path:
    """Write the poses file (meta `complete`); after a Ctrl-C, write the frames perceived so far
    with a first note saying so, say where, and let the interrupt go on: an hour of perceiving is
    not lost to it. source: what was read ("recording", "video"), for the note."""
    if interrupted and not len(writer):
        raise KeyboardInterrupt
    meta = {**meta, "complete": not interrupted}
    if interrupted:
        meta["notes"] = [f"interrupted (Ctrl-C) after {len(writer)} frames: the {source}'s later frames are missing",
                         *meta.get("notes", [])]
    path = writer.save(out, meta, smooth_s=smooth_s)
    if interrupted:
        print(f"dexmv perceive: interrupted; wrote the {len(writer)} frames perceived so far to {path}",
              file=sys.stderr)
        raise KeyboardInterrupt
    return path


def perceive_video(args: argparse.Namespace) -> tuple[Path, dict]:
    from dexmv_perception.monocular import MonocularHand, video_frames
    from dexmv_perception.pose_file import PoseTrackWriter

    fps, count, frames = video_frames(args.video)
    hand = MonocularHand(1 if args.model_complexity is None else args.model_complexity, args.mirrored)
    writer = PoseTrackWriter("hand_relative")
    detected = 0
    interrupted = False
    total = min(count, args.max_frames) if count and args.max_frames else (count or args.max_frames)
    bar = _progress(total or None, f"perceiving {Path(args.video).name}", args.no_progress)
    try:
        for k, (stamp, rgb) in enumerate(frames):
            if args.max_frames is not None and k >= args.max_frames:
                break
            keypoints, confidence, score, side = hand.update(rgb, stamp)
            writer.add(stamp, keypoints, confidence, score, side)
            detected += score > 0
            bar.update(1)
    except KeyboardInterrupt:
        interrupted = True  # the frames perceived so far are written below, then the interrupt goes on
    finally:
        bar.close()
        hand.close()
    notes = ["hand-relative keypoints (no depth): use `dexmv retarget --fingers-only`"]
    path = _save_or_interrupt(writer, args.out, {"source": str(args.video), "fps": fps, "notes": notes}, interrupted,
                              "video")
    return path, {"frames": len(writer), "detected": detected, "notes": notes, "handedness": writer.handedness(),
                  "objects": []}


def run(args: argparse.Namespace) -> int:
    from dexmv_perception.monocular import VideoError
    from dexmv_perception.rig_recording import RigRecordingError

    if Path(args.out).suffix != ".npz":
        print(f"dexmv perceive: --out {args.out} must end in .npz", file=sys.stderr)
        return 2
    if args.smooth_s is not None and not (args.smooth_s >= 0 and args.smooth_s < float("inf")):
        print(f"dexmv perceive: --smooth-s must be a number of seconds >= 0, got {args.smooth_s}", file=sys.stderr)
        return 2
    if args.smooth_s is not None and args.video:
        print("dexmv perceive: --smooth-s applies to RGB-D recordings (--recording), not to --video", file=sys.stderr)
        return 2
    if args.no_reverse_pass and args.video:
        print("dexmv perceive: --no-reverse-pass applies to RGB-D recordings (--recording), not to --video",
              file=sys.stderr)
        return 2
    if args.max_frames is not None and args.max_frames < 1:
        print(f"dexmv perceive: --max-frames must be at least 1, got {args.max_frames}", file=sys.stderr)
        return 2
    try:
        path, summary = perceive_video(args) if args.video else perceive_recording(args)
    except (RigRecordingError, VideoError, ValueError, OSError) as err:
        print(f"dexmv perceive: {err}", file=sys.stderr)
        return 2
    frames = summary["frames"]
    if frames == 0:
        print(f"dexmv perceive: {args.video or args.recording}: no frames were read", file=sys.stderr)
        return 2
    print(f"wrote {path}: {frames} frames, hand found in {summary['detected']} ({summary['detected'] / frames:.0%}), "
          f"handedness {summary['handedness'] or 'unknown'}"
          + (f", objects {', '.join(summary['objects'])}" if summary["objects"] else ""))
    for note in summary["notes"]:
        print(f"note: {note}")
    if summary["handedness"] == "left":
        print("note: a left hand: add --left-hand to dexmv retarget (Adroit is a right hand)")
    return 0
