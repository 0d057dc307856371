"""Batched stepping: many copies of a task stepped together by several processes, for training.

    from dexmv_sim.vector import DexMVVectorEnv
    envs = DexMVVectorEnv("relocate-mug", num_envs=16, num_workers=2)
    obs, info = envs.reset(seed=0)                 # (16, 39)
    obs, reward, terminated, truncated, info = envs.step(actions)   # actions (16, 30)

or `gymnasium.make_vec("dexmv/Relocate-mug-v0", num_envs=16, num_workers=2)`. num_workers counts
the processes that step, the calling one included: by default it steps a share itself during
step(), beside num_workers - 1 worker processes (step_in_main=False: num_workers worker processes
and a caller that sleeps meanwhile). It is a
gymnasium.vector.VectorEnv (autoreset NEXT_STEP by default, like Gymnasium's own; SAME_STEP on
request, with the final observation in info["final_obs"]).

Why processes and shared memory: MuJoCo's step is ~0.3 ms of C per environment, but the Python
around it (actions, observations, rewards) holds the GIL, so threads cannot overlap it. Workers
write observations, rewards and flags straight into shared-memory arrays that the main process
reads.

Why environments live in shared memory, not in the workers: each environment is its MuJoCo
integration state, step count and generator state in shared memory, and a worker steps any of
them on its one MjData (load, step, store: 2.5-4.3 us beside ~300 us of physics). mj_step derives
everything from the integration state, so results are bit for bit those of a single env wherever
an environment is stepped (tested). Workers claim environments one at a time from a shared
counter, so they finish a batch within about one environment step of each other. With fixed
blocks of 16 environments per worker (the first design) two workers finished ~1 ms apart in a
6 ms batch (episodes with more contacts cost more), and 16 MjData per worker made each step ~18 %
dearer than in a single-env loop when two workers ran (cache); together the batched figure was
x1.4-1.6 of one thread where two independent processes reached x1.8-2.0 (2 vCPUs, measured).

Why the main process steps too: with only worker processes, every batch paid the main process's
wake-up after the last worker finished (~0.1 ms) and a wake-up of every worker, ~5 % of a 16-env
batch per worker. Stepping a share itself, the main process starts at once and sleeps only when a
worker is still on its last environment: in the same runs the batch reached a median 0.94 of two
independent processes against 0.87 with the main process sleeping (6 + 6 alternating benchmark
runs, 2 vCPUs). Ctrl-C is held back while the main process steps (milliseconds), so no environment
is ever left half stepped (tested).

Why semaphores: a batch step is one command byte in shared memory, one POSIX semaphore post per
worker (`go`) and at most one wait in the main process (`wake`, posted by whichever worker finishes
last, after writing the batch number under a lock-protected count; no post when the main process is
last), so nothing is pickled, the main process sleeps in sem_wait (never spins) while a worker still
runs, and it wakes at most once per batch, not once per worker. Measured in a VM with 2 vCPUs, a
pipe round trip cost the worker 2-5x the CPU of a semaphore round trip (Python's framed reads and
writes on top of the wake-ups). The pipe is kept for what is rare: the start handshake, pickled
reset options and tracebacks of failures. Resets and set_states run on fixed blocks of environments
(the first block is the main process's when it steps; the workers' options go through their pipes).
The main process checks once a second while it waits that no worker died; a worker whose parent died
exits on its own.

Seeding: reset(seed=s) gives environment i the generator seeded s + i, and its later episodes
continue that generator (as a single env's do), whatever the number of workers and whichever
worker steps it; environments never seeded draw from OS entropy.
"""

from __future__ import annotations

import _signal  # why: _SigintDeferred
import contextlib
import multiprocessing as mp
import os
import signal
import sys
import threading
import traceback
from collections.abc import Sequence
from multiprocessing.connection import Connection
from multiprocessing.shared_memory import SharedMemory
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv

from dexmv_sim.actions import N_ACTIONS
from dexmv_sim.scene import CONTROL_DT, HORIZON

