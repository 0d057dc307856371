"""Batched stepping over worker processes (and the main process): same results as single envs,
autoreset, states, errors, Ctrl-C, a parent that sleeps, workers that do not outlive it."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import dexmv_sim  # noqa: F401 - registers the ids
from dexmv_sim.simulation import TaskSimulation
from dexmv_sim.vector import _STEP, DexMVVectorEnv, VectorError, _Buffers, _Stepper, load_generator, store_generator


@pytest.mark.parametrize("step_in_main", [True, False])
def test_workers_match_single_envs_and_autoreset(step_in_main):
    actions = np.random.default_rng(0).uniform(-1, 1, (6, 3, 30))
    with DexMVVectorEnv("relocate-sugar_box", num_envs=3, num_workers=2, max_episode_steps=4,
                        step_in_main=step_in_main) as vec:
        assert vec.num_workers == 2 and vec.observation_space.shape == (3, 39)
        assert len(vec.worker_pids) == (1 if step_in_main else 2)
        obs, info = vec.reset(seed=10)
        assert obs.shape == (3, 39) and info["score"].shape == (3,)
        batched = [obs]
        flags = []
        for a in actions:
            obs, _, _, truncated, _ = vec.step(a)
            batched.append(obs)
            flags.append(truncated.copy())
        states = vec.get_states()
    # environment i is the single env seeded 10 + i, whichever worker stepped it
    for i in range(3):
        env = gym.make("dexmv/Relocate-sugar_box-v0").unwrapped
        single = [env.reset(seed=10 + i)[0]]
        for a in actions[:4]:
            single.append(env.step(a[i])[0])
        np.testing.assert_array_equal(np.array(single), np.array(batched)[:5, i])
        np.testing.assert_array_equal(env.get_state().shape, states[i].shape)
    # NEXT_STEP autoreset: truncated after step 4, the 5th step is the reset (a fresh episode)
    assert [f.all() for f in flags] == [False, False, False, True, False, False]
    assert not np.array_equal(batched[5], batched[4])


def test_same_step_autoreset_and_state_round_trip():
    with DexMVVectorEnv("relocate-mug", num_envs=2, num_workers=1, max_episode_steps=2,
                        autoreset_mode="SameStep") as vec:
        vec.reset(seed=0)
        vec.step(np.zeros((2, 30)))
        obs, _, _, truncated, info = vec.step(np.zeros((2, 30)))
        assert truncated.all() and info["_final_obs"].all()
        assert not np.array_equal(info["final_obs"], obs)  # obs is already the next episode's first
        states = vec.get_states()
        after = vec.step(np.full((2, 30), 0.5))[0]
        restored = vec.set_states(states)
        np.testing.assert_array_equal(restored, obs)
        np.testing.assert_array_equal(vec.step(np.full((2, 30), 0.5))[0], after)
        with pytest.raises(VectorError, match=r"shape \(2, 30\)"):
            vec.step(np.zeros((3, 30)))


def test_make_vec_uses_the_worker_processes():
    vec = gym.make_vec("dexmv/PlaceInside-v0", num_envs=2, num_workers=1)
    try:
        assert isinstance(vec.unwrapped, DexMVVectorEnv)
        obs, _ = vec.reset(seed=1)
        assert obs.shape == (2, 43)
    finally:
        vec.close()


def test_worker_errors_surface():
    with DexMVVectorEnv("relocate-mug", num_envs=1, num_workers=1) as vec:
        with pytest.raises(VectorError, match="unknown reset option"):
            vec.reset(options={"bogus": 1})
        # the worker survives a bad request: the env still works
        assert vec.reset(seed=0)[0].shape == (1, 39)


def test_a_main_process_that_does_not_step_sleeps_while_workers_step():
    # default worker count: one per core this process may use, never more than environments
    with DexMVVectorEnv("relocate-mustard_bottle", num_envs=2) as vec:
        assert vec.num_workers == min(len(os.sched_getaffinity(0)), 2)
    with DexMVVectorEnv("relocate-mustard_bottle", num_envs=8, num_workers=1, step_in_main=False) as vec:
        vec.reset(seed=0)
        actions = np.random.default_rng(0).uniform(-1, 1, (30, 8, 30))
        vec.step(actions[0])
        # the calling thread's CPU time: the test process has other threads (DDS, BLAS pools left
        # by earlier tests) whose CPU is not the vector env's
        parent, workers = time.thread_time(), vec.worker_cpu_seconds()
        for a in actions[1:]:
            vec.step(a)
        parent, workers = time.thread_time() - parent, vec.worker_cpu_seconds() - workers
    # a parent that spun while its one worker stepped would use about as much CPU as the worker
    assert workers > 0 and parent < 0.25 * workers, (parent, workers)


def test_one_worker_stepping_in_the_main_process_starts_no_process():
    actions = np.random.default_rng(4).uniform(-1, 1, (5, 3, 30))
    with DexMVVectorEnv("relocate-tomato_soup_can", num_envs=3, num_workers=1) as inline, \
            DexMVVectorEnv("relocate-tomato_soup_can", num_envs=3, num_workers=1, step_in_main=False) as worker:
        assert inline.worker_pids == [] and inline.num_workers == 1
        np.testing.assert_array_equal(inline.reset(seed=2)[0], worker.reset(seed=2)[0])
        for a in actions:
            np.testing.assert_array_equal(inline.step(a)[0], worker.step(a)[0])


@pytest.mark.parametrize("bad_env", [0, 3])  # 0: the main process's block, 3: the worker's
def test_a_failure_in_one_of_several_workers_leaves_the_others_usable(bad_env):
    with DexMVVectorEnv("relocate-mug", num_envs=4, num_workers=2) as vec:
        options: list = [None] * 4
        options[bad_env] = {"target": (0.0, 0.0)}  # wrong size
        with pytest.raises(VectorError, match="'target' must be 3"):
            vec.reset(seed=0, options=options)
        obs, _ = vec.reset(seed=0, options=[{"target": (0.0, 0.0, 0.2)}] * 4)
        # every env took its options: the same target and initial hand, so the same palm - target
        np.testing.assert_allclose(obs[:, 33:36], np.repeat(obs[:1, 33:36], 4, axis=0))
        assert vec.step(np.zeros((4, 30)))[0].shape == (4, 39)


def test_a_dead_worker_is_reported():
    vec = DexMVVectorEnv("relocate-mug", num_envs=2, num_workers=2)
    try:
        vec.reset(seed=0)
        os.kill(vec.worker_pids[0], signal.SIGKILL)
        with pytest.raises(VectorError, match="died"):
            for _ in range(100):  # the kill lands within a step or two
                vec.step(np.zeros((2, 30)))
    finally:
        vec.close()


def test_workers_exit_when_their_parent_dies(tmp_path):
    # a parent killed without closing the env (no atexit, no close): its workers must not linger
    script = tmp_path / "orphan.py"
    script.write_text(textwrap.dedent("""
        import os, sys
        from dexmv_sim.vector import DexMVVectorEnv
        if __name__ == "__main__":
            vec = DexMVVectorEnv("relocate-mug", num_envs=3, num_workers=3)
            print(" ".join(map(str, vec.worker_pids)), flush=True)
            os._exit(0)
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=True)
    pids = [int(p) for p in out.stdout.split()]
    assert len(pids) == 2
    deadline = time.monotonic() + 30  # a wait, not a speed requirement: workers poll once a second
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in pids)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited (its reaper may not have collected it yet)


