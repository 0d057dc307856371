"""Batched stepping over worker processes: same results as single envs, autoreset, states, errors."""

import gymnasium as gym
import numpy as np
import pytest

import dexmv_sim  # noqa: F401 - registers the ids
from dexmv_sim.vector import DexMVVectorEnv, VectorError


def test_workers_match_single_envs_and_autoreset():
    actions = np.random.default_rng(0).uniform(-1, 1, (6, 3, 30))
    with DexMVVectorEnv("relocate-sugar_box", num_envs=3, num_workers=2, max_episode_steps=4) as vec:
        assert vec.num_workers == 2 and vec.observation_space.shape == (3, 39)
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
