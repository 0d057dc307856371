"""Success and score functions on constructed states (objects placed by hand, physics settling them)."""

import mujoco
import numpy as np
import pytest

from dexmv_sim.simulation import TaskSimulation
from dexmv_sim.tasks import TaskOptionError, make_task
from dexmv_sim.tasks.place_inside import MAX_INSIDE_FRACTION
from dexmv_sim.tasks.pour import PourTask
from dexmv_sim.tasks.relocate import RELOCATE_OBJECTS


def _sim(task: str, seed: int = 0, **options) -> TaskSimulation:
    sim = TaskSimulation(task)
    sim.reset(np.random.default_rng(seed), options)
    return sim


@pytest.mark.parametrize("name", RELOCATE_OBJECTS)
def test_relocate_success_at_the_target_not_far_from_it(name):
    sim = _sim(f"relocate-{name}", target=(-0.1, 0.05, 0.2))
    task = sim.task
    assert not task.evaluate().success and task.evaluate().score == 0.0  # on the table, ~0.2 m away
    task.object_qpos[:3] = (-0.1, 0.05, 0.2)  # held at the target
    mujoco.mj_forward(sim.model, sim.data)
    assert task.evaluate() == (True, 1.0)
    task.object_qpos[:3] = (-0.1, 0.05 + 0.095, 0.2)  # just inside 0.1 m
    mujoco.mj_forward(sim.model, sim.data)
    assert task.evaluate().success
    task.object_qpos[:3] = (-0.1, 0.05 + 0.105, 0.2)  # just outside
    mujoco.mj_forward(sim.model, sim.data)
    assert not task.evaluate().success


def test_relocate_success_needs_the_object_lifted_off_the_table():
    """A target drawn just above the resting object (z 0.15 m, 0.055 m above the bottle's centre)
    is within 0.1 m of it: standing still, or being pushed under the target, is not relocation."""
    sim = _sim("relocate-mustard_bottle", object_pos=(0.05, 0.0), target=(0.05, 0.0, 0.15))
    task = sim.task
    for _ in range(20):  # settle on the table
        sim.step_targets(sim.targets)
    assert np.linalg.norm(task.object_pos - task.target_pos) < 0.1
    assert task.object_on_table() and task.evaluate() == (False, 0.0)
    task.object_qpos[:3] = (0.05, 0.0, task.rest_z + 0.01)  # barely raised: still not relocated
    mujoco.mj_forward(sim.model, sim.data)
    assert not task.evaluate().success
    task.object_qpos[:3] = (0.05, 0.0, 0.15)  # lifted to the target, nothing touching it
    mujoco.mj_forward(sim.model, sim.data)
    assert not task.object_on_table() and task.evaluate() == (True, 1.0)


def test_relocate_reward_is_dexmvs_formula():
    """DexMV's released relocate reward on constructed states: the reach term alone until the hand
    touches the object; then +0.1 + 50 lift (lift counted up to the target's height); past 0.015 m
    of lift +2 - 0.5 d(palm, target) - 1.5 d(object, target), and +1 / (d + 0.01) within 0.1 m."""
    sim = _sim("relocate-sugar_box", object_pos=(0.1, 0.1), target=(-0.2, 0.0, 0.2))
    task = sim.task
    rest = task.rest_z

    def place(pos, touch: bool) -> tuple[float, float, float]:
        # the palm's grasp site on the object's centre puts the hand in contact with it; far away not
        task.object_qpos[:3] = pos
        mujoco.mj_forward(sim.model, sim.data)
        if touch:
            for _ in range(20):  # move the arm's slides until the palm is at the object
                err = task.object_pos - task.palm
                sim.data.qpos[:3] += np.linalg.lstsq(_slide_jacobian(sim), err, rcond=None)[0]
                mujoco.mj_forward(sim.model, sim.data)
        assert task.hand_touches(task._object_geoms) == touch
        palm, obj, target = task.palm, task.object_pos, task.target_pos
        return (float(np.linalg.norm(palm - obj)), float(np.linalg.norm(palm - target)),
                float(np.linalg.norm(obj - target)))

    to_obj, _, _ = place((0.1, 0.1, rest), touch=False)  # on the table, hand away
    assert task.reward() == pytest.approx(-0.1 * to_obj)
    to_obj, _, _ = place((-0.2, 0.03, 0.2), touch=False)  # at the target without the hand: nothing more
    assert task.reward() == pytest.approx(-0.1 * to_obj)
    to_obj, _, _ = place((0.1, 0.1, rest + 0.01), touch=True)  # touched, barely lifted
    assert task.reward() == pytest.approx(-0.1 * to_obj + 0.1 + 50 * 0.01)
    to_obj, palm_t, obj_t = place((0.1, 0.1, rest + 0.05), touch=True)  # lifted, far from the target
    assert task.reward() == pytest.approx(-0.1 * to_obj + 0.1 + 50 * 0.05 + 2 - 0.5 * palm_t - 1.5 * obj_t)
    to_obj, palm_t, obj_t = place((-0.2, 0.03, 0.2), touch=True)  # held 0.03 m from the target
    assert obj_t == pytest.approx(0.03)
    assert task.reward() == pytest.approx(-0.1 * to_obj + 0.1 + 50 * (0.2 - rest) + 2 - 0.5 * palm_t - 1.5 * obj_t
                                          + 1 / (obj_t + 0.01))
    to_obj, palm_t, obj_t = place((-0.2, 0.0, 0.3), touch=True)  # above the target: lift counted to its height
    assert task.reward() == pytest.approx(-0.1 * to_obj + 0.1 + 50 * (0.2 - rest) + 2 - 0.5 * palm_t - 1.5 * obj_t
                                          + 1 / (obj_t + 0.01))


