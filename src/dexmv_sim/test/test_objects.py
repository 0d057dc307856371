"""YCB-like objects: real dimensions and masses, stable on the table, hollow mug, real-mesh loading."""

from pathlib import Path

import mujoco
import numpy as np
import pytest

from dexmv_sim.objects import (
    OBJECT_IDS,
    YCB_SIZES,
    ObjectError,
    add_object,
    add_table,
    object_bounds,
    object_cavity,
    object_extent,
    resting_height,
    resting_pose,
)


def _scene(objects: dict[str, tuple]) -> tuple[mujoco.MjModel, mujoco.MjData]:
    spec = mujoco.MjSpec()
    add_table(spec)
    for name, (object_id, xy) in objects.items():
        pos, quat = resting_pose(object_id, xy)
        add_object(spec.worldbody, object_id, name=name, pos=pos, quat=quat)
    model = spec.compile()
    return model, mujoco.MjData(model)


def test_dimensions_are_the_real_ycb_objects():
    assert len(OBJECT_IDS) == 6
    for object_id, size in YCB_SIZES.items():
        np.testing.assert_allclose(2 * object_extent(object_id), size, atol=0.002, err_msg=object_id)
    # the real objects' sizes as published, independent of the table the models follow
    np.testing.assert_allclose(2 * object_extent("025_mug"), (0.117, 0.093, 0.081), atol=0.002)
    clamp = 2 * object_extent("051_large_clamp")
    assert 0.115 < clamp[0] < 0.13 and 0.16 < clamp[1] < 0.175 and 0.025 < clamp[2] < 0.045
    banana = 2 * object_extent("011_banana")
    assert 0.17 < banana.max() < 0.20


def test_model_frame_is_the_bounding_box_centre():
    for object_id in OBJECT_IDS:
        lo, hi = object_bounds(object_id)
        np.testing.assert_allclose(lo, -hi, atol=1e-9)
        assert resting_height(object_id) == pytest.approx(hi[2])


def test_objects_rest_on_the_table_with_real_masses():
    objects = {oid: (oid, (-0.45 + 0.18 * k, 0.0)) for k, oid in enumerate(OBJECT_IDS)}
    model, data = _scene(objects)
    masses = {oid: model.body(oid).mass[0] for oid in OBJECT_IDS}
    assert masses["006_mustard_bottle"] == pytest.approx(0.603) and masses["011_banana"] == pytest.approx(0.066)
    mujoco.mj_forward(model, data)
    start = {oid: data.xpos[model.body(oid).id].copy() for oid in OBJECT_IDS}
    for _ in range(1000):  # 2 s
        mujoco.mj_step(model, data)
    for oid in OBJECT_IDS:
        moved = np.linalg.norm(data.xpos[model.body(oid).id] - start[oid])
        assert moved < 0.003, f"{oid} moved {moved:.4f} m while resting"


def test_mug_is_hollow_and_holds_a_ball():
    model_spec = mujoco.MjSpec()
    add_table(model_spec)
    pos, quat = resting_pose("025_mug", (0, 0))
    add_object(model_spec.worldbody, "025_mug", pos=pos, quat=quat, free=False)
    cavity = object_cavity("025_mug")
    ball = model_spec.worldbody.add_body(name="ball", pos=[cavity.center_xy[0], 0, pos[2] + cavity.z_top + 0.03])
    ball.add_freejoint()
    ball.add_geom(type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[0.01, 0, 0], mass=0.01)
    model = model_spec.compile()
    data = mujoco.MjData(model)
    for _ in range(1000):
        mujoco.mj_step(model, data)
    ball_in_mug = data.xpos[model.body("ball").id] - pos
    assert cavity.contains(ball_in_mug[None])[0], f"ball ended at {ball_in_mug} (mug frame), not in the cavity"
    assert ball_in_mug[2] < cavity.z_bottom + 0.012  # it fell to the bottom, through no wall


def _write_box_obj(path: Path, lo, hi) -> None:
    corners = [(x, y, z) for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])]
    quads = [(1, 3, 4, 2), (5, 6, 8, 7), (1, 2, 6, 5), (3, 7, 8, 4), (1, 5, 7, 3), (2, 4, 8, 6)]
    lines = [f"v {x} {y} {z}" for x, y, z in corners]
    lines += [f"f {a} {b} {c}\nf {a} {c} {d}" for a, b, c, d in quads]
    path.write_text("\n".join(lines) + "\n")


def test_real_meshes_from_a_directory(tmp_path):
    folder = tmp_path / "004_sugar_box" / "google_16k"
    folder.mkdir(parents=True)
    _write_box_obj(folder / "textured.obj", (-0.02, -0.04, -0.01), (0.02, 0.05, 0.16))  # off-centre, as YCB frames are
    (tmp_path / "004_sugar_box" / "collision").mkdir()
    _write_box_obj(tmp_path / "004_sugar_box" / "collision" / "low.obj", (-0.02, -0.04, -0.01), (0.02, 0.05, 0.07))
    _write_box_obj(tmp_path / "004_sugar_box" / "collision" / "high.obj", (-0.02, -0.04, 0.07), (0.02, 0.05, 0.16))
    lo, hi = object_bounds("004_sugar_box", mesh_dir=tmp_path)
    np.testing.assert_allclose(lo, (-0.02, -0.04, -0.01), atol=1e-6)
    np.testing.assert_allclose(hi, (0.02, 0.05, 0.16), atol=1e-6)
    spec = mujoco.MjSpec()
    add_table(spec)
    pos, quat = resting_pose("004_sugar_box", (0.1, 0.0), mesh_dir=tmp_path)
    assert pos[2] == pytest.approx(0.01)
    body = add_object(spec.worldbody, "004_sugar_box", name="sugar", pos=pos, quat=quat, mesh_dir=tmp_path)
    assert body.name == "sugar"
    model = spec.compile()
    data = mujoco.MjData(model)
    geoms = [model.geom(i).name for i in range(model.ngeom) if model.geom_bodyid[i] == model.body("sugar").id]
    assert geoms == ["sugar/visual", "sugar/collision_0", "sugar/collision_1"]
    assert model.body("sugar").mass[0] == pytest.approx(0.514)
    for _ in range(500):
        mujoco.mj_step(model, data)
    np.testing.assert_allclose(data.xpos[model.body("sugar").id], pos, atol=0.002)


def test_bad_input_is_named():
    with pytest.raises(ObjectError, match="unknown object 'teapot'"):
        object_extent("teapot")
    with pytest.raises(ObjectError, match="no mesh for 025_mug"):
        object_bounds("025_mug", mesh_dir=Path(__file__).parent)
