"""MANO layer, fitter and the restricted loader, on a synthetic model with the real file's layout."""

from __future__ import annotations

import pickle
import sys
import types

import numpy as np
import pytest
import torch

from dexmv_perception.mano import (
    MANO_TO_KEYPOINTS,
    ManoFileError,
    ManoFitter,
    ManoLayer,
    load_mano_model,
    synthetic_mano_model,
    write_synthetic_mano_file,
)
from dexmv_perception.mano.fitting import FitterConfig, ManoFitError
from dexmv_perception.mano.model_file import restricted_load
from dexmv_perception.mano.synthetic import synthetic_mano_raw


@pytest.fixture(scope="module")
def model():
    return synthetic_mano_model(seed=3)


@pytest.fixture(scope="module")
def layer(model):
    return ManoLayer(model)


def _random_params(layer: ManoLayer, rng: np.random.Generator, num_pca: int = 10):
    betas = torch.tensor(rng.normal(0.0, 0.5, (1, layer.num_betas)))
    coeffs = torch.tensor(rng.normal(0.0, 0.5, (1, num_pca)))
    pose = layer.pose_from_pca(torch.tensor(rng.normal(0.0, 0.8, (1, 3))), coeffs)
    translation = torch.tensor(rng.uniform(-0.3, 0.3, (1, 3)))
    return betas, pose, translation


def test_zero_pose_and_shape_give_the_template(model, layer):
    out = layer()
    np.testing.assert_allclose(out.vertices[0].numpy(), model.v_template, atol=1e-12)
    np.testing.assert_allclose(out.joints[0].numpy(), model.J_regressor @ model.v_template, atol=1e-12)
    # translation moves everything rigidly
    shifted = layer(translation=torch.tensor([[0.1, -0.2, 0.3]], dtype=torch.float64))
    np.testing.assert_allclose(shifted.vertices[0].numpy(), model.v_template + np.array([0.1, -0.2, 0.3]), atol=1e-12)


def test_shape_blend_shapes_are_linear(model, layer):
    betas = torch.zeros(1, layer.num_betas, dtype=torch.float64)
    betas[0, 2] = 1.5
    out = layer(betas=betas)
    np.testing.assert_allclose(out.vertices[0].numpy(), model.v_template + 1.5 * model.shapedirs[:, :, 2], atol=1e-12)


def test_keypoint_order_maps_mano_joints_to_the_project_order(model, layer):
    # project order: 0 wrist; thumb, index, middle, ring, little, each 3 joints then the tip.
    # MANO: 0 wrist; index 1-3, middle 4-6, little 7-9, ring 10-12, thumb 13-15; tips appended (16 + finger)
    expected = [0, 13, 14, 15, 16, 1, 2, 3, 17, 4, 5, 6, 18, 10, 11, 12, 19, 7, 8, 9, 20]
    assert list(MANO_TO_KEYPOINTS) == expected
    betas, pose, translation = _random_params(layer, np.random.default_rng(0))
    out = layer(betas, pose, translation)
    kp, joints, verts = out.keypoints[0], out.joints[0], out.vertices[0]
    tips = model.tip_vertex_ids  # thumb, index, middle, ring, little
    torch.testing.assert_close(kp[0], joints[0])
    torch.testing.assert_close(kp[1:4], joints[13:16])  # thumb CMC, MCP, IP
    torch.testing.assert_close(kp[4], verts[tips[0]])
    torch.testing.assert_close(kp[17:20], joints[7:10])  # little
    torch.testing.assert_close(kp[20], verts[tips[4]])
    torch.testing.assert_close(kp[13:16], joints[10:13])  # ring
    # the fast keypoints-only path agrees with full skinning
    torch.testing.assert_close(layer.keypoints(betas, pose, translation)[0], kp)


def test_gradients_flow_and_match_finite_differences(layer):
    betas, pose, translation = _random_params(layer, np.random.default_rng(1))
    params = [x.clone().requires_grad_(True) for x in (betas, pose, translation)]
    loss = (layer(*params).vertices ** 2).sum()
    loss.backward()
    for p in params:
        assert p.grad is not None and torch.all(torch.isfinite(p.grad)) and p.grad.abs().sum() > 0
    # one entry of each against a central difference
    for k, index in ((0, (0, 3)), (1, (0, 7)), (1, (0, 40)), (2, (0, 1))):
        h = 1e-6
        plus = [x.clone() for x in (betas, pose, translation)]
        minus = [x.clone() for x in (betas, pose, translation)]
        plus[k][index] += h
        minus[k][index] -= h
        numeric = ((layer(*plus).vertices ** 2).sum() - (layer(*minus).vertices ** 2).sum()) / (2 * h)
        assert float(params[k].grad[index]) == pytest.approx(float(numeric), rel=1e-4, abs=1e-8)


def test_fitter_recovers_a_known_hand(model, layer):
    rng = np.random.default_rng(7)
    betas, pose, translation = _random_params(layer, rng)
    with torch.no_grad():
        truth = layer(betas, pose, translation)
    fitter = ManoFitter(model, FitterConfig(num_pca=15))
    fit = fitter.fit(truth.keypoints[0].numpy())
    assert fit.keypoint_error_mm < 1.5
    assert fit.betas.shape == (10,) and fit.pose.shape == (48,) and fit.translation.shape == (3,)
    with torch.no_grad():
        again = layer(torch.tensor(fit.betas)[None], torch.tensor(fit.pose)[None], torch.tensor(fit.translation)[None])
    vertex_error_mm = float((again.vertices - truth.vertices).norm(dim=-1).mean()) * 1000
    assert vertex_error_mm < 3.0
    # the next frame, moved 5 mm, from this fit: a warm start lands as close
    moved = truth.keypoints[0].numpy() + np.array([0.005, 0.0, 0.0])
    follow = fitter.fit(moved, init=fit)
    assert follow.keypoint_error_mm < 1.5
    np.testing.assert_allclose(follow.translation - fit.translation, [0.005, 0.0, 0.0], atol=0.002)


