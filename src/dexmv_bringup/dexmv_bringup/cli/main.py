"""`dexmv`: the command line of the stack, assembled from the verbs each package contributes.

A package adds a verb by naming a module in its setup.py entry points, group `dexmv.verbs`
(top-level verbs such as `dexmv retarget`) or `dexmv.bench` (benchmarks under `dexmv bench`):

    entry_points={"dexmv.verbs": ["retarget = dexmv_retarget.cli.retarget"]}

The module defines `HELP` (one line for `dexmv --help`), `add_arguments(parser)` and
`run(args) -> int`. Modules import heavy libraries (mujoco, torch) inside `run` only, so that
`dexmv --help` stays fast.
"""

from __future__ import annotations

import argparse
import signal
import sys
from importlib.metadata import entry_points
from types import ModuleType

VERB_GROUP = "dexmv.verbs"
BENCH_GROUP = "dexmv.bench"

DESCRIPTION = """\
DexMV: dexterous manipulation learned from videos of human hands, as a ROS 2 stack.

Every verb has its own --help. Library verbs work on files and need no ROS graph."""


def load_verbs(group: str) -> dict[str, ModuleType]:
    """Import the verb modules registered under `group`, sorted by verb name."""
    verbs: dict[str, ModuleType] = {}
    for ep in sorted(entry_points(group=group), key=lambda e: e.name):
        module = ep.load()
        for attr in ("HELP", "add_arguments", "run"):
            if not hasattr(module, attr):
                raise RuntimeError(f"verb '{ep.name}' ({ep.value}) lacks `{attr}`: see dexmv_bringup/cli/main.py")
        verbs[ep.name] = module
    return verbs


def add_verbs(subparsers: argparse._SubParsersAction, verbs: dict[str, ModuleType], attr: str = "_run") -> None:
    """Add one subparser per verb module; the chosen module's `run` lands in `args.<attr>`."""
    for name, module in verbs.items():
        doc = (module.__doc__ or module.HELP).strip()
        parser = subparsers.add_parser(
            name, help=module.HELP, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        module.add_arguments(parser)
        parser.set_defaults(**{attr: module.run})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dexmv", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    subparsers = parser.add_subparsers(title="verbs", metavar="VERB")
    add_verbs(subparsers, load_verbs(VERB_GROUP))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "_run"):
        parser.print_help()
        return 2
    terminated = _stop_cleanly_on_sigterm()
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("terminated" if terminated else "interrupted", file=sys.stderr)
        return 128 + (signal.SIGTERM if terminated else signal.SIGINT)


def _stop_cleanly_on_sigterm() -> list[int]:
    """SIGTERM (`kill`, a job scheduler, a container stopping) ends a verb as Ctrl-C does, so its
    cleanup runs: worker processes closed, shared memory unlinked, bags and files closed. Python's
    default would end the process on the spot. Verbs that need their own SIGTERM handling (a
    launch, a web server) install it over this one. Returns a list that gets the signal number."""
    received: list[int] = []
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return received

    def handler(signum: int, frame: object) -> None:
        received.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)
    return received


if __name__ == "__main__":
    sys.exit(main())