# commands (one byte in shared memory per worker) and replies (status byte)
_STEP, _RESET, _CLOSE, _SET_STATE = 1, 2, 3, 4
_OK, _FAILED = 0, 1
_POLL_S = 1.0  # how often a waiting side checks that the other side is still alive


class VectorError(RuntimeError):
    """A worker failed (its traceback is in the message) or the batch was used wrongly."""


class _Buffers:
    """Named numpy views on one shared-memory block (created by the parent, attached by workers).

    Per-env scalars live in two blocks (floats: reward, score; flags: success, terminated,
    truncated) so the parent returns them with two copies; the control words (command,
    status, running count, next environment to claim) are also exposed as memoryviews, whose item
    access costs no numpy call. Both matter because the parent runs this code right after waking,
    with cold caches, where each numpy call cost tens of microseconds (measured).

    The environments themselves live here too: each one's integration state, episode step count,
    end-of-episode flag and random generator state (PCG64: state and increment as 64-bit halves,
    has_uint32, uinteger), so that any worker can step any environment.
    """

    def __init__(self, num_envs: int, num_workers: int, obs_dim: int, state_size: int, create: bool,
                 name: str | None = None) -> None:
        layout = [("actions", (num_envs, N_ACTIONS), np.float64), ("obs", (num_envs, obs_dim), np.float64),
                  ("states", (num_envs, state_size), np.float64),
                  ("final_obs", (num_envs, obs_dim), np.float64), ("floats", (2, num_envs), np.float64),
                  ("flags", (3, num_envs), np.bool_), ("seeds", (num_envs,), np.int64),
                  ("has_seed", (num_envs,), np.bool_), ("steps", (num_envs,), np.int64),
                  ("ended", (num_envs,), np.bool_), ("rngs", (num_envs, 6), np.uint64),
                  ("command", (num_workers,), np.uint8), ("status", (num_workers,), np.uint8),
                  ("running", (1,), np.int64), ("next", (1,), np.int64), ("batch", (1,), np.int64),
                  ("completed", (1,), np.int64)]
        offsets, total = [], 0
        for _, shape, dtype in layout:
            total = (total + 63) // 64 * 64  # each array starts on its own cache line
            offsets.append(total)
            total += int(np.prod(shape)) * np.dtype(dtype).itemsize
        self.shm = SharedMemory(create=True, size=total) if create else SharedMemory(name=name)
        self.name = self.shm.name
        for (key, shape, dtype), offset in zip(layout, offsets, strict=True):
            setattr(self, key, np.ndarray(shape, dtype=dtype, buffer=self.shm.buf, offset=offset))
        self.reward, self.score = self.floats
        self.success, self.terminated, self.truncated = self.flags
        self.command_bytes, self.status_bytes, self.running_count, self.next_env = self.command.data, \
            self.status.data, self.running.data, self.next.data
        self.batch_number, self.completed_batch = self.batch.data, self.completed.data

    def release(self, unlink: bool) -> None:
        for key in list(vars(self)):
            value = getattr(self, key)
            if isinstance(value, memoryview):
                value.release()
            if isinstance(value, np.ndarray | memoryview):
                delattr(self, key)
        self.shm.close()
        if unlink:
            self.shm.unlink()


_MASK64 = (1 << 64) - 1


def store_generator(generator: np.random.Generator, row: np.ndarray) -> None:
    """Write a PCG64 generator's full state into six uint64 values."""
    state = generator.bit_generator.state
    if state["bit_generator"] != "PCG64":
        raise VectorError(f"environment generators must be PCG64, got {state['bit_generator']}")
    value, inc = state["state"]["state"], state["state"]["inc"]
    row[:] = (value >> 64, value & _MASK64, inc >> 64, inc & _MASK64, state["has_uint32"], state["uinteger"])


def load_generator(generator: np.random.Generator, row: np.ndarray) -> np.random.Generator:
    """Set a PCG64 generator to the state stored by store_generator; returns it."""
    hi, lo, inc_hi, inc_lo, has_uint32, uinteger = (int(v) for v in row)
    generator.bit_generator.state = {"bit_generator": "PCG64",
                                     "state": {"state": hi << 64 | lo, "inc": inc_hi << 64 | inc_lo},
                                     "has_uint32": has_uint32, "uinteger": uinteger}
    return generator


