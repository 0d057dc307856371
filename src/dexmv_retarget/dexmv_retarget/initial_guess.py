"""Stage 1 of DexMV's retargeting: an initial guess of all 30 Adroit joints from one frame of keypoints.

- Wrist: the palm frame of the keypoints (wrist, index MCP, little MCP; palm_frame.py) is the
  robot palm's orientation up to a constant rotation, measured once on the robot's own keypoints;
  the wrist keypoint is the palm's position. The 6 arm joints (slides then x-y-z hinges in the
  forearm frame) take that pose in closed form, the two wrist joints take whatever rotation the
  arm's limits leave over.
- Fingers: each human phalanx direction, expressed in the frame the robot joint before it moves
  in, is decomposed into that joint's own axes (abduction then flexion at the MCP, flexion at
  PIP and DIP; for the thumb base rotation and flexion at the CMC, two axes at the MCP, flexion
  at the IP). These human angles go through DexMV's linear "fitness" map q = gain * angle + offset
  (identity by default: the angles are already in the robot's convention) and the joint limits.
  The little finger's metacarpal cup joint (LFJ4) has no keypoint of its own: it starts at 0 and
  is left to stage 2.

Everything is vectorized over leading axes, so a whole trajectory costs about as much as a frame.
On the robot's own keypoints the guess recovers the joints exactly (tests), which checks every
axis convention used here.
"""

from __future__ import annotations

import mujoco
import numpy as np

from dexmv_retarget.hand_keypoints import FINGER_KEYPOINTS, WRIST
from dexmv_retarget.kinematics import AdroitKinematics
from dexmv_retarget.palm_frame import palm_rotation
from dexmv_sim.adroit import ADROIT_JOINTS, FOREARM_BODY, PALM_BODY

J = {name: i for i, name in enumerate(ADROIT_JOINTS)}
ARM = slice(0, 6)
WRIST_JOINTS = slice(6, 8)
NUM_ARM_AND_WRIST = 8
_FINGERS4 = ("index", "middle", "ring", "little")
_FINGER_PREFIX = {"index": "FF", "middle": "MF", "ring": "RF", "little": "LF"}
_FINGER_ABD = np.array([J[f"{_FINGER_PREFIX[f]}J3"] for f in _FINGERS4])
_FINGER_MCP = np.array([J[f"{_FINGER_PREFIX[f]}J2"] for f in _FINGERS4])
_FINGER_PIP = np.array([J[f"{_FINGER_PREFIX[f]}J1"] for f in _FINGERS4])
_FINGER_DIP = np.array([J[f"{_FINGER_PREFIX[f]}J0"] for f in _FINGERS4])
_FK = np.array([FINGER_KEYPOINTS[f] for f in _FINGERS4])  # (4, 4): MCP, PIP, DIP, tip


_AXIS = {"x": (0, 1, 2), "y": (1, 2, 0), "z": (2, 0, 1)}


def _rot(axis: str, angle: np.ndarray) -> np.ndarray:
    """Rotations about a coordinate axis, (...,) -> (..., 3, 3) (element writes: cheap for one frame too)."""
    i, j, k = _AXIS[axis]
    c, s = np.cos(angle), np.sin(angle)
    out = np.zeros((*np.shape(angle), 3, 3))
    out[..., i, i] = 1.0
    out[..., j, j] = c
    out[..., k, k] = c
    out[..., j, k] = -s
    out[..., k, j] = s
    return out


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _local(v: np.ndarray, rot: np.ndarray) -> np.ndarray:
    """Coordinates of world vectors v (..., 3) in frames rot (..., 3, 3): rot^T v."""
    return (v[..., None, :] @ rot)[..., 0, :]


class ModelStructureError(ValueError):
    """The Adroit model differs from the structure the closed-form initial guess was derived for."""


