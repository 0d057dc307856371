"""Load a MANO model file (MANO_RIGHT.pkl / MANO_LEFT.pkl) without trusting it.

The official files are Python 2 pickles holding numpy arrays, a scipy.sparse CSC matrix (the joint
regressor) and chumpy `Ch` objects (shapedirs and a few others). Plain `pickle.load` would run
whatever the file names; `_RestrictedUnpickler.find_class` instead allows only what such a file
needs: numpy's array reconstruction, dtypes and scalars, the scipy sparse matrix classes and chumpy's
`Ch`, the last two replaced by inert stand-ins that only keep the data their state carries, plus
`set`/`object`. Anything else (os.system, builtins.eval, ...) raises `ManoFileError` naming it,
before it is looked up, so nothing from the file ever runs.
"""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dexmv_perception.mano.keypoint_order import TIP_VERTEX_IDS

NUM_JOINTS = 16
NUM_POSE_PCA = 45  # 15 joints x 3


class ManoFileError(ValueError):
    """A MANO file that cannot be used (refused content, missing key, wrong shape); the message says which."""


class _ChumpyStandIn:
    """Takes the place of chumpy.ch.Ch while unpickling: keeps the state dict, runs nothing."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.state: dict = {}

    def __setstate__(self, state: object) -> None:
        self.state = state if isinstance(state, dict) else {"x": state}

    def array(self, key: str) -> np.ndarray:
        if "x" not in self.state:
            raise ManoFileError(f"'{key}': a chumpy object without plain array data ('x'); only chumpy.ch.Ch "
                                "holding an array is supported")
        return np.asarray(self.state["x"], dtype=float)


class _SparseStandIn:
    """Takes the place of a scipy.sparse csc/csr matrix while unpickling; densified afterwards."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.state: dict = {}

    def __setstate__(self, state: object) -> None:
        self.state = state if isinstance(state, dict) else {}

    def array(self, key: str, fmt: str) -> np.ndarray:
        try:
            data = np.asarray(self.state["data"], dtype=float)
            indices = np.asarray(self.state["indices"], dtype=np.int64)
            indptr = np.asarray(self.state["indptr"], dtype=np.int64)
            shape = tuple(int(s) for s in self.state.get("_shape", self.state.get("shape")))
        except (KeyError, TypeError, ValueError) as err:
            raise ManoFileError(f"'{key}': sparse matrix state without data/indices/indptr/shape ({err})") from err
        out = np.zeros(shape)
        major = shape[1] if fmt == "csc" else shape[0]
        if indptr.shape != (major + 1,) or indices.shape != data.shape or (indices.size and indices.max() >= (
                shape[0] if fmt == "csc" else shape[1])):
            raise ManoFileError(f"'{key}': inconsistent {fmt} sparse matrix")
        for j in range(major):
            sl = slice(indptr[j], indptr[j + 1])
            if fmt == "csc":
                out[indices[sl], j] += data[sl]
            else:
                out[j, indices[sl]] += data[sl]
        return out


class _CscStandIn(_SparseStandIn):
    pass


class _CsrStandIn(_SparseStandIn):
    pass


def _numpy_reconstruct():
    try:
        from numpy.core.multiarray import _reconstruct
    except ImportError:  # numpy >= 2 moved it
        from numpy._core.multiarray import _reconstruct  # type: ignore[no-redef]
    return _reconstruct


def _numpy_scalar():
    try:
        from numpy.core.multiarray import scalar
    except ImportError:
        from numpy._core.multiarray import scalar  # type: ignore[no-redef]
    return scalar


