"""The Adroit hand model composed from the installed gymnasium-robotics assets."""

import mujoco
import numpy as np

from dexmv_sim.adroit import ADROIT_ACTUATORS, ADROIT_JOINTS, FINGERTIP_SITES, adroit_hand_model


def test_hand_has_the_30_joints_and_actuators_in_order():
    model = adroit_hand_model()
    assert len(ADROIT_JOINTS) == 30 and model.njnt == 30 and model.nu == 30 and model.nq == 30
    assert [model.joint(i).name for i in range(30)] == list(ADROIT_JOINTS)
    assert [model.actuator(i).name for i in range(30)] == list(ADROIT_ACTUATORS)
    for i in range(30):  # each actuator drives the joint of the same index
        assert model.actuator_trnid[i, 0] == i


def test_only_the_hand_is_left():
    model = adroit_hand_model()
    names = {model.body(i).name for i in range(model.nbody)}
    assert {"forearm", "palm", "ffdistal", "thdistal"} <= names
    assert not names & {"table", "Object", "vive_tracker"}


def test_fingertips_move_with_finger_flexion():
    model = adroit_hand_model()
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)
    open_tip = data.site(FINGERTIP_SITES["index"]).xpos.copy()
    data.qpos[ADROIT_JOINTS.index("FFJ2")] = 1.2  # index MCP flexion
    mujoco.mj_kinematics(model, data)
    assert np.linalg.norm(data.site(FINGERTIP_SITES["index"]).xpos - open_tip) > 0.03
