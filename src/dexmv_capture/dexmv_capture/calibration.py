"""Extrinsic calibration of the rig: a ChArUco board on the table seen by every camera.

Each camera's pose comes from the board's detected corners (OpenCV ChArUco, solvePnP with the
recorded intrinsics); the board's pose in `world` is known by construction (it lies on the table
with its centre where the user says, default the world origin), so world <- camera follows for
every camera independently. The result is the extrinsics YAML of extrinsics.py.

Board frame (OpenCV's): origin at the first chessboard corner of the board image's top-left, x along
the image's columns, y along its rows, z into the board. A board lying face up on the table with
its image x along world x has y along world -y and z along world -z.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from dexmv_capture.d435 import Intrinsics
from dexmv_capture.extrinsics import CameraExtrinsics
from dexmv_capture.rig import LINK_FROM_OPTICAL


class CalibrationError(RuntimeError):
    """The board was not found well enough; the message names the camera or file."""


@dataclass(frozen=True)
class BoardSpec:
    """A ChArUco board: squares (columns x rows), square and marker side (m), ArUco dictionary name."""

    squares_x: int = 8
    squares_y: int = 6
    square: float = 0.05
    marker: float = 0.037
    dictionary: str = "DICT_5X5_100"

    def board(self):
        import cv2

        if not hasattr(cv2.aruco, self.dictionary):
            raise CalibrationError(f"unknown ArUco dictionary {self.dictionary!r} (e.g. DICT_5X5_100)")
        if self.marker >= self.square:
            raise CalibrationError(f"marker side {self.marker} m must be smaller than the square side {self.square} m")
        d = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, self.dictionary))
        return cv2.aruco.CharucoBoard((self.squares_x, self.squares_y), self.square, self.marker, d)

    @property
    def size(self) -> tuple[float, float]:
        return self.squares_x * self.square, self.squares_y * self.square

    def image(self, px_per_square: int = 100, margin_px: int = 0) -> np.ndarray:
        """The printable board image (uint8 gray); one square is px_per_square pixels."""
        size = (self.squares_x * px_per_square + 2 * margin_px, self.squares_y * px_per_square + 2 * margin_px)
        return self.board().generateImage(size, marginSize=margin_px)


def world_from_board(center_xy=(0.0, 0.0), yaw_deg: float = 0.0, spec: BoardSpec | None = None) -> np.ndarray:
    """4x4 world <- board of a board lying face up on the table, centred at center_xy, rotated by yaw."""
    spec = spec or BoardSpec()
    w, h = spec.size
    face_up = np.diag([1.0, -1.0, -1.0])  # board x = world x, y = -y, z = -z (into the table)
    rot = Rotation.from_euler("z", yaw_deg, degrees=True).as_matrix()
    out = np.eye(4)
    out[:3, :3] = rot @ face_up
    # the board centre is at board (w/2, h/2, 0)
    out[:3, 3] = np.array([center_xy[0], center_xy[1], 0.0]) - out[:3, :3] @ np.array([w / 2, h / 2, 0.0])
    return out


@dataclass(frozen=True)
class BoardView:
    """A board detection in one image: optical <- board, corners used and reprojection RMS (px)."""

    optical_from_board: np.ndarray
    corners_px: np.ndarray  # (N, 2)
    corner_ids: np.ndarray  # (N,)
    rms_px: float


def detect_board(rgb: np.ndarray, intrinsics: Intrinsics, spec: BoardSpec, min_corners: int = 8) -> BoardView | None:
    """Find the board in an RGB image and its pose in the optical frame; None when not seen well enough."""
    import cv2

    gray = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY) if rgb.ndim == 3 else rgb
    board = spec.board()
    detector = cv2.aruco.CharucoDetector(board)
    corners, ids, _, _ = detector.detectBoard(gray)
    if ids is None or len(ids) < min_corners:
        return None
    obj = board.getChessboardCorners()[ids.ravel()]
    img = corners.reshape(-1, 2).astype(np.float64)
    k = intrinsics.matrix()
    dist = np.asarray(intrinsics.coeffs, dtype=np.float64)
    ok, rvec, tvec = cv2.solvePnP(obj, img, k, dist, flags=cv2.SOLVEPNP_IPPE)
    if not ok:
        return None
    rvec, tvec = cv2.solvePnPRefineLM(obj, img, k, dist, rvec, tvec)
    proj, _ = cv2.projectPoints(obj, rvec, tvec, k, dist)
    rms = float(np.sqrt(np.mean(np.sum((proj.reshape(-1, 2) - img) ** 2, axis=1))))
    pose = np.eye(4)
    pose[:3, :3] = cv2.Rodrigues(rvec)[0]
    pose[:3, 3] = tvec.ravel()
    return BoardView(pose, img, ids.ravel(), rms)


def average_poses(poses: list[np.ndarray]) -> np.ndarray:
    """Mean rotation (chordal) and median translation of several estimates of one pose."""
    out = np.eye(4)
    out[:3, :3] = Rotation.from_matrix(np.stack([p[:3, :3] for p in poses])).mean().as_matrix()
    out[:3, 3] = np.median(np.stack([p[:3, 3] for p in poses]), axis=0)
    return out


def camera_extrinsics(camera_name: str, views: list[BoardView], board_pose: np.ndarray,
                      frame_id: str = "world", link_from_optical: np.ndarray | None = None) -> CameraExtrinsics:
    """world <- camera{i}_link from the camera's board views.

    link_from_optical: 4x4 link <- colour optical frame (rig.link_from_color_optical of the
    recording's depth-to-colour extrinsics: the link sits at the depth sensor as in realsense-ros);
    default: the colour sensor at the link origin."""
    if not views:
        raise CalibrationError(f"{camera_name}: the board was not found in any frame")
    if link_from_optical is None:
        link_from_optical = np.eye(4)
        link_from_optical[:3, :3] = LINK_FROM_OPTICAL
    optical_from_board = average_poses([v.optical_from_board for v in views])
    world_link = board_pose @ np.linalg.inv(optical_from_board) @ np.linalg.inv(link_from_optical)
    rms = float(np.mean([v.rms_px for v in views]))
    return CameraExtrinsics(camera_name, frame_id, f"{camera_name}_link", world_link[:3, 3].copy(),
                            Rotation.from_matrix(world_link[:3, :3]).as_quat(),
                            {"rms_reprojection_px": round(rms, 4), "views": len(views),
                             "corners": int(np.mean([len(v.corner_ids) for v in views]))})


def render_board_view(spec: BoardSpec, intrinsics: Intrinsics, optical_from_board: np.ndarray,
                      background: int = 90, px_per_square: int = 120) -> np.ndarray:
    """An RGB image of the board seen by a pinhole camera (exact planar projection of the board image)."""
    import cv2

    margin = px_per_square // 2
    img = spec.image(px_per_square, margin)
    scale = spec.square / px_per_square  # metres per board-image pixel
    # board-image pixel (u, v) -> board point ((u - margin) * scale, (v - margin) * scale, 0)
    to_board = np.array([[scale, 0.0, -margin * scale], [0.0, scale, -margin * scale], [0.0, 0.0, 1.0]])
    r, t = optical_from_board[:3, :3], optical_from_board[:3, 3]
    plane = np.column_stack([r[:, 0], r[:, 1], t])  # board (x, y, 1) -> camera
    homography = intrinsics.matrix() @ plane @ to_board
    out = cv2.warpPerspective(img, homography, (intrinsics.width, intrinsics.height), flags=cv2.INTER_AREA,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=background)
    mask = cv2.warpPerspective(np.full_like(img, 255), homography, (intrinsics.width, intrinsics.height),
                               flags=cv2.INTER_NEAREST, borderValue=0)
    out = np.where(mask > 0, out, background).astype(np.uint8)
    return np.repeat(out[..., None], 3, axis=2)


def draw_detection(rgb: np.ndarray, view: BoardView | None, intrinsics: Intrinsics, spec: BoardSpec) -> np.ndarray:
    """A copy of the image with the detected corners and the board's axes (x red, y green, z blue)."""
    import cv2

    out = np.ascontiguousarray(rgb.copy())
    if view is None:
        cv2.putText(out, "board not found", (20, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 0, 0), 2)
        return out
    for (u, v), i in zip(view.corners_px, view.corner_ids, strict=True):
        cv2.circle(out, (round(u), round(v)), 4, (255, 255, 0), 1)
        del i
    rvec = cv2.Rodrigues(view.optical_from_board[:3, :3])[0]
    cv2.drawFrameAxes(out, intrinsics.matrix(), np.asarray(intrinsics.coeffs), rvec, view.optical_from_board[:3, 3],
                      2 * spec.square, 2)
    cv2.putText(out, f"{len(view.corner_ids)} corners, rms {view.rms_px:.2f} px", (20, 30),
                cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 0), 2)
    return out