def test_fitter_uses_confidence_and_refuses_implausible_hands(model, layer):
    with torch.no_grad():
        truth = layer(*_random_params(layer, np.random.default_rng(2))).keypoints[0].numpy()
    fitter = ManoFitter(model, FitterConfig(num_pca=10, iterations=30))
    corrupted = truth.copy()
    corrupted[8] += [0.05, 0.05, 0.0]  # index tip thrown off, but flagged with no confidence
    corrupted[12] = np.nan
    confidence = np.ones(21)
    confidence[8] = 0.0
    confidence[12] = 0.0
    fit = fitter.fit(corrupted, confidence)
    assert fit.keypoint_error_mm < 4.0  # over the confident keypoints; the outlier would add 70 mm / 19
    assert np.linalg.norm(fit.keypoints[8] - truth[8]) < 0.02  # the shape prior keeps the finger in place
    with pytest.raises(ManoFitError, match="not a hand"):
        fitter.fit(truth * 1000.0)  # millimetres passed as metres
    with pytest.raises(ManoFitError, match=r"\(21, 3\)"):
        fitter.fit(truth[:20])
    with pytest.raises(ManoFitError, match="too few"):
        fitter.fit(truth, np.zeros(21))


def test_model_file_round_trip_with_chumpy_objects(tmp_path):
    path = write_synthetic_mano_file(tmp_path / "MANO_RIGHT.pkl", seed=3)
    blob = path.read_bytes()
    assert b"chumpy.ch\nCh" in blob and b"scipy.sparse" in blob  # the real file's kinds of content
    assert "chumpy" not in sys.modules
    loaded = load_mano_model(path)
    reference = synthetic_mano_model(seed=3)
    for name in ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "hands_components", "hands_mean"):
        np.testing.assert_allclose(getattr(loaded, name), getattr(reference, name), err_msg=name)
    assert loaded.tip_vertex_ids == reference.tip_vertex_ids
    assert list(loaded.parents) == [-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14]


def test_pickle_written_through_a_real_chumpy_module_path_loads(monkeypatch):
    """A pickle whose Ch objects were made by a module named chumpy.ch (registered only for this test)."""
    chumpy = types.ModuleType("chumpy")
    ch = types.ModuleType("chumpy.ch")

    class Ch:
        def __init__(self, x):
            self.x = x

        def __getstate__(self):
            return {"x": self.x, "_dirty_vars": set(), "_itr": None}

    Ch.__module__, Ch.__qualname__ = "chumpy.ch", "Ch"
    ch.Ch = Ch
    chumpy.ch = ch
    monkeypatch.setitem(sys.modules, "chumpy", chumpy)
    monkeypatch.setitem(sys.modules, "chumpy.ch", ch)
    raw, tips = synthetic_mano_raw(seed=1)
    raw = dict(raw, shapedirs=Ch(raw["shapedirs"]), v_template=Ch(raw["v_template"]),
               tip_vertex_ids=np.array(tips))
    blob = pickle.dumps(raw, protocol=2)
    monkeypatch.delitem(sys.modules, "chumpy")
    monkeypatch.delitem(sys.modules, "chumpy.ch")
    out = restricted_load(blob)
    assert isinstance(out, dict)
    assert "chumpy" not in sys.modules  # nothing was imported to load it


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_unpickler_refuses_code_execution(tmp_path):
    marker = tmp_path / "pwned"
    raw, _ = synthetic_mano_raw(seed=0)
    raw["payload"] = _Exploit(marker)
    path = tmp_path / "MANO_RIGHT.pkl"
    path.write_bytes(pickle.dumps(raw, protocol=2))
    with pytest.raises(ManoFileError, match=r"refused to load '(posix|os)\.system'"):
        load_mano_model(path)
    assert not marker.exists()
    # other classic gadgets are refused by name too
    for module, name in (("builtins", "eval"), ("__builtin__", "getattr"), ("subprocess", "Popen")):
        blob = b"\x80\x02c" + module.encode() + b"\n" + name.encode() + b"\nq\x00."
        with pytest.raises(ManoFileError, match=f"{module}.{name}"):
            restricted_load(blob)


def test_model_file_errors_name_the_problem(tmp_path):
    with pytest.raises(ManoFileError, match="does not exist"):
        load_mano_model(tmp_path / "missing.pkl")
    raw, _ = synthetic_mano_raw(seed=0)
    del raw["weights"]
    path = tmp_path / "broken.pkl"
    path.write_bytes(pickle.dumps(raw, protocol=2))
    with pytest.raises(ManoFileError, match="missing weights"):
        load_mano_model(path)
    raw, _ = synthetic_mano_raw(seed=0)
    raw["posedirs"] = raw["posedirs"][:, :, :100]
    path.write_bytes(pickle.dumps(raw, protocol=2))
    with pytest.raises(ManoFileError, match="'posedirs' has shape"):
        load_mano_model(path, tip_vertex_ids=(0, 1, 2, 3, 4))
    path.write_bytes(b"not a pickle at all")
    with pytest.raises(ManoFileError):
        load_mano_model(path)


def test_importing_the_package_stays_light():
    import subprocess

    code = ("import sys, dexmv_perception.mano, dexmv_perception.objects; "
            "print('torch' in sys.modules, 'mujoco' in sys.modules, 'scipy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "False"]