def _slide_jacobian(sim) -> np.ndarray:
    from dexmv_sim.tasks.base import PALM_SITE

    jacp = np.zeros((3, sim.model.nv))
    mujoco.mj_jacSite(sim.model, sim.data, jacp, None, sim.model.site(PALM_SITE).id)
    return jacp[:, :3]


def test_relocate_reward_grows_as_the_object_nears_the_target():
    sim = _sim("relocate-tomato_soup_can", target=(0.0, 0.0, 0.2))
    far = sim.task.reward()
    # put the hand on the object: the reach term improves
    sim.task.object_qpos[:3] = sim.task.palm
    mujoco.mj_forward(sim.model, sim.data)
    assert sim.task.reward() > far


def test_pour_score_counts_particles_in_the_container():
    sim = _sim("pour", mug_pos=(0.12, -0.05))
    task: PourTask = sim.task
    assert task.n_particles == 12  # DexMV's 2 x 2 x 3 particles of 10 mm
    assert np.all(task.model.geom_size[[task.model.geom(f"water/{k}/geom").id for k in range(12)], 0] == 0.010)
    assert task.evaluate().score == 0.0  # all in the mug
    for _ in range(50):  # the water settles in the mug and stays there
        sim.step_targets(sim.targets)
    assert task.particles_in_mug().all() and task.evaluate().score == 0.0
    # pour everything: particles dropped into the container settle there
    low, high = task.container_low, task.container_high
    lattice = np.stack(np.meshgrid(np.linspace(low[0] + 0.02, high[0] - 0.02, 4),
                                   np.linspace(low[1] + 0.02, high[1] - 0.02, 4), indexing="ij"), -1).reshape(-1, 2)
    task.particle_qpos[:] = np.column_stack([lattice[:task.n_particles], np.full(task.n_particles, 0.03)])
    sim.data.qvel[:] = 0
    mujoco.mj_forward(sim.model, sim.data)
    for _ in range(50):
        sim.step_targets(sim.targets)
    assert task.evaluate() == (True, 1.0)
    # half of them taken out onto the table: half the score
    half = task.n_particles // 2
    task.particle_qpos[:half] = task.particle_qpos[:half] + np.array([0.0, 0.25, 0.0])
    mujoco.mj_forward(sim.model, sim.data)
    assert task.evaluate().score == pytest.approx((task.n_particles - half) / task.n_particles)


