"""Inspect rosbag2 directories written by recorder_node (or any rosbag2 with MCAP/SQLite storage).

examples:
  dexmv bag info bags/dexmv_20261203-101500
  dexmv bag info run1 --json
"""

from __future__ import annotations

import argparse
import json
import sys

HELP = "rosbag2 summaries without ROS: `dexmv bag info <bag>` (topics, types, counts, duration)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="bag_command", required=True)
    info = sub.add_parser("info", help="topics, types, message counts, start and duration, like `ros2 bag info`")
    info.add_argument("bag", help="bag directory (metadata.yaml + storage files)")
    info.add_argument("--json", action="store_true", help="machine-readable output")


def _human_size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def run(args: argparse.Namespace) -> int:
    from dexmv_learning.recording.bag_reader import BagReadError, bag_info

    try:
        info = bag_info(args.bag)
    except BagReadError as err:
        print(f"dexmv bag info: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"path": str(info.path), "storage": info.storage, "version": info.version,
                          "start_ns": info.start_ns, "duration_s": info.duration_s,
                          "message_count": info.message_count, "size_bytes": info.size_bytes,
                          "topics": [vars(t) for t in info.topics]}, indent=2))
        return 0
    print(f"Files:             {info.path}")
    print(f"Bag size:          {_human_size(info.size_bytes)}")
    print(f"Storage id:        {info.storage} (metadata version {info.version})")
    print(f"Duration:          {info.duration_s:.3f} s")
    print(f"Start:             {info.start_ns / 1e9:.3f} s (epoch)")
    print(f"Messages:          {info.message_count}")
    print("Topic information:")
    width = max((len(t.topic) for t in info.topics), default=0)
    for t in info.topics:
        print(f"  Topic: {t.topic:<{width}} | Type: {t.msgtype} | Count: {t.count}")
    return 0