_ALLOWED = {
    # numpy arrays, dtypes and scalars (module names of numpy 1.x and 2.x)
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
    # scipy.sparse matrices, under the module paths old and new scipy versions pickle them
    ("scipy.sparse.csc", "csc_matrix"): lambda: _CscStandIn,
    ("scipy.sparse._csc", "csc_matrix"): lambda: _CscStandIn,
    ("scipy.sparse.csr", "csr_matrix"): lambda: _CsrStandIn,
    ("scipy.sparse._csr", "csr_matrix"): lambda: _CsrStandIn,
    # chumpy's array container
    ("chumpy.ch", "Ch"): lambda: _ChumpyStandIn,
    # bytes in a protocol-2 pickle written by Python 3 (numpy array data), latin-1 only
    ("_codecs", "encode"): lambda: _latin1_encode,
    # what Python 2 pickles use to rebuild plain objects and sets
    ("copy_reg", "_reconstructor"): lambda: __import__("copyreg")._reconstructor,
    ("copyreg", "_reconstructor"): lambda: __import__("copyreg")._reconstructor,
    ("__builtin__", "object"): lambda: object,
    ("builtins", "object"): lambda: object,
    ("__builtin__", "set"): lambda: set,
    ("builtins", "set"): lambda: set,
    ("__builtin__", "frozenset"): lambda: frozenset,
    ("builtins", "frozenset"): lambda: frozenset,
}


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    if encoding.lower().replace("-", "") not in ("latin1", "iso88591") or not isinstance(text, str):
        raise ManoFileError(f"refused _codecs.encode with encoding {encoding!r} in the MANO file")
    return text.encode("latin1")


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        factory = _ALLOWED.get((module, name))
        if factory is None:
            raise ManoFileError(f"refused to load '{module}.{name}' from the MANO file: a MANO model holds only "
                                "numpy arrays, scipy sparse matrices and chumpy arrays")
        return factory()

    def persistent_load(self, pid: object) -> object:
        raise ManoFileError("refused a persistent id in the MANO file")


def restricted_load(data: bytes) -> object:
    """Unpickle `data` allowing only what a MANO file needs (see the module docstring)."""
    try:
        return _RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()
    except ManoFileError:
        raise
    except (pickle.UnpicklingError, EOFError, AttributeError, TypeError, ValueError, IndexError) as err:
        raise ManoFileError(f"not a readable MANO pickle: {err}") from err


@dataclass(frozen=True)
class ManoModel:
    """A MANO model's arrays (float64 numpy), named as in the official file.

    v_template (V, 3); shapedirs (V, 3, B); posedirs (V, 3, 135), driven by (R_j - I) of the 15
    non-root joints; J_regressor (16, V); weights (V, 16); parents (16,) with -1 for the root (from
    kintree_table); hands_components (45, 45) PCA basis of the 15 finger joints' axis-angles (rows
    are components), hands_mean (45,); faces (F, 3) or empty; tip_vertex_ids: thumb, index,
    middle, ring, little fingertip vertices.
    """

    v_template: np.ndarray
    shapedirs: np.ndarray
    posedirs: np.ndarray
    J_regressor: np.ndarray
    weights: np.ndarray
    parents: np.ndarray
    hands_components: np.ndarray
    hands_mean: np.ndarray
    faces: np.ndarray
    tip_vertex_ids: tuple[int, int, int, int, int]
    source: str = ""

    @property
    def num_vertices(self) -> int:
        return int(self.v_template.shape[0])

    @property
    def num_betas(self) -> int:
        return int(self.shapedirs.shape[2])


def _as_array(key: str, value: object) -> np.ndarray:
    if isinstance(value, _ChumpyStandIn):
        return value.array(key)
    if isinstance(value, _CscStandIn):
        return value.array(key, "csc")
    if isinstance(value, _CsrStandIn):
        return value.array(key, "csr")
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, (list, tuple, int, float)):
        return np.asarray(value)
    raise ManoFileError(f"'{key}' holds a {type(value).__name__}, expected an array")


def _check_shape(key: str, arr: np.ndarray, shape: tuple) -> None:
    if arr.ndim != len(shape) or any(s is not None and a != s for a, s in zip(arr.shape, shape, strict=True)):
        want = "x".join("N" if s is None else str(s) for s in shape)
        raise ManoFileError(f"'{key}' has shape {arr.shape}, expected {want}")
    if arr.dtype.kind in "fc" and not np.all(np.isfinite(arr)):
        raise ManoFileError(f"'{key}' holds NaN or infinite values")


