"""Batched stepping: many copies of a task stepped together by worker processes, for training.

    from dexmv_sim.vector import DexMVVectorEnv
    envs = DexMVVectorEnv("relocate-mug", num_envs=16, num_workers=2)
    obs, info = envs.reset(seed=0)                 # (16, 39)
    obs, reward, terminated, truncated, info = envs.step(actions)   # actions (16, 30)

or `gymnasium.make_vec("dexmv/Relocate-mug-v0", num_envs=16, num_workers=2)`. It is a
gymnasium.vector.VectorEnv (autoreset NEXT_STEP by default, like Gymnasium's own; SAME_STEP on
request, with the final observation in info["final_obs"]).

Why processes and shared memory: MuJoCo's step is ~0.3 ms of C per environment, but the Python
around it (actions, observations, rewards) holds the GIL, so threads cannot overlap it. Each
worker process owns a contiguous block of environments and writes observations, rewards and flags
straight into shared-memory arrays that the main process reads; per batch step only a one-byte
command goes down and a one-byte reply comes back through a pipe, nothing is pickled (only reset
options, when given, travel pickled from the main process to its own workers). The main process
sleeps while workers run, so all cores step environments.

Seeding: reset(seed=s) gives environment i the generator seeded s + i, whatever the number of
workers, so results do not depend on how environments are spread over processes.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import sys
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

_STEP, _RESET, _CLOSE, _GET_STATE, _SET_STATE = b"s", b"r", b"c", b"g", b"x"


class VectorError(RuntimeError):
    """A worker failed (its traceback is in the message) or the batch was used wrongly."""


class _Buffers:
    """Named numpy views on one shared-memory block (created by the parent, attached by workers)."""

    def __init__(self, num_envs: int, obs_dim: int, state_size: int, create: bool, name: str | None = None) -> None:
        layout = [("actions", (num_envs, N_ACTIONS), np.float64), ("obs", (num_envs, obs_dim), np.float64),
                  ("states", (num_envs, state_size), np.float64),
                  ("final_obs", (num_envs, obs_dim), np.float64), ("reward", (num_envs,), np.float64),
                  ("score", (num_envs,), np.float64), ("success", (num_envs,), np.bool_),
                  ("terminated", (num_envs,), np.bool_), ("truncated", (num_envs,), np.bool_),
                  ("ended", (num_envs,), np.bool_), ("seeds", (num_envs,), np.int64),
                  ("has_seed", (num_envs,), np.bool_)]
        offsets, total = [], 0
        for _, shape, dtype in layout:
            total = (total + 7) // 8 * 8
            offsets.append(total)
            total += int(np.prod(shape)) * np.dtype(dtype).itemsize
        self.shm = SharedMemory(create=True, size=total) if create else SharedMemory(name=name)
        self.name = self.shm.name
        for (key, shape, dtype), offset in zip(layout, offsets, strict=True):
            setattr(self, key, np.ndarray(shape, dtype=dtype, buffer=self.shm.buf, offset=offset))

    def release(self, unlink: bool) -> None:
        for key in list(vars(self)):
            if isinstance(getattr(self, key), np.ndarray):
                delattr(self, key)
        self.shm.close()
        if unlink:
            self.shm.unlink()


def _worker(conn: Connection, task_id: str, mesh_dir: str | None, shm_name: str, num_envs: int, obs_dim: int,
            state_size: int, first: int, count: int, autoreset: str, horizon: int) -> None:
    """Own environments [first, first + count): step them on command, results into shared memory."""
    buffers = None
    try:
        from dexmv_sim.simulation import TaskSimulation

        sims = [TaskSimulation(task_id, mesh_dir=mesh_dir) for _ in range(count)]
        rngs = [np.random.default_rng() for _ in range(count)]
        buffers = _Buffers(num_envs, obs_dim, state_size, create=False, name=shm_name)
        mine = slice(first, first + count)
        actions, obs, final_obs = buffers.actions[mine], buffers.obs[mine], buffers.final_obs[mine]
        reward, score, success = buffers.reward[mine], buffers.score[mine], buffers.success[mine]
        terminated, truncated, ended = buffers.terminated[mine], buffers.truncated[mine], buffers.ended[mine]
        same_step = autoreset == AutoresetMode.SAME_STEP.value

        def reset_one(i: int, options: dict | None) -> None:
            sims[i].reset(rngs[i], options)
            out = sims[i].task.outputs()
            obs[i] = out.observation
            score[i], success[i] = out.score, out.success
            reward[i], terminated[i], truncated[i], ended[i] = 0.0, False, False, False

        conn.send_bytes(b"k")
        while True:
            command = conn.recv_bytes()
            try:
                if command == _STEP:
                    for i, sim in enumerate(sims):
                        if ended[i] and not same_step:  # NEXT_STEP: this step is the reset
                            reset_one(i, None)
                            continue
                        sim.step_action(actions[i])
                        out = sim.task.outputs()
                        reward[i], score[i], success[i] = out.reward, out.score, out.success
                        truncated[i] = sim.steps >= horizon
                        terminated[i] = False
                        ended[i] = truncated[i]
                        if ended[i] and same_step:
                            final_obs[i] = out.observation
                            sims[i].reset(rngs[i], None)
                            ended[i] = False
                            obs[i] = sims[i].task.outputs().observation
                        else:
                            obs[i] = out.observation
                    conn.send_bytes(b"k")
                elif command == _RESET:
                    options = conn.recv()
                    for i in range(count):
                        if buffers.has_seed[first + i]:
                            rngs[i] = np.random.default_rng(int(buffers.seeds[first + i]))
                        reset_one(i, options[i] if options is not None else None)
                    conn.send_bytes(b"k")
                elif command == _GET_STATE:
                    for i, sim in enumerate(sims):
                        buffers.states[first + i] = sim.get_state()
                    conn.send_bytes(b"k")
                elif command == _SET_STATE:
                    for i, sim in enumerate(sims):
                        sim.set_state(buffers.states[first + i])
                        sim.steps = 0
                        out = sim.task.outputs()
                        obs[i], score[i], success[i], ended[i] = out.observation, out.score, out.success, False
                    conn.send_bytes(b"k")
                elif command == _CLOSE:
                    break
            except Exception:  # a bad request (e.g. reset options): report it, keep serving
                conn.send_bytes(b"E" + traceback.format_exc().encode())
    except (KeyboardInterrupt, EOFError, BrokenPipeError):
        pass
    except Exception:  # report any failure to the parent with its traceback
        with contextlib.suppress(BrokenPipeError, OSError):
            conn.send_bytes(b"E" + traceback.format_exc().encode())
    finally:
        if buffers is not None:
            buffers.release(unlink=False)
        conn.close()


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


class DexMVVectorEnv(VectorEnv):
    """`num_envs` copies of one task stepped by `num_workers` processes (default: one per core)."""

    def __init__(self, task: str = "relocate-mustard_bottle", num_envs: int = 8, *, num_workers: int | None = None,
                 mesh_dir: str | Path | None = None, autoreset_mode: str | AutoresetMode = AutoresetMode.NEXT_STEP,
                 max_episode_steps: int = HORIZON, start_method: str = "spawn") -> None:
        from dexmv_sim.simulation import TaskSimulation

        if num_envs < 1:
            raise VectorError(f"num_envs must be at least 1, got {num_envs}")
        mode = AutoresetMode(autoreset_mode)
        if mode == AutoresetMode.DISABLED:
            raise VectorError("autoreset_mode DISABLED is not supported: use NEXT_STEP or SAME_STEP")
        workers = num_workers or len(os.sched_getaffinity(0))
        workers = max(1, min(workers, num_envs))
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
        self._buffers = _Buffers(num_envs, self.obs_dim, self.state_size, create=True)
        self._closed = False
        sizes = [num_envs // workers + (1 if w < num_envs % workers else 0) for w in range(workers)]
        starts = np.cumsum([0, *sizes[:-1]])
        ctx = mp.get_context(start_method)
        self._conns: list[Connection] = []
        self._procs: list[mp.process.BaseProcess] = []
        self._blocks = list(zip(starts.tolist(), sizes, strict=True))
        try:
            for first, count in self._blocks:
                parent, child = ctx.Pipe()
                proc = ctx.Process(target=_worker, daemon=True, name=f"dexmv-sim-worker-{first}",
                                   args=(child, task, None if mesh_dir is None else str(mesh_dir),
                                         self._buffers.name, num_envs, self.obs_dim, self.state_size, first, count,
                                         mode.value,
                                         int(max_episode_steps)))
                with _main_module_hidden():
                    proc.start()
                child.close()
                self._conns.append(parent)
                self._procs.append(proc)
            self._gather()
        except BaseException:
            self.close()
            raise

    @property
    def num_workers(self) -> int:
        return len(self._procs)

    def worker_cpu_seconds(self) -> float:
        """CPU time (user + system) the worker processes have used so far (Linux /proc)."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for proc in self._procs:
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        return total

    # ------------------------------------------------------------------ protocol
    def _expect(self, conn: Connection, expected: bytes) -> bytes:
        try:
            reply = conn.recv_bytes()
        except EOFError:
            raise VectorError(f"a worker of {self.task_id} died (exit codes "
                              f"{[p.exitcode for p in self._procs]})") from None
        if reply.startswith(b"E"):
            raise VectorError(f"a worker of {self.task_id} failed:\n{reply[1:].decode()}")
        if reply != expected:
            raise VectorError(f"unexpected reply from a worker: {reply!r}")
        return reply

    def _broadcast(self, command: bytes) -> None:
        if self._closed:
            raise VectorError("the vector env is closed")
        for conn in self._conns:
            conn.send_bytes(command)

    def _gather(self) -> None:
        for conn in self._conns:
            self._expect(conn, b"k")

    def _info(self) -> dict[str, np.ndarray]:
        b = self._buffers
        ones = np.ones(self.num_envs, dtype=bool)
        return {"success": b.success.copy(), "_success": ones, "score": b.score.copy(), "_score": ones.copy()}

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
        self._broadcast(_RESET)
        for conn, (first, count) in zip(self._conns, self._blocks, strict=True):
            conn.send(per_env[first:first + count])
        self._gather()
        return b.obs.copy(), self._info()

    def step(self, actions: np.ndarray):
        actions = np.asarray(actions, dtype=np.float64)
        if actions.shape != (self.num_envs, N_ACTIONS):
            raise VectorError(f"actions must have shape ({self.num_envs}, {N_ACTIONS}), got {actions.shape}")
        b = self._buffers
        b.actions[:] = actions
        self._broadcast(_STEP)
        self._gather()
        info = self._info()
        if self.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP and b.truncated.any():
            info["final_obs"] = np.where(b.truncated[:, None], b.final_obs, 0.0)
            info["_final_obs"] = b.truncated.copy()
        return b.obs.copy(), b.reward.copy(), b.terminated.copy(), b.truncated.copy(), info

    def get_states(self) -> list[np.ndarray]:
        """Every environment's integration state (see TaskSimulation.get_state), in order."""
        self._broadcast(_GET_STATE)
        self._gather()
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
        self._broadcast(_SET_STATE)
        self._gather()
        return self._buffers.obs.copy()

    def close_extras(self, **kwargs: Any) -> None:
        if self._closed:
            return
        self._closed = True
        for conn in self._conns:
            with contextlib.suppress(BrokenPipeError, OSError):
                conn.send_bytes(_CLOSE)
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
