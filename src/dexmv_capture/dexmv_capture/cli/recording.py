"""`dexmv recording info FILE`: what a RealSense recording holds (streams, intrinsics, frames, duration)."""

from __future__ import annotations

import argparse
import json
import sys

HELP = "inspect a RealSense recording (.db3/.bag): streams, intrinsics, frame count, duration, contact sheet"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    info = sub.add_parser("info", help="streams, intrinsics, frame count, duration")
    info.add_argument("file", help="recording file (.db3 written by librealsense 2.59, or legacy .bag)")
    info.add_argument("--json", action="store_true",
                      help="print one JSON object (duration_s: the recorder's clock; timestamp_span_s: first to last "
                           "frame timestamp, which differ for recordings written faster than real time; "
                           "first_timestamp_ms: camera_node's time_origin_ms for this recording)")
    info.add_argument("--sheet", metavar="PNG", help="also write a contact sheet (colour and depth, 6 frames)")


def run(args: argparse.Namespace) -> int:
    from dexmv_capture.recording import RecordingError, RecordingReader

    try:
        with RecordingReader(args.file) as reader:
            frames, stamps = [], []
            for frame in reader:
                stamps.append(frame.timestamp_ms)
                if args.sheet:
                    frames.append(frame)
            count = len(stamps)
            info = reader.info
    except RecordingError as err:
        print(f"dexmv recording: {err}", file=sys.stderr)
        return 2
    report = {"file": str(info.path), "device": info.device_name, "serial_no": info.serial_no,
              "duration_s": round(info.duration_s, 3), "frames": count,
              "timestamp_span_s": round((stamps[-1] - stamps[0]) / 1000.0, 4) if stamps else 0.0,
              "first_timestamp_ms": stamps[0] if stamps else None,
              "depth_units_m": info.depth_units,
              "streams": [{"stream": s.stream, "format": s.format, "width": s.width, "height": s.height, "fps": s.fps,
                           "fx": s.intrinsics.fx, "fy": s.intrinsics.fy, "ppx": s.intrinsics.ppx,
                           "ppy": s.intrinsics.ppy, "model": s.intrinsics.model} for s in info.streams]}
    if args.sheet:
        _contact_sheet(frames, args.sheet, info.depth_units)
        report["sheet"] = args.sheet
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"{report['file']}: {report['device']} (serial {report['serial_no']}), {count} frames over "
          f"{report['timestamp_span_s']} s of frame timestamps from {report['first_timestamp_ms']:.3f} ms, "
          f"recorded in {report['duration_s']} s, depth units {info.depth_units:.4g} m")
    for s in report["streams"]:
        print(f"  {s['stream']:6s} {s['format']:5s} {s['width']}x{s['height']} @ {s['fps']} fps  "
              f"fx {s['fx']:.1f} fy {s['fy']:.1f} ppx {s['ppx']:.1f} ppy {s['ppy']:.1f} ({s['model']})")
    if args.sheet:
        print(f"contact sheet: {args.sheet}")
    return 0


def _contact_sheet(frames, path: str, units: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    picks = np.linspace(0, len(frames) - 1, min(6, len(frames))).round().astype(int) if frames else []
    fig, axes = plt.subplots(2, max(len(picks), 1), figsize=(3 * max(len(picks), 1), 5), squeeze=False)
    for k, i in enumerate(picks):
        f = frames[i]
        axes[0, k].imshow(f.color)
        axes[0, k].set_title(f"#{f.frame_number} {f.timestamp_ms / 1000:.2f} s", fontsize=8)
        depth = np.where(f.depth > 0, f.depth * units, np.nan)
        axes[1, k].imshow(depth, cmap="turbo")
        for ax in axes[:, k]:
            ax.axis("off")
    fig.suptitle("colour (top), aligned depth (bottom, holes white)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
