"""Run benchmarks: `dexmv bench <name>` for one, `dexmv bench all` for every registered one.

Each benchmark measures our code against a reference measured in the same run on the same
machine and reports ratios, never pass/fail times. Packages register benchmarks under the entry
point group `dexmv.bench` with the verb contract of dexmv_bringup/cli/main.py, and every
benchmark accepts `--json` (print one JSON object) and `--report FILE` (write it to FILE).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dexmv_bringup.cli.main import BENCH_GROUP, add_verbs, load_verbs

HELP = "measure speed and accuracy against references run on this machine"


def _run_all(args: argparse.Namespace) -> int:
    benches = load_verbs(BENCH_GROUP)
    if not benches:
        print("no benchmarks are registered yet (packages add them under the `dexmv.bench` entry points)")
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    failed = []
    for name, module in benches.items():
        print(f"== dexmv bench {name}", flush=True)
        parser = argparse.ArgumentParser(prog=f"dexmv bench {name}")
        module.add_arguments(parser)
        if int(module.run(parser.parse_args(["--report", str(out / f"{name}.json")])) or 0) != 0:
            failed.append(name)
    if failed:
        print(f"benchmarks that failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"reports written to {out}/")
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    subparsers = parser.add_subparsers(title="benchmarks", metavar="BENCH")
    add_verbs(subparsers, load_verbs(BENCH_GROUP), attr="_bench")
    every = subparsers.add_parser("all", help="run every registered benchmark with its defaults")
    every.add_argument("--out", default="bench-results", help="folder for the JSON reports (default: %(default)s)")
    every.set_defaults(_bench=_run_all)
    parser.set_defaults(_bench=None, _bench_parser=parser)


def run(args: argparse.Namespace) -> int:
    if args._bench is None:
        args._bench_parser.print_help()
        return 2
    return int(args._bench(args) or 0)
