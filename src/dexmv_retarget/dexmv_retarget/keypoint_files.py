"""Reading keypoint files and frame transforms given on the command line; errors name the file or option.

Keypoint files: `.npy` of shape (T, 21, 3) (metres, NaN = missing) or (T, 21, 4) whose last column
is the per-keypoint confidence; `.npz` with a `keypoints` array and optionally `confidence` (T, 21).
Nothing is unpickled (allow_pickle=False), so files from anywhere are safe to open.

Transforms (world <- input frame): a 4x4 matrix in a `.npy` or whitespace-separated text file, or
seven numbers "x y z qx qy qz qw" (commas allowed), the order of geometry_msgs/Transform.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dexmv_retarget.hand_keypoints import KeypointInputError, check_confidence, check_keypoints
from dexmv_retarget.transform_buffer import transform_matrix


def load_keypoints(path: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
    """(T, 21, 3) keypoints and (T, 21) confidence or None, checked."""
    path = Path(path)
    if not path.is_file():
        raise KeypointInputError(f"{path}: no such keypoint file")
    with open(path, "rb") as f:
        magic = f.read(6)
    if magic != b"\x93NUMPY" and not magic.startswith(b"PK\x03\x04"):
        kind = "a text file" if magic and all(32 <= b < 127 or b in (9, 10, 13) for b in magic) else "another format"
        raise KeypointInputError(f"{path}: not a NumPy .npy/.npz file (it looks like {kind}; "
                                 "convert it with numpy.save)")
    try:
        data = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise KeypointInputError(f"{path}: not a NumPy .npy/.npz file ({err})") from None
    confidence = None
    if isinstance(data, np.lib.npyio.NpzFile):
        with data:
            if "keypoints" not in data.files:
                raise KeypointInputError(f"{path}: .npz without a 'keypoints' array (has {data.files})")
            keypoints = data["keypoints"]
            if "confidence" in data.files:
                confidence = data["confidence"]
    else:
        keypoints = data
        if keypoints.ndim == 3 and keypoints.shape[1:] == (21, 4):
            keypoints, confidence = keypoints[..., :3], keypoints[..., 3]
    keypoints = check_keypoints(keypoints, str(path))
    if confidence is not None:
        confidence = check_confidence(confidence, keypoints.shape[0], f"{path} confidence")
    return keypoints, confidence


def parse_transform(text: str, option: str = "--transform") -> np.ndarray:
    """A 4x4 world <- input transform from a file name or seven numbers; `option` names it in errors."""
    path = Path(text)
    if path.is_file():
        try:
            matrix = np.load(path, allow_pickle=False) if path.suffix == ".npy" else np.loadtxt(path)
        except (ValueError, OSError) as err:
            raise ValueError(f"{option} {path}: cannot read a 4x4 matrix ({err})") from None
        matrix = np.asarray(matrix, dtype=float)
        if matrix.shape != (4, 4) or not np.isfinite(matrix).all():
            raise ValueError(f"{option} {path}: expected a finite 4x4 matrix, got shape {matrix.shape}")
        rot = matrix[:3, :3]
        if not np.allclose(rot @ rot.T, np.eye(3), atol=1e-5) or not np.allclose(matrix[3], [0, 0, 0, 1]):
            raise ValueError(f"{option} {path}: not a rigid transform (rotation not orthonormal or last row "
                             "not 0 0 0 1)")
        return matrix
    try:
        values = [float(v) for v in text.replace(",", " ").split()]
    except ValueError:
        values = []
    if len(values) != 7:
        raise ValueError(f"{option} {text!r}: expected a 4x4 matrix file (.npy or text) or seven numbers "
                         "'x y z qx qy qz qw'")
    try:
        return transform_matrix(values[:3], values[3:])
    except ValueError as err:
        raise ValueError(f"{option} {text!r}: {err}") from None
