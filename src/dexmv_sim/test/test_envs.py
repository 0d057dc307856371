"""Gymnasium envs: registration, spaces (docs/architecture.md), determinism, actions, options, replay, rendering."""

import gymnasium as gym
import numpy as np
import pytest

import dexmv_sim  # noqa: F401 - registers the ids
from dexmv_sim.actions import ActionError, ActionMap
from dexmv_sim.adroit import ADROIT_JOINTS
from dexmv_sim.envs import ENV_IDS
from dexmv_sim.simulation import StateError
from dexmv_sim.tasks import TASK_IDS, TaskOptionError

OBS_DIM = {"pour": 43, "place_inside": 43}


def _make(task: str, **kwargs) -> gym.Env:
    return gym.make(ENV_IDS[task], **kwargs)


def test_every_design_task_has_a_registered_env():
    assert set(TASK_IDS) == {"relocate-mustard_bottle", "relocate-sugar_box", "relocate-tomato_soup_can",
                             "relocate-large_clamp", "relocate-mug", "pour", "place_inside"}
    assert ENV_IDS["relocate-mustard_bottle"] == "dexmv/Relocate-mustard_bottle-v0"
    assert ENV_IDS["pour"] == "dexmv/Pour-v0" and ENV_IDS["place_inside"] == "dexmv/PlaceInside-v0"
    for env_id in ENV_IDS.values():
        assert gym.spec(env_id).max_episode_steps == 200


@pytest.mark.parametrize("task", TASK_IDS)
def test_reset_step_spaces_and_determinism(task):
    actions = np.random.default_rng(7).uniform(-1, 1, (25, 30)).astype(np.float32)
    runs = []
    for _ in range(2):
        env = _make(task)
        assert env.action_space.shape == (30,) and env.action_space.low.min() == -1 and env.action_space.high.max() == 1
        assert env.observation_space.shape == (OBS_DIM.get(task, 39),)
        obs, info = env.reset(seed=123)
        assert env.observation_space.contains(obs) and set(info) == {"success", "score"}
        trace = [obs]
        for action in actions:
            obs, reward, terminated, truncated, info = env.step(action)
            assert obs.shape == env.observation_space.shape and np.isfinite(obs).all()
            assert isinstance(reward, float) and np.isfinite(reward) and not terminated and not truncated
            assert 0.0 <= info["score"] <= 1.0
            trace.append(obs)
        runs.append(np.array(trace))
        env.close()
    np.testing.assert_array_equal(runs[0], runs[1])  # same seed, same actions: bit-identical
    other = _make(task)
    assert not np.array_equal(other.reset(seed=124)[0], runs[0][0])  # another seed, another episode


def test_episode_truncates_at_the_horizon():
    env = _make("relocate-tomato_soup_can")
    env.reset(seed=0)
    zero = np.zeros(30, np.float32)
    for step in range(1, 201):
        *_, truncated, _ = env.step(zero)
        assert truncated == (step == 200)


def test_observation_layout_follows_design():
    env = _make("relocate-mug").unwrapped
    obs, _ = env.reset(seed=3, options={"target": (0.0, 0.05, 0.2)})
    task = env.sim.task
    np.testing.assert_allclose(obs[:30], env.data.qpos[:30])
    np.testing.assert_allclose(obs[30:33], task.palm - task.object_pos)
    np.testing.assert_allclose(obs[33:36], task.palm - np.array([0.0, 0.05, 0.2]))
    np.testing.assert_allclose(obs[36:39], task.object_pos - np.array([0.0, 0.05, 0.2]))


def test_target_and_object_samples_stay_in_design_ranges():
    env = _make("relocate-sugar_box").unwrapped
    for seed in range(20):
        env.reset(seed=seed)
        target = env.sim.task.target_pos
        assert -0.30 <= target[0] <= 0.10 and -0.15 <= target[1] <= 0.15 and 0.15 <= target[2] <= 0.25
        assert np.all(np.abs(env.sim.task.object_qpos[:2]) <= 0.15)


def test_actions_are_clipped_and_nan_rejected():
    env_a, env_b = _make("relocate-mug"), _make("relocate-mug")
    env_a.reset(seed=1)
    env_b.reset(seed=1)
    big = np.full(30, 5.0, np.float32)
    big[::2] = -np.inf
    clipped = np.clip(big, -1, 1)
    np.testing.assert_array_equal(env_a.step(big)[0], env_b.step(clipped)[0])
    bad = np.zeros(30, np.float32)
    bad[4] = np.nan
    with pytest.raises(ActionError, match="NaN"):
        env_a.step(bad)
    with pytest.raises(ActionError, match="30 values"):
        env_a.step(np.zeros(29))