def test_place_inside_score_near_one_inside_near_zero_on_the_table():
    sim = _sim("place_inside", banana_pos=(0.0, -0.2))
    task = sim.task
    assert task.evaluate().score < 0.02
    # stand the banana up in the middle of the mug, on its floor: its long axis is x
    upright = np.zeros(4)
    mujoco.mju_axisAngle2Quat(upright, np.array([0.0, 1.0, 0.0]), np.pi / 2)
    cavity_floor = task.mug_pos[2] + task.cavity.z_bottom
    task.banana_qpos[:3] = (task.top[0], task.top[1], cavity_floor + 0.095)
    task.banana_qpos[3:] = upright
    mujoco.mj_forward(sim.model, sim.data)
    fraction = task.inside_fraction()
    assert 0.7 < fraction < 0.95  # the mug is 15 cm deep, the banana 19 cm long
    assert 0.85 < task.max_inside < 0.95 and task.max_inside > MAX_INSIDE_FRACTION
    assert fraction <= task.max_inside + 0.01  # nothing beats standing on the floor
    assert task.evaluate().score == pytest.approx(min(1.0, fraction / task.max_inside))
    assert task.evaluate().score > 0.9 and task.evaluate().success
    for _ in range(100):  # let it lean against the wall: still inside
        sim.step_targets(sim.targets)
    assert task.evaluate().score > 0.9


def test_unknown_task_and_object_are_named():
    with pytest.raises(TaskOptionError, match="unknown task 'stack'"):
        make_task("stack")
    with pytest.raises(TaskOptionError, match="relocate has no object 'banana'"):
        make_task("relocate-banana")


def test_pouring_the_mug_over_the_container_fills_it():
    """Physics of the pour scene: the mug, driven along a pour by prescribed velocities (a perfect
    hand), keeps its water while carried and empties it into the container when tilted."""
    from dexmv_sim.tasks.pour import CONTAINER_POS

    sim = _sim("pour", mug_pos=(0.05, -0.1))
    task, model, data = sim.task, sim.model, sim.data
    dof = model.jnt_dofadr[model.joint("025_mug/joint").id]
    mug = model.body("025_mug").id
    goal = np.array([CONTAINER_POS[0] + 0.07, CONTAINER_POS[1], 0.17])
    for step in range(400):
        for _ in range(5):
            linear = (goal - task.mug_pos) * 3.0 if step < 100 else np.zeros(3)
            angular = np.array([0.0, -1.8, 0.0]) if 100 <= step < 200 else np.zeros(3)  # top towards -x
            data.qvel[dof:dof + 3] = linear
            data.qvel[dof + 3:dof + 6] = data.xmat[mug].reshape(3, 3).T @ angular  # free joints: body frame
            mujoco.mj_step(model, data)
        mujoco.mj_kinematics(model, data)
        if step == 99:
            assert task.particles_in_mug().mean() > 0.9  # carried without spilling
    assert task.evaluate().score > 0.9 and task.evaluate().success


def test_banana_dropped_into_the_mug_ends_inside():
    sim = _sim("place_inside", banana_pos=(0.0, -0.2))
    task = sim.task
    upright = np.zeros(4)
    mujoco.mju_axisAngle2Quat(upright, np.array([0.0, 1.0, 0.0]), np.pi / 2 - 0.2)  # nearly upright
    rim = task.mug_pos[2] + task.cavity.z_top
    task.banana_qpos[:3] = (task.top[0], task.top[1], rim + 0.11)  # lowest point ~2 cm above the rim
    task.banana_qpos[3:] = upright
    mujoco.mj_forward(sim.model, sim.data)
    assert task.evaluate().score == 0.0
    for _ in range(150):  # 1.5 s: falls in, knocks against the wall, settles
        sim.step_targets(sim.targets)
    assert task.evaluate().score > 0.8


def _banana_pose(sim, pos, stem_up: bool = True) -> None:
    """Banana standing on end at `pos` (model frame's long axis +x, the stem end, up or down)."""
    quat = np.zeros(4)
    mujoco.mju_axisAngle2Quat(quat, np.array([0.0, 1.0, 0.0]), -np.pi / 2 if stem_up else np.pi / 2)
    sim.task.banana_qpos[:3] = pos
    sim.task.banana_qpos[3:] = quat
    sim.data.qvel[:] = 0
    mujoco.mj_forward(sim.model, sim.data)