def test_environments_move_between_workers_bit_for_bit():
    # two workers' steppers on one shared block, taking turns at the environments in an order that
    # moves every environment from one to the other: the results are those of single envs
    import multiprocessing as mp

    n, steps = 3, 12
    buffers = _Buffers(n, 2, 39, TaskSimulation("relocate-mug").state_size, create=True)
    try:
        lock = mp.get_context("spawn").Lock()
        steppers = [_Stepper("relocate-mug", None, buffers, lock, same_step=False, horizon=5) for _ in range(2)]
        buffers.seeds[:], buffers.has_seed[:] = [7, 8, 9], True
        steppers[0].reset(0, [None] * n)
        actions = np.random.default_rng(2).uniform(-1, 1, (steps, n, 30))
        batched = []
        for t in range(steps):
            buffers.actions[:] = actions[t]
            for i in range(n):
                steppers[(t + i) % 2].step_env(i)
            batched.append(buffers.obs.copy())
        for i in range(n):
            env = gym.make("dexmv/Relocate-mug-v0").unwrapped
            env.reset(seed=7 + i)
            for t in range(steps):
                # NEXT_STEP: the step after the 5th of an episode is the reset
                obs = env.reset()[0] if t in (5, 11) else env.step(actions[t, i])[0]
                np.testing.assert_array_equal(obs, batched[t][i], err_msg=f"env {i} step {t}")
        del steppers
    finally:
        buffers.release(unlink=True)


