"""A small MANO-like model with the real file's layout, for tests and for running without MANO.

The real MANO_RIGHT.pkl is licensed per user, so tests (and users trying the pipeline) need a
stand-in with the same keys, shapes and kinds of data: 16 joints with MANO's kinematic tree and
joint order, vertices around every bone (about 300 instead of 778), a sparse joint regressor that
averages a ring of vertices around each joint, skinning weights, linear shape and pose blend shapes,
a 45x45 PCA pose basis and mean, chumpy `Ch` wrappers where the real file has them. It is a hand
in the sense that matters for fitting (bone lengths of an adult hand), not a realistic surface.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from dexmv_perception.mano.model_file import NUM_JOINTS, ManoModel, model_from_dict

# MANO's kinematic tree: wrist; index 1-3, middle 4-6, little 7-9, ring 10-12, thumb 13-15
PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14)
_ROOT_SENTINEL = 4294967295  # what the real kintree_table holds as the root's parent
# per finger in MANO order: first joint position (m, hand frame: x towards the fingers, y towards the
# thumb, z out of the back of the hand), direction, the three segment lengths and the tip's
_FINGERS = (
    ((0.088, 0.024, 0.0), (1.0, 0.08, 0.0), (0.040, 0.024, 0.020, 0.019)),  # index
    ((0.092, 0.004, 0.0), (1.0, 0.0, 0.0), (0.044, 0.028, 0.021, 0.020)),  # middle
    ((0.078, -0.033, 0.0), (1.0, -0.12, 0.0), (0.032, 0.019, 0.018, 0.018)),  # little
    ((0.087, -0.015, 0.0), (1.0, -0.06, 0.0), (0.041, 0.026, 0.020, 0.019)),  # ring
    ((0.024, 0.022, -0.008), (0.62, 0.76, -0.18), (0.038, 0.032, 0.026, 0.024)),  # thumb (CMC, MCP, IP, tip)
)
_RING = 6  # vertices around a bone at each ring
_BONE_RADIUS = 0.008
_JOINT_RADIUS = 0.006


def _perpendiculars(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.array([0.0, 0.0, 1.0]) if abs(d[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    u = np.cross(d, a)
    u /= np.linalg.norm(u)
    return u, np.cross(d, u)


def _skeleton() -> tuple[np.ndarray, np.ndarray]:
    """(joints (16, 3), tips (5, 3) in MANO finger order) of the synthetic template."""
    joints = np.zeros((NUM_JOINTS, 3))
    tips = np.zeros((5, 3))
    for f, (base, direction, lengths) in enumerate(_FINGERS):
        d = np.asarray(direction) / np.linalg.norm(direction)
        # a gentle natural curl: each segment bends 8 degrees towards the palm (-z)
        p = np.asarray(base, dtype=float)
        for s in range(4):
            if s < 3:
                joints[1 + 3 * f + s] = p
            bend = np.deg2rad(8.0) * (s + 1)
            seg = d * np.cos(bend) + np.array([0.0, 0.0, -1.0]) * np.sin(bend)
            p = p + seg / np.linalg.norm(seg) * lengths[s]
        tips[f] = p
    return joints, tips


def synthetic_mano_raw(seed: int = 0, num_betas: int = 10) -> tuple[dict, tuple[int, ...]]:
    """The arrays of a synthetic model as the real file names them, and its fingertip vertex ids in the
    project's finger order (thumb, index, middle, ring, little)."""
    rng = np.random.default_rng(seed)
    joints, tips = _skeleton()
    verts: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    faces: list[tuple[int, int, int]] = []
    regressor = np.zeros((NUM_JOINTS, 0))
    reg_cols: list[tuple[int, int]] = []  # (joint, vertex)

    def add_vertex(p: np.ndarray, w: dict[int, float]) -> int:
        verts.append(p)
        row = np.zeros(NUM_JOINTS)
        for j, x in w.items():
            row[j] += x
        weights.append(row / row.sum())
        return len(verts) - 1

    # a ring of vertices around every joint: the regressor averages it, so it gives the joint back
    for j in range(NUM_JOINTS):
        child = next((c for c in range(NUM_JOINTS) if PARENTS[c] == j), None)
        end = joints[child] if child is not None else tips[(j - 1) // 3]
        d = end - joints[j] if j > 0 else np.array([1.0, 0.0, 0.0])
        u, v = _perpendiculars(d / np.linalg.norm(d))
        for k in range(4):
            a = np.pi / 2 * k
            w = {j: 0.5, max(PARENTS[j], 0): 0.5} if j > 0 else {0: 1.0}
            reg_cols.append((j, add_vertex(joints[j] + _JOINT_RADIUS * (np.cos(a) * u + np.sin(a) * v), w)))
    # bones: palm bones (wrist to each finger's first joint) and finger segments, two rings each
    bones = [(0, 1 + 3 * f, 0) for f in range(5)]  # (from joint, to joint, skinned to)
    for f in range(5):
        j1 = 1 + 3 * f
        bones += [(j1, j1 + 1, j1), (j1 + 1, j1 + 2, j1 + 1), (j1 + 2, -1 - f, j1 + 2)]
    for a_id, b_id, owner in bones:
        a = joints[a_id]
        b = joints[b_id] if b_id >= 0 else tips[-1 - b_id]
        d = (b - a) / np.linalg.norm(b - a)
        u, v = _perpendiculars(d)
        rings = []
        for t, w in ((0.3, {owner: 0.8, max(PARENTS[owner], 0): 0.2}), (0.75, {owner: 1.0})):
            rings.append([add_vertex(a + t * (b - a) + _BONE_RADIUS * (np.cos(x) * u + np.sin(x) * v), w)
                          for x in np.linspace(0.0, 2 * np.pi, _RING, endpoint=False)])
        for k in range(_RING):
            p0, p1, q0, q1 = rings[0][k], rings[0][(k + 1) % _RING], rings[1][k], rings[1][(k + 1) % _RING]
            faces += [(p0, p1, q1), (p0, q1, q0)]
    tip_ids_mano_order = [add_vertex(tips[f], {3 + 3 * f: 1.0}) for f in range(5)]
    v_template = np.array(verts)
    n = len(verts)
    regressor = np.zeros((NUM_JOINTS, n))
    for j, vid in reg_cols:
        regressor[j, vid] = 0.25
    # shape: overall size (beta 0) and smooth random linear deformations about the wrist
    shapedirs = np.zeros((n, 3, num_betas))
    shapedirs[:, :, 0] = v_template * 0.03
    for b in range(1, num_betas):
        shapedirs[:, :, b] = v_template @ (rng.normal(0.0, 0.015, (3, 3))).T
    posedirs = rng.normal(0.0, 3e-4, (n, 3, (NUM_JOINTS - 1) * 9))
    components = np.linalg.qr(rng.normal(size=(45, 45)))[0].T * np.linspace(1.0, 0.3, 45)[:, None]
    mean = np.zeros((15, 3))
    mean[:, 1] = rng.uniform(0.05, 0.2, 15)  # a relaxed hand: a little flexion at every joint
    kintree = np.array([[_ROOT_SENTINEL if p < 0 else p for p in PARENTS], list(range(NUM_JOINTS))], dtype=np.int64)
    raw = {
        "v_template": v_template, "shapedirs": shapedirs, "posedirs": posedirs, "J_regressor": regressor,
        "weights": np.array(weights), "kintree_table": kintree, "hands_components": components,
        "hands_mean": mean.reshape(-1), "f": np.array(faces, dtype=np.uint32),
        "J": regressor @ v_template, "bs_style": "lbs", "bs_type": "lrotmin",
    }
    # the project's finger order (thumb, index, middle, ring, little) from MANO's (index, middle, little, ring, thumb)
    tip_ids = tuple(tip_ids_mano_order[f] for f in (4, 0, 1, 3, 2))
    return raw, tip_ids


def synthetic_mano_model(seed: int = 0, num_betas: int = 10) -> ManoModel:
    """The synthetic model, in memory."""
    raw, tips = synthetic_mano_raw(seed, num_betas)
    return model_from_dict(raw, f"synthetic MANO model (seed {seed})", tips)


class _ChumpyArray:
    """Pickles as chumpy's Ch does (class reference plus a state dict whose 'x' is the array); its
    class reference is rewritten to chumpy.ch.Ch in the bytes, so chumpy need not be installed."""

    def __init__(self, x: np.ndarray) -> None:
        self.x = x

    def __getstate__(self) -> dict:
        return {"x": self.x, "_dirty_vars": set(), "_itr": None, "_depends_on_deps": {}, "_make_dense": False,
                "_make_sparse": False}


_PLACEHOLDER = f"c{__name__}\n{_ChumpyArray.__name__}\n".encode()
_CHUMPY_CH = b"cchumpy.ch\nCh\n"


def synthetic_mano_bytes(seed: int = 0, num_betas: int = 10) -> bytes:
    """Pickle bytes of the synthetic model laid out as MANO_RIGHT.pkl (protocol 2, chumpy `Ch` for
    v_template, shapedirs, posedirs, weights and J; a scipy CSC matrix for J_regressor)."""
    import scipy.sparse

    raw, tips = synthetic_mano_raw(seed, num_betas)
    data = dict(raw)
    for key in ("v_template", "shapedirs", "posedirs", "weights", "J"):
        data[key] = _ChumpyArray(raw[key])
    data["J_regressor"] = scipy.sparse.csc_matrix(raw["J_regressor"])
    data["tip_vertex_ids"] = np.array(tips, dtype=np.int64)  # not in the real file (its ids are known)
    blob = pickle.dumps(data, protocol=2)
    if _PLACEHOLDER not in blob:
        raise RuntimeError("pickle layout changed: chumpy placeholder not found")
    return blob.replace(_PLACEHOLDER, _CHUMPY_CH)


def write_synthetic_mano_file(path: str | Path, seed: int = 0, num_betas: int = 10) -> Path:
    """Write the synthetic model to `path` (a .pkl laid out like the real one); returns the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(synthetic_mano_bytes(seed, num_betas))
    return p