def test_place_inside_layout_is_dexmvs_far_side():
    """Banana beyond the mug (the hand is at -y), x within 0.15, y 0.125-0.225, long axis along x, never
    touching the mug at reset."""
    sim = TaskSimulation("place_inside")
    task = sim.task
    mug = set(task.geom_set("025_mug"))
    banana = set(task.geom_set("011_banana"))
    xy = []
    for seed in range(40):
        sim.reset(np.random.default_rng(seed))
        xy.append(task.banana_qpos[:2].copy())
        axis = task.banana_xmat.reshape(3, 3) @ task.long_axis
        assert abs(axis[0]) > 0.99
        assert task.vertical_angle() == pytest.approx(np.pi / 2, abs=0.01)  # lying: neither end up
        pairs = [{int(c.geom1), int(c.geom2)} for c in sim.data.contact[:sim.data.ncon]]
        assert not any(p & mug and p & banana for p in pairs)
    xy = np.array(xy)
    assert np.all(np.abs(xy[:, 0]) <= 0.15) and np.all((xy[:, 1] >= 0.125) & (xy[:, 1] <= 0.225))
    assert np.ptp(xy[:, 0]) > 0.2 and np.ptp(xy[:, 1]) > 0.06  # the whole range is drawn
    assert task.palm[1] < -0.1  # the hand starts on the near side


def test_place_inside_reward_is_dexmvs_formula():
    """DexMV's place-inside reward on constructed states: reach; lowering into the mug, releasing
    (open hand) and the no-contact compensation once upright above the opening; lift and above-the-
    mug terms with contact. No score term."""
    sim = _sim("place_inside")
    task = sim.task
    top, rest = task.top, task.banana_rest_z
    high = task.max_lift_height
    assert 0.17 < task.length < 0.20 and high == pytest.approx(top[2] + task.length / 3)

    def terms():
        mujoco.mj_forward(sim.model, sim.data)
        reach = -0.1 * float(np.linalg.norm(task.palm - task.banana_pos))
        lift = max(min(float(task.banana_pos[2]), high) - rest, 0.0)
        dxy = float(np.linalg.norm(task.banana_pos[:2] - top[:2]))
        return reach, lift, dxy, task.vertical_angle()

    # lying on the table beyond the mug, untouched: only the reach term
    sim.reset(np.random.default_rng(0), {"banana_pos": (0.05, 0.15)})
    reach, *_ = terms()
    assert task.reward() == pytest.approx(reach)
    # upright, stem up, 1 cm off the opening's centre, not held, high: lowering + compensation
    sim.task.hand_qpos[6:] = 0.3  # a half-closed hand
    _banana_pose(sim, (top[0], top[1] + 0.01, high - 0.01))
    reach, lift, dxy, v = terms()
    assert not task.hand_touches(task._banana_geoms) and v < 0.01 and dxy == pytest.approx(0.01)
    assert lift > (top[2] + high) / 2
    compensation = (1 - dxy + 0.5 + 0.5 * (np.pi / 2 - v)) + (1.2 + 2 * lift)
    assert task.reward() == pytest.approx(reach + 12 * (high - lift) + compensation)
    # lower: the release term joins, larger the more open the hand
    _banana_pose(sim, (top[0], top[1] + 0.01, top[2] + 0.02))
    reach, lift, dxy, v = terms()
    assert lift < (top[2] + high) / 2
    release = 0.5 + 2 * (np.pi / 2 - 0.3)
    compensation = (1 - dxy + 0.5 + 0.5 * (np.pi / 2 - v)) + (1.2 + 2 * lift)
    assert task.reward() == pytest.approx(reach + 12 * (high - lift) + release + compensation)
    # stem down (v = pi: not upright): none of those terms
    _banana_pose(sim, (top[0], top[1] + 0.01, top[2] + 0.05), stem_up=False)
    reach, lift, dxy, v = terms()
    assert v > np.pi - 0.01 and task.reward() == pytest.approx(reach)
    # held high above the opening (the banana in the raised hand): contact terms, no compensation
    sim.reset(np.random.default_rng(0))
    task.hand_qpos[:3] = (0.03, 0.2, 0.2)  # ARTx, ARTy, ARTz: palm over the opening, 0.35 m up
    mujoco.mj_forward(sim.model, sim.data)
    _banana_pose(sim, task.palm.copy())
    reach, lift, dxy, v = terms()
    assert task.hand_touches(task._banana_geoms) and lift > top[2] and dxy < 0.03 and v < 0.01
    palm_xy = float(np.linalg.norm(task.palm[:2] - top[:2]))
    held = 0.2 + 2 * lift + 0.2 - 0.5 * palm_xy - dxy + 0.5 + 0.5 * (np.pi / 2 - v) + 0.3
    assert task.reward() == pytest.approx(reach + held + 12 * (high - lift))