class InitialGuess:
    """Closed-form stage-1 guess; `gain`/`offset` (30,) are the linear map applied to hand joint angles."""

    def __init__(self, kinematics: AdroitKinematics, gain: np.ndarray | None = None,
                 offset: np.ndarray | None = None) -> None:
        self.kin = kinematics
        m = kinematics.model
        self.gain = np.ones(len(ADROIT_JOINTS)) if gain is None else np.asarray(gain, dtype=float)
        self.offset = np.zeros(len(ADROIT_JOINTS)) if offset is None else np.asarray(offset, dtype=float)
        self._check_structure(m)
        self.lower, self.upper = kinematics.lower, kinematics.upper
        forearm = m.body(FOREARM_BODY)
        self.base_pos = forearm.pos.copy()
        self.base_rot = np.zeros(9)
        mujoco.mju_quat2Mat(self.base_rot, forearm.quat)
        self.base_rot = self.base_rot.reshape(3, 3)
        self.wrist_offset = m.body("wrist").pos.copy()  # in the forearm frame
        self.palm_offset = m.body(PALM_BODY).pos.copy()  # in the wrist frame
        thbase = np.zeros(9)
        mujoco.mju_quat2Mat(thbase, m.body("thbase").quat)
        self.thbase_rot = thbase.reshape(3, 3)  # in the palm frame
        self.thj4_axis = m.jnt_axis[J["THJ4"]].copy()
        # Keypoint palm frame = robot palm body frame @ palm_offset_rot (measured at the zero pose).
        q0 = np.zeros(len(ADROIT_JOINTS))
        poses = kinematics.forward(q0[None])
        palm_rot0 = poses.rotation[0, m.body(PALM_BODY).id]
        self.palm_offset_rot = palm_rot0.T @ palm_rotation(kinematics.keypoints(q0))

    @staticmethod
    def _check_structure(m: mujoco.MjModel) -> None:
        def fail(what: str) -> None:
            raise ModelStructureError(f"Adroit model: {what}; the closed-form initial guess assumes otherwise")

        expect_axes = {"ARTx": (1, 0, 0), "ARTy": (0, 1, 0), "ARTz": (0, 0, 1), "ARRx": (1, 0, 0),
                       "ARRy": (0, 1, 0), "ARRz": (0, 0, 1), "WRJ1": (0, 1, 0), "WRJ0": (1, 0, 0),
                       "THJ4": (0, 0, -1), "THJ3": (1, 0, 0), "THJ2": (1, 0, 0), "THJ1": (0, 1, 0),
                       "THJ0": (0, 1, 0)}
        for f in _FINGERS4:
            p = _FINGER_PREFIX[f]
            expect_axes |= {f"{p}J3": (0, 1, 0), f"{p}J2": (1, 0, 0), f"{p}J1": (1, 0, 0), f"{p}J0": (1, 0, 0)}
        for name, axis in expect_axes.items():
            if not np.allclose(m.jnt_axis[J[name]], axis) or np.any(m.jnt_pos[J[name]] != 0):
                fail(f"joint {name} has axis {m.jnt_axis[J[name]]} at {m.jnt_pos[J[name]]}")
        for body in ("wrist", PALM_BODY, "ffknuckle", "mfknuckle", "rfknuckle", "lfmetacarpal", "lfknuckle",
                     "thproximal", "thhub", "thmiddle", "thdistal"):
            if not np.allclose(m.body(body).quat, (1, 0, 0, 0)):
                fail(f"body {body} is rotated relative to its parent")
        for f in ("ff", "mf", "rf", "lf"):
            for body in (f"{f}proximal", f"{f}middle", f"{f}distal"):
                if not np.allclose(m.body(body).quat, (1, 0, 0, 0)):
                    fail(f"body {body} is rotated relative to its parent")

    # ------------------------------------------------------------------ wrist
    def palm_pose(self, keypoints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(..., 21, 3) keypoints -> robot palm body rotation (..., 3, 3) and position (..., 3) in their frame."""
        return palm_rotation(keypoints) @ self.palm_offset_rot.T, keypoints[..., WRIST, :]

    def arm_joints(self, palm_rot: np.ndarray, palm_pos: np.ndarray) -> np.ndarray:
        """(..., 3, 3), (..., 3) palm pose in world -> (..., 8) ARTx..ARRz, WRJ1, WRJ0 within limits."""
        lo, hi = self.lower, self.upper
        m = self.base_rot.T @ palm_rot
        # m = Rx(a) Ry(b) Rz(c) Ry(w1) Rx(w0): the arm takes the XYZ Euler angles, the wrist the rest.
        a = np.clip(np.arctan2(-m[..., 1, 2], m[..., 2, 2]), lo[3], hi[3])
        b = np.clip(np.arcsin(np.clip(m[..., 0, 2], -1.0, 1.0)), lo[4], hi[4])
        c = np.clip(np.arctan2(-m[..., 0, 1], m[..., 0, 0]), lo[5], hi[5])
        arm_rot = _rot("x", a) @ _rot("y", b) @ _rot("z", c)
        n = np.swapaxes(arm_rot, -1, -2) @ m  # Ry(w1) Rx(w0)
        w0 = np.clip(np.arctan2(-n[..., 1, 2], n[..., 1, 1]), lo[7], hi[7])
        w1 = np.clip(np.arctan2(-n[..., 2, 0], n[..., 0, 0]), lo[6], hi[6])
        # palm = base + R0 (t + R_arm (wrist_offset + Ry(w1) palm_offset))
        reach = self.wrist_offset + _rot("y", w1) @ self.palm_offset
        t = (palm_pos - self.base_pos) @ self.base_rot - (arm_rot @ reach[..., None])[..., 0]
        t = np.clip(t, lo[:3], hi[:3])
        return np.concatenate([t, np.stack([a, b, c, w1, w0], axis=-1)], axis=-1)

    # ------------------------------------------------------------------ fingers
    def finger_joints(self, keypoints: np.ndarray, palm_rot: np.ndarray) -> np.ndarray:
        """(..., 21, 3) keypoints and the palm rotation -> (..., 30) with the 22 hand joints set (arm 0).

        NaN keypoints give NaN joints for the fingers they touch; callers decide what to hold.
        """
        lo, hi, g, o = self.lower, self.upper, self.gain, self.offset
        q = np.zeros((*keypoints.shape[:-2], len(ADROIT_JOINTS)))

        def mapped(idx: np.ndarray | int, angle: np.ndarray) -> np.ndarray:
            out = np.clip(g[idx] * angle + o[idx], lo[idx], hi[idx])
            q[..., idx] = out
            return out

        # Index, middle, ring, little stacked on axis -2. Knuckle frames are the palm frame (LFJ4 = 0).
        pts = keypoints[..., _FK, :]  # (..., 4, 4, 3)
        bones = _local(pts[..., 1:, :] - pts[..., :-1, :], palm_rot[..., None, None, :, :])  # (..., 4, 3, 3)
        u1 = _unit(bones[..., 0, :])
        abd = mapped(_FINGER_ABD, np.arctan2(u1[..., 0], u1[..., 2]))
        mcp = mapped(_FINGER_MCP, np.arctan2(-u1[..., 1], np.hypot(u1[..., 0], u1[..., 2])))
        frame = _rot("y", abd) @ _rot("x", mcp)
        u2 = _local(bones[..., 1, :], frame)
        pip = mapped(_FINGER_PIP, np.arctan2(-u2[..., 1], u2[..., 2]))
        frame = frame @ _rot("x", pip)
        u3 = _local(bones[..., 2, :], frame)
        mapped(_FINGER_DIP, np.arctan2(-u3[..., 1], u3[..., 2]))
        q[..., J["LFJ4"]] = np.clip(o[J["LFJ4"]], lo[J["LFJ4"]], hi[J["LFJ4"]])

        # Thumb: CMC (base rotation about -z of thbase, then flexion about x), MCP (x then y), IP (y).
        cmc, mcp_t, ip, tip = (keypoints[..., k, :] for k in FINGER_KEYPOINTS["thumb"])
        base = palm_rot @ self.thbase_rot
        u1 = _local(mcp_t - cmc, base)
        th4 = mapped(J["THJ4"], np.arctan2(-u1[..., 0], -u1[..., 1]))
        th3 = mapped(J["THJ3"], np.arctan2(np.hypot(u1[..., 0], u1[..., 1]), u1[..., 2]))
        frame = base @ _rot("z", -th4) @ _rot("x", th3)
        u2 = _local(ip - mcp_t, frame)
        th2 = mapped(J["THJ2"], np.arctan2(-u2[..., 1], u2[..., 2]))
        th1 = mapped(J["THJ1"], np.arctan2(u2[..., 0], np.hypot(u2[..., 1], u2[..., 2])))
        frame = frame @ _rot("x", th2) @ _rot("y", th1)
        u3 = _local(tip - ip, frame)
        mapped(J["THJ0"], np.arctan2(u3[..., 0], u3[..., 2]))
        return q

    def guess(self, keypoints: np.ndarray) -> np.ndarray:
        """(..., 21, 3) keypoints in world -> (..., 30) joints (world mode: arm follows the palm)."""
        palm_rot, palm_pos = self.palm_pose(keypoints)
        q = self.finger_joints(keypoints, palm_rot)
        q[..., :NUM_ARM_AND_WRIST] = self.arm_joints(palm_rot, palm_pos)
        return q