def test_action_map_is_the_joint_target_map():
    env = _make("relocate-mug").unwrapped
    actions = ActionMap(env.model)
    lo, hi = env.model.actuator_ctrlrange[:30].T
    np.testing.assert_allclose(actions.to_targets(-np.ones(30)), lo)
    np.testing.assert_allclose(actions.to_targets(np.ones(30)), hi)
    q = np.random.default_rng(0).uniform(lo, hi)
    np.testing.assert_allclose(actions.to_targets(actions.to_actions(q)), q)
    named = actions.named_targets(["FFJ2", "ARTx"], [0.5, 9.0], np.zeros(30))
    assert named[ADROIT_JOINTS.index("FFJ2")] == 0.5 and named[0] == hi[0]  # clipped to the ctrlrange
    with pytest.raises(ActionError, match=r"name\[1\] 'index_mcp' is not an Adroit joint") as err:
        actions.named_targets(["FFJ2", "index_mcp"], [0.1, 0.1], np.zeros(30))
    assert err.value.reason == "unknown_joint"
    with pytest.raises(ActionError, match=r"position\[0\] \(joint 'FFJ2'\) is not finite") as err:
        actions.named_targets(["FFJ2"], [float("nan")], np.zeros(30))
    assert err.value.reason == "not_finite"
    with pytest.raises(ActionError, match="name has 2 entries but position has 1") as err:
        actions.named_targets(["FFJ2", "ARTx"], [0.1], np.zeros(30))
    assert err.value.reason == "length_mismatch"


def test_servos_hold_a_joint_target():
    """All 30 actuators are position servos: a held target is reached (what /adroit/joint_targets relies on)."""
    env = _make("relocate-mug").unwrapped
    env.reset(seed=0, options={"object_pos": (0.12, 0.12)})
    sim = env.sim
    action = np.full(30, -0.4)  # fingers a little bent: no finger touches another (self-contact pairs)
    action[:6] = 0.3
    goal = sim.actions.to_targets(action)
    for _ in range(300):  # 3 s
        sim.step_targets(goal)
    error = np.abs(env.data.qpos[:30] - goal)
    # gravity is compensated and nothing is touched: only the 2 ms integration residue remains
    assert error[:6].max() < 2e-3 and error[6:].max() < 2e-3, error  # m and rad


def test_reset_options_are_checked():
    env = _make("relocate-mustard_bottle")
    env.reset(seed=0, options={"object_pos": (0.1, -0.1), "target": (0.0, 0.0, 0.2)})
    np.testing.assert_allclose(env.unwrapped.sim.task.object_qpos[:2], (0.1, -0.1))
    with pytest.raises(TaskOptionError, match="unknown reset option"):
        env.reset(options={"goal": (0, 0, 0)})
    with pytest.raises(TaskOptionError, match="'target' must be 3"):
        env.reset(options={"target": (0.0, 0.1)})
    env.reset(options={"hand_qpos": np.full(30, 0.1)})
    np.testing.assert_allclose(env.unwrapped.data.qpos[:30], 0.1)


@pytest.mark.parametrize("task", ["relocate-large_clamp", "pour"])
def test_state_replay_is_exact(task):
    env = _make(task).unwrapped
    env.reset(seed=5)
    rng = np.random.default_rng(0)
    for _ in range(10):
        env.step(rng.uniform(-1, 1, 30))
    state = env.get_state()
    actions = rng.uniform(-1, 1, (15, 30))
    first = [env.step(a)[0] for a in actions]
    other = _make(task).unwrapped
    other.reset(options={"state": state})
    second = [other.step(a)[0] for a in actions]
    np.testing.assert_array_equal(np.array(first), np.array(second))
    with pytest.raises(StateError, match="another task"):
        other.set_state(state[:-1])


def test_rgb_array_rendering():
    env = _make("relocate-tomato_soup_can", render_mode="rgb_array", width=320, height=240)
    env.reset(seed=0)
    image = env.render()
    assert image.shape == (240, 320, 3) and image.dtype == np.uint8
    assert image.std() > 10  # a scene, not a blank buffer
    # the can is red and white: some strongly red pixels are visible from the default camera
    red = (image[..., 0] > 120) & (image[..., 1] < 60) & (image[..., 2] < 60)
    assert red.sum() > 20
    env.close()
