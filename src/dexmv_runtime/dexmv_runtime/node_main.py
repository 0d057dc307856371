"""`run_node`: rclpy init, executor, spin, and a clean exit on Ctrl-C/SIGTERM, for every node.

Why one module: a SIGINT can land anywhere in a node's life, and each place needs its own care:
- while Python modules still load (before rclpy installs its handler): `quiet_interrupts()`,
  called first thing by a node module, turns it into a silent exit 0;
- inside the executor's constructor (a half-built executor prints a traceback when collected):
  the executor is made before the node announces itself;
- while rclpy takes a message: pybind11 surfaces the interrupt as "Unable to convert call
  argument" (RuntimeError), and rclpy's signal thread shuts the context down a moment later;
  the RuntimeError is a real error only if the context is still up after a second.
Errors the node's constructor raises for bad parameters or input (`startup_errors`) are one log
line and exit code 1, not a traceback.
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable
from typing import Any

_QUIET_INSTALLED = False


def _exit_quietly(signum: int, frame: Any) -> None:
    raise SystemExit(0)


def quiet_interrupts() -> None:
    """Make SIGINT/SIGTERM a silent exit 0 until `run_node` hands signals to rclpy.

    Call it before a node module's heavy imports (MuJoCo, torch, MediaPipe take seconds), so a
    Ctrl-C during them neither prints a traceback nor exits -2."""
    global _QUIET_INSTALLED
    signal.signal(signal.SIGINT, _exit_quietly)
    signal.signal(signal.SIGTERM, _exit_quietly)
    _QUIET_INSTALLED = True


def _spin_forever(executor: Any, node: Any) -> None:
    executor.add_node(node)
    executor.spin()


def run_node(
    make_node: Callable[[], Any],
    *,
    name: str,
    args: list[str] | None = None,
    startup_errors: tuple[type[BaseException], ...] = (),
    spin: Callable[[Any, Any], None] | None = None,
) -> int:
    """Run one node to completion and return the process exit code.

    make_node: builds the node (after rclpy.init); startup_errors it raises become one error line
    under `name` and exit code 1. spin(executor, node): the loop (default: add the node and spin
    until shutdown); it may return to end the node normally (e.g. end of a recording).
    The node's optional `shutdown()` runs before `destroy_node()`, on every path.
    """
    import rclpy
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor

    rclpy.init(args=args)
    if _QUIET_INSTALLED:
        # rclpy installed its own SIGINT handler in init; SIGTERM ends the spin the same way.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    executor = SingleThreadedExecutor()
    try:
        node = make_node()
    except startup_errors as err:
        rclpy.logging.get_logger(name).error(str(err))
        rclpy.try_shutdown()
        return 1
    except (KeyboardInterrupt, ExternalShutdownException):
        rclpy.try_shutdown()
        return 0
    try:
        (spin or _spin_forever)(executor, node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except RuntimeError:
        deadline = time.monotonic() + 1.0
        while rclpy.ok() and time.monotonic() < deadline:
            time.sleep(0.005)
        if rclpy.ok():
            raise
    finally:
        shutdown = getattr(node, "shutdown", None)
        if callable(shutdown):
            shutdown()
        node.destroy_node()
        executor.shutdown(timeout_sec=0.5)
        rclpy.try_shutdown()
    return 0


def exit_with(code: int) -> None:
    """`sys.exit` for `if __name__ == "__main__"` blocks, named so the intent reads."""
    sys.exit(code)