def test_generator_states_round_trip_through_shared_memory():
    row = np.zeros(6, dtype=np.uint64)
    original = np.random.default_rng(123)
    original.standard_normal(3)  # a generator part way through its stream (has_uint32 etc. set)
    original.integers(0, 2**31, dtype=np.uint32)
    store_generator(original, row)
    restored = load_generator(np.random.default_rng(), row)
    np.testing.assert_array_equal(restored.random(5), original.random(5))


def test_a_batch_whose_wait_was_interrupted_is_collected_before_the_next():
    # a Ctrl-C while the parent sleeps leaves a started batch behind: the next call must wait for
    # it, not take its completion as its own (which would return half-written observations)
    a = np.random.default_rng(1).uniform(-1, 1, (2, 4, 30))
    with DexMVVectorEnv("relocate-mug", num_envs=4, num_workers=2) as vec, \
            DexMVVectorEnv("relocate-mug", num_envs=4, num_workers=2) as reference:
        vec.reset(seed=3)
        reference.reset(seed=3)
        vec._buffers.actions[:] = a[0]
        vec._start(_STEP)  # what step(a[0]) had done when the interrupt came
        for pid in vec.worker_pids:  # the same Ctrl-C reached the workers: they ignore it
            os.kill(pid, signal.SIGINT)
        reference.step(a[0])
        np.testing.assert_array_equal(vec.step(a[1])[0], reference.step(a[1])[0])


def test_ctrl_c_never_leaves_an_environment_half_stepped():
    # SIGINT at three moments of a long run (mostly spent inside the main process's share of the
    # steps): each time, every environment is at the same step, bit for bit where an uninterrupted
    # run is after that many steps (the interrupted step ran whole or not at all)
    # actions drawn per step index, however many steps a slow machine gets through before the signal
    actions = _StepActions(seed=6, shape=(4, 30))
    done = 0
    with DexMVVectorEnv("relocate-mug", num_envs=4, num_workers=2) as vec:
        vec.reset(seed=5)
        # a batch that can never complete (an interrupted share not counted out) would hang the
        # wait in get_states: killing the worker after two minutes turns that into a VectorError
        watchdog = threading.Timer(120, os.kill, (vec.worker_pids[0], signal.SIGKILL))
        watchdog.start()
        try:
            for _ in range(3):
                timer = threading.Timer(0.15, os.kill, (os.getpid(), signal.SIGINT))
                timer.start()
                try:
                    with pytest.raises(KeyboardInterrupt):
                        while True:
                            vec.step(actions[done])
                            done += 1
                finally:
                    timer.cancel()
                done += _steps_the_interrupted_call_took(vec.get_states(), actions, done)
        finally:
            watchdog.cancel()
    assert done > 0


class _StepActions:
    """actions[k]: the k-th step's actions, the same for every k each time (seeded per index)."""

    def __init__(self, seed: int, shape: tuple[int, ...]) -> None:
        self.seed, self.shape = seed, shape

    def __getitem__(self, k: int) -> np.ndarray:
        return np.random.default_rng([self.seed, k]).uniform(-1, 1, self.shape)


def _steps_the_interrupted_call_took(states: list, actions: _StepActions, done: int) -> int:
    """0 or 1: whether `states` are those after `done` or `done` + 1 uninterrupted steps."""
    with DexMVVectorEnv("relocate-mug", num_envs=4, num_workers=1) as reference:  # no worker process
        reference.reset(seed=5)
        for k in range(done):
            reference.step(actions[k])
        for extra in (0, 1):
            if all(np.array_equal(s, r) for s, r in zip(states, reference.get_states(), strict=True)):
                return extra
            reference.step(actions[done])
    pytest.fail(f"interrupted after {done} steps: an environment was left half stepped")