def model_from_dict(raw: dict, source: str = "", tip_vertex_ids: tuple[int, ...] | None = None) -> ManoModel:
    """Check and convert the unpickled dict of a MANO file."""
    if not isinstance(raw, dict):
        raise ManoFileError(f"{source or 'MANO file'}: expected a dict of arrays, got {type(raw).__name__}")
    needed = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "hands_components",
              "hands_mean")
    missing = [k for k in needed if k not in raw]
    if missing:
        raise ManoFileError(f"{source or 'MANO file'}: missing {', '.join(missing)}")
    a = {k: _as_array(k, raw[k]) for k in needed}
    v = a["v_template"].astype(float)
    _check_shape("v_template", v, (None, 3))
    n = v.shape[0]
    shapedirs = a["shapedirs"].astype(float)
    _check_shape("shapedirs", shapedirs, (n, 3, None))
    posedirs = a["posedirs"].astype(float)
    _check_shape("posedirs", posedirs, (n, 3, (NUM_JOINTS - 1) * 9))
    regressor = a["J_regressor"].astype(float)
    _check_shape("J_regressor", regressor, (NUM_JOINTS, n))
    weights = a["weights"].astype(float)
    _check_shape("weights", weights, (n, NUM_JOINTS))
    kintree = a["kintree_table"].astype(np.int64)
    _check_shape("kintree_table", kintree, (2, NUM_JOINTS))
    components = a["hands_components"].astype(float)
    _check_shape("hands_components", components, (None, NUM_POSE_PCA))
    mean = a["hands_mean"].astype(float).reshape(-1)
    _check_shape("hands_mean", mean, (NUM_POSE_PCA,))
    # kintree_table row 0: parent of each joint (the root's is a large sentinel); row 1: joint ids
    ids = kintree[1]
    if sorted(ids.tolist()) != list(range(NUM_JOINTS)):
        raise ManoFileError(f"'kintree_table' row 1 must list joints 0..15, got {ids.tolist()}")
    parents = np.full(NUM_JOINTS, -1, dtype=np.int64)
    for parent, child in zip(kintree[0], ids, strict=True):
        parents[child] = parent if 0 <= parent < NUM_JOINTS else -1
    if parents[0] != -1 or np.sum(parents < 0) != 1 or np.any(parents[1:] >= np.arange(1, NUM_JOINTS)):
        raise ManoFileError(f"'kintree_table' does not describe a tree rooted at joint 0 with parents before "
                            f"children: {parents.tolist()}")
    if not np.allclose(weights.sum(axis=1), 1.0, atol=1e-3):
        raise ManoFileError("'weights' rows do not sum to 1")
    faces = np.asarray(_as_array("f", raw["f"]), dtype=np.int64) if "f" in raw else np.zeros((0, 3), np.int64)
    if tip_vertex_ids is None:
        if "tip_vertex_ids" in raw:
            tip_vertex_ids = tuple(int(i) for i in np.asarray(_as_array("tip_vertex_ids", raw["tip_vertex_ids"])))
        elif n == 778:
            tip_vertex_ids = tuple(TIP_VERTEX_IDS.values())
        else:
            raise ManoFileError(f"{source or 'MANO file'}: {n} vertices (MANO has 778): give tip_vertex_ids")
    if len(tip_vertex_ids) != 5 or not all(0 <= i < n for i in tip_vertex_ids):
        raise ManoFileError(f"tip_vertex_ids must be 5 vertex ids below {n}, got {tip_vertex_ids}")
    return ManoModel(v, shapedirs, posedirs, regressor, weights, parents, components, mean, faces,
                     tuple(int(i) for i in tip_vertex_ids), source)  # type: ignore[arg-type]


def load_mano_model(path: str | Path, tip_vertex_ids: tuple[int, ...] | None = None) -> ManoModel:
    """Read a MANO model file (the official MANO_RIGHT.pkl or one with its layout), executing nothing.

    tip_vertex_ids: the fingertip vertices (thumb, index, middle, ring, little); default: the
    file's `tip_vertex_ids` entry, else the commonly used ids of the 778-vertex right hand.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise ManoFileError(f"MANO model file {p} does not exist (download MANO_RIGHT.pkl from "
                            "https://mano.is.tue.mpg.de after accepting its licence)")
    raw = restricted_load(p.read_bytes())
    return model_from_dict(raw, str(p), tip_vertex_ids)