class _Stepper:
    """A stepping process's half of the protocol (a worker's, or the main process's share): one
    simulation that steps whichever environment it claims, loading the environment from shared
    memory and storing it back (why: see the module docstring)."""

    def __init__(self, task_id: str, mesh_dir: str | None, buffers: _Buffers, lock, same_step: bool,
                 horizon: int, sim=None) -> None:
        from dexmv_sim.simulation import TaskSimulation

        self.sim = sim if sim is not None else TaskSimulation(task_id, mesh_dir=mesh_dir)
        self.generator = np.random.default_rng()  # its state is replaced by an environment's before use
        self.b, self.lock, self.same_step, self.horizon = buffers, lock, same_step, horizon
        self.num_envs = len(buffers.obs)

    # ------------------------------------------------------------------ one environment
    def _reset_env(self, i: int, options: dict | None):
        """New episode for environment i from its generator (or a new one from its seed)."""
        b, sim = self.b, self.sim
        generator = load_generator(self.generator, b.rngs[i])
        sim.reset(generator, options)
        store_generator(generator, b.rngs[i])
        b.ended[i] = False
        return sim.task.outputs()

    def _store(self, i: int) -> None:
        self.sim.get_state(out=self.b.states[i])
        self.b.steps[i] = self.sim.steps

    def step_env(self, i: int) -> None:
        b, sim = self.b, self.sim
        reward, truncated = 0.0, False
        if b.ended[i] and not self.same_step:  # NEXT_STEP: this step is the reset
            out = self._reset_env(i, None)
            b.obs[i] = out.observation
        else:
            sim.load_state(b.states[i], int(b.steps[i]))
            sim.step_action(b.actions[i])
            out = sim.task.outputs()
            reward, truncated = out.reward, sim.steps >= self.horizon
            if truncated and self.same_step:
                b.final_obs[i] = out.observation
                b.obs[i] = self._reset_env(i, None).observation
            else:
                b.ended[i] = truncated
                b.obs[i] = out.observation
        self._store(i)
        b.reward[i], b.score[i], b.success[i], b.truncated[i], b.terminated[i] = \
            reward, out.score, out.success, truncated, False

    def reset_env(self, i: int, options: dict | None) -> None:
        b = self.b
        if b.has_seed[i]:
            store_generator(np.random.default_rng(int(b.seeds[i])), b.rngs[i])
        out = self._reset_env(i, options)
        b.obs[i], b.score[i], b.success[i] = out.observation, out.score, out.success
        b.reward[i], b.terminated[i], b.truncated[i] = 0.0, False, False
        self._store(i)

    def set_state_env(self, i: int) -> None:
        b, sim = self.b, self.sim
        sim.set_state(b.states[i])
        sim.steps = 0
        out = sim.task.outputs()
        b.obs[i], b.score[i], b.success[i] = out.observation, out.score, out.success
        b.reward[i], b.terminated[i], b.truncated[i], b.ended[i], b.steps[i] = 0.0, False, False, False, 0

    # ------------------------------------------------------------------ commands
    def step(self) -> None:
        """Claim and step environments until none is left in this batch."""
        next_env, lock, n = self.b.next_env, self.lock, self.num_envs
        while True:
            with lock:
                i = next_env[0]
                next_env[0] = i + 1
            if i >= n:
                return
            self.step_env(i)

    def reset(self, first: int, options: Sequence[dict | None]) -> None:
        """Reset environments [first, first + len(options)) (resets are spread by fixed blocks:
        their options come through this worker's pipe)."""
        for k, option in enumerate(options):
            self.reset_env(first + k, option)

    def set_states(self, first: int, count: int) -> None:
        for i in range(first, first + count):
            self.set_state_env(i)


def _finish(buffers: _Buffers, lock) -> bool:
    """Count one stepping process out of the batch; the last one marks the batch completed by
    writing its number (True: this was the last)."""
    with lock:
        buffers.running_count[0] -= 1
        last = buffers.running_count[0] == 0
        if last:
            buffers.completed_batch[0] = buffers.batch_number[0]
    return last


