"""`run_node`: rclpy init, executor, spin, and a clean exit on Ctrl-C/SIGTERM, for every node.

Why one module: a SIGINT or SIGTERM can land anywhere in a node's life, and each place needs its
own care. One pair of Python handlers acts by phase:
- loading (Python modules still import; MuJoCo, torch, MediaPipe take seconds): `quiet_interrupts()`,
  called first thing by a node module, turns a signal into an immediate silent exit 0 (os._exit:
  an exception raised inside a C extension's import could come out as another error);
- constructing (the node's constructor, which may load models for seconds): the signal raises an
  exception that stops the construction; the process exits 0. The executor is made before the node
  announces itself and with signals held back (a half-built executor prints an error when
  collected);
- spinning: the signal is only recorded and the executor woken; the spin loop
  (`spin_until_interrupted`, which custom spins use too) sees it and returns, then the node shuts
  down normally and the process exits 0. Nothing is raised here: an exception that lands inside
  rclpy's executor (say while it builds a Task for a callback) leaves half-built objects whose
  finalisers print "Exception ignored" tracebacks at exit;
- cleaning up (the node's `shutdown()`, `destroy_node()`, executor and context shutdown): further
  signals are only noted, so a recorder still closes its bag.
A repeated signal while the node still spins means the spin loop is blocked (a callback that does
not return): that one raises, as a plain Python handler would. A node must not hang on its way out:
from the first signal (or from the start of cleanup, on a normal end) a watchdog gives it
`shutdown_limit_s` seconds; past that, faulthandler prints every thread's stack to stderr and the
process exits 1. The watchdog is a C thread, so it fires even when the main thread is stuck inside
a C call (a DDS call that never returns), where no Python signal handler can run.
rclpy's own signal handlers are not installed: they shut the context down from another thread the
moment a signal arrives, so a node's shutdown() could no longer publish its last messages or wait
for them to be acknowledged. Instead the signal's wakeup byte (signal.set_wakeup_fd) wakes a small
thread, started by quiet_interrupts(), that arms the watchdog and wakes the executor, as rclpy's
handler would, and the spin loop sees the signal. Because that thread, not the main thread, arms
the watchdog, a node whose main thread is stuck in a C call that ignores signals (a DDS call during
rclpy.init, a lock inside a library's import) still exits within the limit, with its stacks.
A signal that lands in a constructor while pybind11 converts an argument surfaces as a
RuntimeError ("Unable to convert call argument"); the handler has recorded the signal by then, so
that error is known to be the interrupt and is not reported. Errors the node's constructor raises
for bad parameters or input (`startup_errors`) are one log line and exit code 1, not a traceback.
Other errors stay tracebacks with exit code 1: they are bugs.
"""

from __future__ import annotations

import atexit
import contextlib
import faulthandler
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

_LOADING, _HOLDING, _CONSTRUCTING, _SPINNING, _CLEANING = "loading", "holding", "constructing", "spinning", "cleaning"
_phase = _LOADING
_installed = False
_signalled: int | None = None  # the first SIGINT/SIGTERM received, if any
SHUTDOWN_LIMIT_S = 20.0  # default: generous on a loaded machine, and below launch's SIGKILL (10 s + 15 s)
_shutdown_limit_s = SHUTDOWN_LIMIT_S
_watchdog_armed = False


class _Stop(BaseException):
    """Raised by the handler while the node is built; BaseException so `except Exception` lets it pass."""


def _on_signal(signum: int, frame: Any) -> None:
    global _signalled
    first = _signalled is None
    if first:
        _signalled = signum
    if _phase == _LOADING:
        # Nothing to clean up yet, and an exception raised inside an import can be turned into
        # another error by the importing library (numpy reports an ImportError with a traceback).
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # a stream written right now: only its buffer is lost
                stream.flush()
        os._exit(0)
    if _phase == _CONSTRUCTING and first:
        raise _Stop
    if _phase in (_SPINNING, _CLEANING):
        _arm_watchdog()
    if _phase == _SPINNING and not first:
        raise _Stop  # the first one did not end the spin loop: something in it blocks
    # holding (executor construction), a first signal while spinning (the spin loop polls
    # `interrupted()`; the waker thread has woken the executor), cleaning: noted only


def _arm_watchdog() -> None:
    """Exit 1 with every thread's stack on stderr unless the process is gone in _shutdown_limit_s."""
    global _watchdog_armed
    if _watchdog_armed:
        return
    _watchdog_armed = True
    with contextlib.suppress(Exception):  # stderr closed or not a file: no watchdog rather than no exit
        faulthandler.dump_traceback_later(_shutdown_limit_s, exit=True, file=sys.stderr)


def quiet_interrupts(shutdown_limit_s: float | None = None) -> None:
    """Make SIGINT/SIGTERM a silent exit 0 while the node module loads, and a clean stop later.

    Call it before a node module's heavy imports so a Ctrl-C during them neither prints a
    traceback nor exits -2. run_node calls it too, for modules that did not. shutdown_limit_s:
    the watchdog's limit until run_node sets its own (default SHUTDOWN_LIMIT_S)."""
    global _installed, _watcher
    if shutdown_limit_s is not None:
        _set_shutdown_limit(shutdown_limit_s)
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    if _watcher is None:
        _watcher = _SignalWatcher()
    _installed = True


def _set_shutdown_limit(seconds: float) -> None:
    global _shutdown_limit_s
    if not seconds > 0:
        raise ValueError(f"shutdown_limit_s must be positive, got {seconds}")
    _shutdown_limit_s = float(seconds)