def _worker(conn: Connection, go, wake, lock, index: int, task_id: str, mesh_dir: str | None, shm_name: str,
            num_envs: int, num_workers: int, obs_dim: int, state_size: int, first: int, count: int,
            autoreset: str, horizon: int) -> None:
    """Wait on `go`, run the command (steps: any environment, claimed one at a time; resets and set
    states: the fixed block [first, first + count)); the last worker to finish marks the batch
    completed and posts `wake`."""
    buffers = None
    parent = os.getppid()
    # Ctrl-C in a terminal signals the whole process group: the parent decides what happens (it
    # collects an interrupted batch on its next call, or closes us), so workers keep serving
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        buffers = _Buffers(num_envs, num_workers, obs_dim, state_size, create=False, name=shm_name)
        stepper = _Stepper(task_id, mesh_dir, buffers, lock, autoreset == AutoresetMode.SAME_STEP.value, horizon)
        conn.send_bytes(b"k")
        while True:
            while not go.acquire(timeout=_POLL_S):
                if os.getppid() != parent:  # the parent died without closing us
                    return
            command = buffers.command_bytes[index]
            if command == _CLOSE:
                break
            try:
                if command == _STEP:
                    stepper.step()
                elif command == _RESET:
                    stepper.reset(first, conn.recv())
                else:
                    stepper.set_states(first, count)
                buffers.status_bytes[index] = _OK
            except Exception:  # a bad request (e.g. reset options): report it, keep serving
                buffers.status_bytes[index] = _FAILED
                conn.send_bytes(traceback.format_exc().encode())
            if _finish(buffers, lock):
                wake.release()
    except (KeyboardInterrupt, EOFError, BrokenPipeError):
        pass
    except Exception:  # report any failure to the parent with its traceback
        with contextlib.suppress(BrokenPipeError, OSError):
            conn.send_bytes(b"E" + traceback.format_exc().encode())
    finally:
        if buffers is not None:
            buffers.release(unlink=False)
        conn.close()


class _SigintDeferred:
    """Hold Ctrl-C (SIGINT) back until the block ends, then deliver it.

    KeyboardInterrupt can be raised between any two bytecodes: in the middle of an environment's
    step it would leave that environment half stepped (observation written, state not) while the
    others went on, and a batch started in some workers but not others. A batch's start and the
    main process's share take milliseconds, so the delay is not felt. Python runs signal handlers
    in the main thread only, so other threads need nothing; a handler not set from Python is left
    alone.

    It uses `_signal`, the C module that `signal` wraps: `signal.signal` converts its result to an
    enum through a caught exception, 3 us a call against 0.3 us (measured), and this runs twice
    per batch while no other process steps.
    """

    def __init__(self) -> None:
        self.received = False
        self.previous = None

    def _receive(self, signum, frame) -> None:
        self.received = True

    def __enter__(self) -> None:
        self.received, self.previous = False, None
        if threading.current_thread() is threading.main_thread() and _signal.getsignal(signal.SIGINT) is not None:
            self.previous = _signal.signal(signal.SIGINT, self._receive)

    def __exit__(self, *exc: object) -> None:
        if self.previous is None:
            return
        _signal.signal(signal.SIGINT, self.previous)
        if self.received:
            signal.raise_signal(signal.SIGINT)


@contextlib.contextmanager
def _main_module_hidden():
    """Keep spawned workers from re-running the parent's main script.

    A spawned child imports the parent's `__main__` by path; scripts without an
    `if __name__ == "__main__"` guard (console entry points such as `dexmv`) would then run again
    in every worker. Workers need nothing from `__main__` (their target lives in this module), so
    the path is hidden while they start.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or path is None or getattr(main, "__spec__", None) is not None:
        yield
        return
    del main.__file__
    try:
        yield
    finally:
        main.__file__ = path


def default_num_workers() -> int:
    """One worker per core this process may run on (os.sched_getaffinity, not os.cpu_count)."""
    return len(os.sched_getaffinity(0))


def process_cpu_seconds(pid: int) -> float:
    """CPU time a process (all its threads) has used, from Linux /proc: schedstat's nanoseconds
    where the kernel provides them, else stat's clock ticks (10 ms resolution)."""
    tasks = Path(f"/proc/{pid}/task")
    try:
        return sum(int((t / "schedstat").read_text().split()[0]) for t in tasks.iterdir()) * 1e-9
    except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


class DexMVVectorEnv(VectorEnv):
    """`num_envs` copies of one task stepped by `num_workers` processes (default: one per core).

    With `step_in_main` (the default) the calling process is one of them: it steps a share of the
    environments itself during step(), beside num_workers - 1 worker processes. With
    step_in_main=False all num_workers are worker processes and the caller sleeps while they step,
    which suits a caller whose other threads need the CPU and the GIL meanwhile.
    """

    def __init__(self, task: str = "relocate-mustard_bottle", num_envs: int = 8, *, num_workers: int | None = None,
                 step_in_main: bool = True, mesh_dir: str | Path | None = None,
                 autoreset_mode: str | AutoresetMode = AutoresetMode.NEXT_STEP, max_episode_steps: int = HORIZON,
                 start_method: str = "spawn") -> None:
        from dexmv_sim.simulation import TaskSimulation

        if num_envs < 1:
            raise VectorError(f"num_envs must be at least 1, got {num_envs}")
        mode = AutoresetMode(autoreset_mode)
        if mode == AutoresetMode.DISABLED:
            raise VectorError("autoreset_mode DISABLED is not supported: use NEXT_STEP or SAME_STEP")
        workers = num_workers or default_num_workers()
        workers = max(1, min(workers, num_envs))
        children = workers - 1 if step_in_main else workers
        probe = TaskSimulation(task, mesh_dir=mesh_dir)  # fails here, with a clear error, on bad arguments
        self.task_id = task
        self.num_envs = num_envs
        self.obs_dim = probe.obs_dim
        self.metadata = {"autoreset_mode": mode, "render_fps": round(1.0 / CONTROL_DT)}
        self.single_observation_space = spaces.Box(-np.inf, np.inf, (self.obs_dim,), np.float64)
        self.single_action_space = spaces.Box(-1.0, 1.0, (N_ACTIONS,), np.float32)
        self.observation_space = gymnasium.vector.utils.batch_space(self.single_observation_space, num_envs)
        self.action_space = gymnasium.vector.utils.batch_space(self.single_action_space, num_envs)
        self.state_size = probe.state_size
        self._buffers = _Buffers(num_envs, children, self.obs_dim, self.state_size, create=True)
        # environments not seeded at their first reset draw from fresh OS entropy, as gymnasium's do
        for row, entropy in zip(self._buffers.rngs, np.random.SeedSequence().spawn(num_envs), strict=True):
            store_generator(np.random.default_rng(entropy), row)
        self._same_step = mode == AutoresetMode.SAME_STEP
        self._batch = 0  # number of the last batch started
        self._pending = False  # a batch was started and its end not yet collected
        self._all = np.ones(num_envs, dtype=bool)  # the "_success"/"_score" masks: every env, every step
        self._all.flags.writeable = False
        self._closed = False
        self._sigint_deferred = _SigintDeferred()
        sizes = [num_envs // workers + (1 if w < num_envs % workers else 0) for w in range(workers)]
        starts = np.cumsum([0, *sizes[:-1]])
        ctx = mp.get_context(start_method)
        self._conns: list[Connection] = []
        self._procs: list[mp.process.BaseProcess] = []
        self._go = [ctx.Semaphore(0) for _ in range(children)]
        self._wake = ctx.Semaphore(0)
        self._lock = ctx.Lock()
        # resets and set_states: block 0 is the main process's when it steps, the rest the workers'
        self._blocks = list(zip(starts.tolist(), sizes, strict=True))
        self._main = _Stepper(task, None, self._buffers, self._lock, self._same_step, int(max_episode_steps),
                              sim=probe) if step_in_main else None
        try:
            for index, (first, count) in enumerate(self._blocks[len(self._blocks) - children:]):
                parent, child = ctx.Pipe()
                proc = ctx.Process(target=_worker, daemon=True, name=f"dexmv-sim-worker-{first}",
                                   args=(child, self._go[index], self._wake, self._lock, index, task,
                                         None if mesh_dir is None else str(mesh_dir), self._buffers.name, num_envs,
                                         len(self._go), self.obs_dim, self.state_size, first, count, mode.value,
                                         int(max_episode_steps)))
                with _main_module_hidden():
                    proc.start()
                child.close()
                self._conns.append(parent)
                self._procs.append(proc)
            for conn in self._conns:
                self._started(conn)
        except BaseException:
            self.close()
            raise

    @property
    def num_workers(self) -> int:
        """Processes that step environments, the main process included when it steps."""
        return len(self._procs) + (self._main is not None)

    @property
    def worker_pids(self) -> list[int]:
        return [proc.pid for proc in self._procs]

    def worker_cpu_seconds(self) -> float:
        """CPU time (user + system) the worker processes (not the main process) have used so far
        (Linux /proc)."""
        return sum(process_cpu_seconds(pid) for pid in self.worker_pids)

    # ------------------------------------------------------------------ protocol
    def _dead(self) -> VectorError:
        return VectorError(f"a worker of {self.task_id} died (exit codes {[p.exitcode for p in self._procs]})")

    def _started(self, conn: Connection) -> None:
        try:
            reply = conn.recv_bytes()
        except EOFError:
            raise self._dead() from None
        if reply.startswith(b"E"):
            raise VectorError(f"a worker of {self.task_id} failed:\n{reply[1:].decode()}")

    def _run(self, command: int, payloads: Sequence[Any] | None = None) -> None:
        """Every stepping process runs `command`; returns when all are done."""
        failure = self._start(command, payloads)
        self._wait()
        if failure is not None:
            raise VectorError(f"{self.task_id} failed in the main process:\n{failure}")

    def _settle(self) -> None:
        """Before touching shared memory: the env must be open and no batch may still be running
        (a wait interrupted, e.g. by Ctrl-C, left one behind: collect it first)."""
        if self._closed:
            raise VectorError("the vector env is closed")
        if self._pending:
            self._wait()

    def _start(self, command: int, payloads: Sequence[Any] | None = None) -> str | None:
        """Start `command` in the workers and run the main process's share of it, if it steps;
        returns the share's traceback if it failed (raised once the batch is collected).

        Ctrl-C is held back meanwhile, so a batch starts whole or not at all and no environment
        is left half-stepped (see _SigintDeferred).
        """
        self._settle()
        b = self._buffers
        with self._sigint_deferred:
            try:
                for w, conn in enumerate(self._conns if payloads is not None else ()):
                    conn.send(payloads[w + (self._main is not None)])
            except OSError:  # BrokenPipeError, ConnectionResetError: a worker is gone
                raise self._dead() from None
            for w in range(len(self._go)):
                b.command_bytes[w] = command
            b.running_count[0] = len(self._go) + (self._main is not None)  # none runs now: no lock needed
            b.next_env[0] = 0
            self._batch += 1
            b.batch_number[0] = self._batch
            self._pending = True
            for go in self._go:
                go.release()
            return None if self._main is None else self._main_share(command, payloads)

    def _main_share(self, command: int, payloads: Sequence[Any] | None) -> str | None:
        """The main process steps environments as a worker does (steps: any, claimed one at a time;
        resets and set_states: block 0), then counts itself done."""
        failure = None
        first, count = self._blocks[0]
        try:
            if command == _STEP:
                self._main.step()
            elif command == _RESET:
                self._main.reset(first, payloads[0])
            else:
                self._main.set_states(first, count)
        except Exception:  # as a worker's: reported after the batch, the env stays usable
            failure = traceback.format_exc()
        finally:  # whatever else happens (SystemExit from a signal handler), the batch can complete
            _finish(self._buffers, self._lock)
        return failure

    def _wait(self) -> None:
        """Sleep until the batch is completed.

        A post of `wake` is only a wake-up call; the batch is completed when the last worker has
        written its number, so a wait interrupted anywhere (Ctrl-C) and resumed cannot take a post
        for its completion twice, or return before it.

        The main process sleeps, it never spins: one that spun for the last step of a batch (once
        a worker had found nothing left to claim) was often scheduled on the core of the worker
        still stepping, and halved the throughput (measured, 2 vCPUs, when the main process did not
        step). When it steps it sleeps only if a worker still steps once its share is done.
        """
        b, batch = self._buffers, self._batch
        completed = b.completed_batch
        while completed[0] != batch:
            if not self._wake.acquire(timeout=_POLL_S) and not all(proc.is_alive() for proc in self._procs):
                raise self._dead()
        self._pending = False
        b = self._buffers
        if any(b.status_bytes):
            failures = [self._conns[w].recv_bytes().decode() for w, s in enumerate(b.status_bytes) if s != _OK]
            raise VectorError(f"a worker of {self.task_id} failed:\n{failures[0]}")

    def _info(self, floats: np.ndarray, flags: np.ndarray) -> dict[str, np.ndarray]:
        """Info from copies of the shared floats and flags (every env reports every key)."""
        return {"success": flags[0], "_success": self._all, "score": floats[1], "_score": self._all}

    # ------------------------------------------------------------------ VectorEnv API
    def reset(self, *, seed: int | Sequence[int | None] | None = None, options: dict | Sequence[dict] | None = None):
        b = self._buffers
        if seed is None:
            b.has_seed[:] = False
        elif isinstance(seed, int | np.integer):
            b.seeds[:] = int(seed) + np.arange(self.num_envs)
            b.has_seed[:] = True
        else:
            if len(seed) != self.num_envs:
                raise VectorError(f"{len(seed)} seeds for {self.num_envs} environments")
            b.has_seed[:] = [s is not None for s in seed]
            b.seeds[:] = [0 if s is None else int(s) for s in seed]
        if options is None or isinstance(options, dict):
            per_env = [options] * self.num_envs
        else:
            per_env = list(options)
            if len(per_env) != self.num_envs:
                raise VectorError(f"{len(per_env)} option dicts for {self.num_envs} environments")
        self._run(_RESET, [per_env[first:first + count] for first, count in self._blocks])
        return b.obs.copy(), self._info(b.floats.copy(), b.flags.copy())

    def step(self, actions: np.ndarray):
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs, N_ACTIONS):
            raise VectorError(f"actions must have shape ({self.num_envs}, {N_ACTIONS}), got {actions.shape}")
        b = self._buffers
        b.actions[:] = actions
        self._run(_STEP)
        # three copies in all; reward, score and the flags are rows (views) of the float and flag copies
        obs, floats, flags = b.obs.copy(), b.floats.copy(), b.flags.copy()
        info = self._info(floats, flags)
        if self._same_step and flags[2].any():
            info["final_obs"] = np.where(flags[2][:, None], b.final_obs, 0.0)
            info["_final_obs"] = flags[2]
        return obs, floats[0], flags[1], flags[2], info

    def get_states(self) -> list[np.ndarray]:
        """Every environment's integration state (see TaskSimulation.get_state), in order."""
        self._settle()
        return list(self._buffers.states.copy())

    def set_states(self, states: Sequence[np.ndarray]):
        """Restore states from get_states (episodes restart their step count); returns the observations."""
        if len(states) != self.num_envs:
            raise VectorError(f"{len(states)} states for {self.num_envs} environments")
        for i, state in enumerate(states):
            state = np.asarray(state, dtype=np.float64).ravel()
            if state.size != self.state_size:
                raise VectorError(f"state {i} has {state.size} values, {self.task_id} states have {self.state_size}")
            self._buffers.states[i] = state
        self._run(_SET_STATE)
        return self._buffers.obs.copy()

    def close_extras(self, **kwargs: Any) -> None:
        if self._closed:
            return
        self._closed = True
        for w in range(len(self._go)):
            self._buffers.command_bytes[w] = _CLOSE
        for go in self._go[:len(self._procs)]:
            go.release()
        for proc in self._procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
        for conn in self._conns:
            conn.close()
        self._buffers.release(unlink=True)

    def __enter__(self) -> DexMVVectorEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            self.close()