def interrupted() -> bool:
    """Whether SIGINT or SIGTERM has arrived: for custom spin loops that must end on their own."""
    return _signalled is not None


def spin_until_interrupted(executor: Any, done: Callable[[], bool] | None = None, period: float = 0.1) -> None:
    """Serve callbacks until SIGINT/SIGTERM (or `done()` is true, or the context shuts down).

    The loop every spin function passed to run_node should use: signals do not raise while a node
    spins, they end this loop. `period` bounds how long `done` goes unchecked."""
    context = executor.context
    while not interrupted() and context.ok() and not (done is not None and done()):
        executor.spin_once(timeout_sec=period)


def _spin_forever(executor: Any, node: Any) -> None:
    executor.add_node(node)
    spin_until_interrupted(executor)


def run_node(
    make_node: Callable[[], Any],
    *,
    name: str,
    args: list[str] | None = None,
    startup_errors: tuple[type[BaseException], ...] = (),
    spin: Callable[[Any, Any], None] | None = None,
    shutdown_limit_s: float = SHUTDOWN_LIMIT_S,
) -> int:
    """Run one node to completion and return the process exit code.

    make_node: builds the node (after rclpy.init); startup_errors it raises become one error line
    under `name` and exit code 1. spin(executor, node): the loop (default: add the node and spin
    until shutdown); it may return to end the node normally (e.g. end of a recording).
    The node's optional `shutdown()` runs before `destroy_node()`, on every path once the node
    exists, with the context still up (it may still publish); SIGINT/SIGTERM exit 0.
    shutdown_limit_s: seconds from the first signal, or from the start of cleanup, after which a
    process that has not exited prints its threads' stacks and exits 1 (see the module docstring).
    """
    global _phase
    _set_shutdown_limit(shutdown_limit_s)
    if not _installed:
        quiet_interrupts()
    if _signalled is not None:
        return 0  # a signal arrived during loading but run_node was reached all the same
    import rclpy
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
    from rclpy.signals import SignalHandlerOptions

    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    node = executor = None
    code = 0
    try:
        _phase = _HOLDING
        executor = SingleThreadedExecutor()
        if _watcher is not None:
            _watcher.executor = executor
        if _signalled is None:
            _phase = _CONSTRUCTING
            try:
                node = make_node()
                _phase = _SPINNING
            except startup_errors as err:
                _phase = _CLEANING
                if _signalled is None:
                    message = " ".join(str(err).split()) or type(err).__name__
                    rclpy.logging.get_logger(name).error(message)
                    code = 1
            else:
                if _signalled is None:
                    (spin or _spin_forever)(executor, node)
                _phase = _CLEANING
    except (_Stop, KeyboardInterrupt, ExternalShutdownException):
        _phase = _CLEANING
    except RuntimeError:
        _phase = _CLEANING
        if _signalled is None:
            raise  # a real error, not a signal caught mid-conversion by pybind11
    finally:
        _phase = _CLEANING
        _arm_watchdog()
        if _watcher is not None:
            _watcher.executor = None  # cleanup shuts the executor down: no more wake-ups
        cleanup = _clean_up(rclpy, node, executor)
        _disarm_watchdog_until_exit()
    return max(code, cleanup)


def _disarm_watchdog_until_exit() -> None:
    """The node is cleaned up: the caller may go on (a test); the watchdog guards the interpreter's exit."""
    global _watchdog_armed
    faulthandler.cancel_dump_traceback_later()
    _watchdog_armed = False
    atexit.register(_arm_watchdog)


class _SignalWatcher:
    """A thread that sees every SIGINT/SIGTERM, whatever the main thread is doing.

    The interpreter's C-level handler writes each signal's number to the wakeup fd from whatever
    thread received it; this thread reads it, arms the exit watchdog and triggers the executor's
    guard condition, which returns the main thread from rcl_wait to Python, where the handler runs.
    Arming here matters when the main thread is stuck in C code that retries on EINTR or holds a
    lock: its Python handler never runs, but this thread still does (the stuck call has released
    the GIL; a call that holds it forever stops every thread, and only launch's SIGKILL helps).
    One per process, from quiet_interrupts() to exit (a daemon thread; set_wakeup_fd is process-wide).
    """

    def __init__(self) -> None:
        self.executor: Any = None  # set by run_node while an executor exists
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)
        signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        threading.Thread(target=self._run, name="dexmv-signal-watcher", daemon=True).start()

    def _run(self) -> None:
        while data := os.read(self._read, 64):  # one byte per signal: its number
            if signal.SIGINT in data or signal.SIGTERM in data:
                _arm_watchdog()
            executor = self.executor
            if executor is not None:
                with contextlib.suppress(Exception):  # the executor is going away: the main thread is awake
                    executor.wake()


_watcher: _SignalWatcher | None = None


def _clean_up(rclpy: Any, node: Any, executor: Any) -> int:
    """Node shutdown(), destroy_node(), executor and context shutdown: each runs even if one fails."""
    failed = False
    steps = []
    if node is not None:
        shutdown = getattr(node, "shutdown", None)
        if callable(shutdown):
            steps.append(shutdown)
    if executor is not None:
        steps.append(lambda: executor.shutdown(timeout_sec=0.5))
    if node is not None:
        steps.append(node.destroy_node)
    steps.append(rclpy.try_shutdown)
    for step in steps:
        try:
            step()
        except Exception:  # reported, and the remaining steps still run
            import traceback

            traceback.print_exc()
            failed = True
    return 1 if failed else 0


def exit_with(code: int) -> None:
    """`sys.exit` for `if __name__ == "__main__"` blocks, named so the intent reads."""
    sys.exit(code)
