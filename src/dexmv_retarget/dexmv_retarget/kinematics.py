"""Kinematics of the Adroit hand's 21 keypoints: the robot points that correspond to the human keypoints.

Two implementations of one model (dexmv_sim.adroit.adroit_hand_model(), the one the simulation
runs), each where it pays:
- `keypoints_and_jacobian(q)` / `points_and_jacobian(q, rows)`: one configuration through
  MuJoCo's C forward kinematics (mj_kinematics, about 3 us) and its analytic point Jacobians
  (mj_jac); this is the optimizer's inner loop, where per-call Python overhead dominates (a
  numpy version fused over all joints at once, axis x (p - anchor) as one matrix product and one
  batched 3x3 product, measured about twice as slow as the 16 mj_jac calls it would replace).
- `keypoints(q)` / `forward(q)`: many configurations at once in numpy (tree walk vectorized over
  frames), for metrics over whole trajectories, markers and test data, where a Python loop of
  MuJoCo calls would cost far more. Tests check both against MuJoCo's body poses and mj_jac.

Robot keypoints: the palm body origin is the wrist (it sits where a human wrist keypoint does,
about 0.1 m behind the middle knuckle); finger MCP, PIP, DIP are the knuckle, middle and distal
body origins; thumb CMC, MCP, IP are thbase, thhub, thdistal; tips are the fingertip sites.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from dexmv_sim.adroit import ADROIT_JOINTS, FINGERTIP_SITES, PALM_BODY, adroit_hand_model

# The robot point for each of the 21 human keypoints, in hand_keypoints.py order.
ROBOT_KEYPOINTS: tuple[tuple[str, str], ...] = (
    ("body", PALM_BODY),
    ("body", "thbase"), ("body", "thhub"), ("body", "thdistal"), ("site", FINGERTIP_SITES["thumb"]),
    ("body", "ffknuckle"), ("body", "ffmiddle"), ("body", "ffdistal"), ("site", FINGERTIP_SITES["index"]),
    ("body", "mfknuckle"), ("body", "mfmiddle"), ("body", "mfdistal"), ("site", FINGERTIP_SITES["middle"]),
    ("body", "rfknuckle"), ("body", "rfmiddle"), ("body", "rfdistal"), ("site", FINGERTIP_SITES["ring"]),
    ("body", "lfknuckle"), ("body", "lfmiddle"), ("body", "lfdistal"), ("site", FINGERTIP_SITES["little"]),
)


def _quat_to_matrix(quat: np.ndarray) -> np.ndarray:
    mat = np.zeros(9)
    mujoco.mju_quat2Mat(mat, np.asarray(quat, dtype=np.float64))
    return mat.reshape(3, 3)


def _skew(v: np.ndarray) -> np.ndarray:
    return np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])


@dataclass(frozen=True)
class BodyPoses:
    """World poses of every body of the model for N configurations."""

    position: np.ndarray  # (N, nbody, 3)
    rotation: np.ndarray  # (N, nbody, 3, 3)


class AdroitKinematics:
    """Forward kinematics and Jacobians of the Adroit keypoints; one instance per thread (it owns an MjData)."""

    def __init__(self, model: mujoco.MjModel | None = None) -> None:
        self.model = model if model is not None else adroit_hand_model()
        m = self.model
        names = tuple(m.joint(j).name for j in range(m.njnt))
        if names != ADROIT_JOINTS or m.nq != len(ADROIT_JOINTS) or m.nv != m.nq:
            raise ValueError(f"expected the 30-joint Adroit model of dexmv_sim.adroit, got joints {names}")
        self.data = mujoco.MjData(m)
        self.joint_names = names
        self.lower = m.jnt_range[:, 0].copy()
        self.upper = m.jnt_range[:, 1].copy()
        self.is_hinge = m.jnt_type == mujoco.mjtJoint.mjJNT_HINGE
        if not np.all(self.is_hinge | (m.jnt_type == mujoco.mjtJoint.mjJNT_SLIDE)):
            raise ValueError("Adroit model has joints other than hinges and slides")
        # Couplings the model enforces: limited fixed tendons over two joints (Adroit's DIP follows its
        # PIP: 0.00705 J0 - 0.00805 J1 within +-1 mm). Targets outside them cannot be reached.
        self.couplings: list[tuple[int, int, float, float, float, float]] = []
        for t in range(m.ntendon):
            adr, num = m.tendon_adr[t], m.tendon_num[t]
            if m.tendon_limited[t] and num == 2 and all(m.wrap_type[adr + k] == mujoco.mjtWrap.mjWRAP_JOINT
                                                        for k in range(2)):
                lo, hi = m.tendon_range[t]
                self.couplings.append((int(m.wrap_objid[adr]), int(m.wrap_objid[adr + 1]),
                                       float(m.wrap_prm[adr]), float(m.wrap_prm[adr + 1]), float(lo), float(hi)))
        # Keypoint k sits at offset[k] in the frame of body kp_body[k].
        self.kp_body = np.zeros(len(ROBOT_KEYPOINTS), dtype=int)
        self.kp_offset = np.zeros((len(ROBOT_KEYPOINTS), 3))
        self._kp_is_site = np.zeros(len(ROBOT_KEYPOINTS), dtype=bool)
        self._kp_id = np.zeros(len(ROBOT_KEYPOINTS), dtype=int)
        for k, (kind, name) in enumerate(ROBOT_KEYPOINTS):
            if kind == "site":
                sid = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, name)
                if sid < 0:
                    raise ValueError(f"Adroit model has no site {name}")
                self.kp_body[k] = m.site_bodyid[sid]
                self.kp_offset[k] = m.site_pos[sid]
                self._kp_is_site[k], self._kp_id[k] = True, sid
            else:
                bid = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, name)
                if bid < 0:
                    raise ValueError(f"Adroit model has no body {name}")
                self.kp_body[k], self._kp_id[k] = bid, bid
        self._site_rows = np.flatnonzero(self._kp_is_site)
        self._site_ids = self._kp_id[self._site_rows]
        self._body_rows = np.flatnonzero(~self._kp_is_site)
        self._body_ids = self._kp_id[self._body_rows]
        # ancestor[b, a]: body a is b or one of its ancestors.
        ancestor = np.zeros((m.nbody, m.nbody), dtype=bool)
        for b in range(m.nbody):
            a = b
            while True:
                ancestor[b, a] = True
                if a == 0:
                    break
                a = m.body_parentid[a]
        self.body_ancestor = ancestor
        # depends[k, j]: joint j moves keypoint k.
        self.depends = ancestor[self.kp_body][:, m.jnt_bodyid]
        self._kp_body_int = [int(b) for b in self.kp_body]
        self._jac: dict[bytes, tuple[np.ndarray, list]] = {}  # buffers and calls per row set
        self._all_rows = np.arange(len(ROBOT_KEYPOINTS))
        # MjData arrays are views into its buffers: cache them (attribute access costs ~1 us each).
        d = self.data
        self._qpos, self._xpos, self._site_xpos = d.qpos, d.xpos, d.site_xpos
        # Static tree for the vectorized walk.
        self._body_rot = np.array([_quat_to_matrix(m.body_quat[b]) for b in range(m.nbody)])
        self._body_joints = [np.flatnonzero(m.jnt_bodyid == b) for b in range(m.nbody)]
        self._axis_skew = np.array([_skew(m.jnt_axis[j]) for j in range(m.njnt)])
        # Keypoint k is row _point_source[k] of [xpos; site_xpos]: one gather for any set of keypoints.
        self._point_source = np.where(self._kp_is_site, m.nbody + self._kp_id, self._kp_id)
        # `project` clips only the coupled joints after a sweep (no other joint moves).
        coupled = sorted({k for c in self.couplings for k in c[:2]})
        self._coupled_limits = [(k, float(self.lower[k]), float(self.upper[k])) for k in coupled]

    # ------------------------------------------------------------------ one configuration, MuJoCo
    def keypoints_and_jacobian(self, q: np.ndarray, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """World keypoints (21, 3) at q and the translational Jacobians (len(rows), 3, 30) of keypoints `rows`.

        MuJoCo's own mj_jac (after mj_comPos, which it needs) into preallocated buffers: measured
        here at about 1 us per keypoint, several times cheaper than forming axis x (p - anchor)
        for every joint in numpy. The returned Jacobian array is reused by the next call.
        """
        m, d = self.model, self.data
        self._qpos[:] = q
        mujoco.mj_kinematics(m, d)
        points = self.keypoints_from_data()
        rows = self._all_rows if rows is None else rows
        jac, calls = self._jac_calls(rows)
        if calls:
            mujoco.mj_comPos(m, d)
        for out, point, body in calls:
            mujoco.mj_jac(m, d, out, None, point, body)
        return points, jac

    def points_and_jacobian(self, q: np.ndarray, rows: np.ndarray,
                            jacobian: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """`keypoints_and_jacobian` for the keypoints `rows` only: their points (len(rows), 3) and, if
        `jacobian`, their Jacobians (len(rows), 3, 30, reused by the next call); the points in one gather."""
        m, d = self.model, self.data
        self._qpos[:] = q
        mujoco.mj_kinematics(m, d)
        points = np.concatenate((self._xpos, self._site_xpos)).take(self._point_source[rows], 0)
        if not jacobian:
            return points, None
        jac, calls = self._jac_calls(rows)
        mujoco.mj_comPos(m, d)
        for out, point, body in calls:
            mujoco.mj_jac(m, d, out, None, point, body)
        return points, jac

    def _jac_calls(self, rows: np.ndarray) -> tuple[np.ndarray, list]:
        """A Jacobian buffer for `rows` and, per row, (output view, point view into MjData, body id).

        Views into MjData stay valid, so building them once per row set saves the indexing per call.
        """
        key = np.asarray(rows, dtype=np.int64).tobytes()
        if key not in self._jac:
            buffer = np.zeros((len(rows), 3, self.model.nv))
            calls = []
            for i, r in enumerate(int(r) for r in rows):
                point = (self._site_xpos[self._kp_id[r]] if self._kp_is_site[r] else self._xpos[self._kp_id[r]])
                calls.append((buffer[i], point, self._kp_body_int[r]))
            self._jac[key] = (buffer, calls)
        return self._jac[key]

    def keypoints_from_data(self) -> np.ndarray:
        """The 21 keypoints from self.data after a MuJoCo kinematics call."""
        out = np.empty((len(ROBOT_KEYPOINTS), 3))
        out[self._body_rows] = self._xpos[self._body_ids]
        out[self._site_rows] = self._site_xpos[self._site_ids]
        return out

    def body_pose(self, q: np.ndarray, body: str) -> tuple[np.ndarray, np.ndarray]:
        """World (position (3,), rotation (3, 3)) of a named body at one configuration (MuJoCo)."""
        d = self.data
        d.qpos[:] = q
        mujoco.mj_kinematics(self.model, d)
        b = self.model.body(body).id
        return d.xpos[b].copy(), d.xmat[b].reshape(3, 3).copy()

    # ------------------------------------------------------------------ many configurations, numpy
    def forward(self, q: np.ndarray) -> BodyPoses:
        """Body poses for (N, 30) joint configurations, vectorized over N (MuJoCo's tree walk in numpy)."""
        m = self.model
        q = np.atleast_2d(np.asarray(q, dtype=np.float64))
        n = q.shape[0]
        pos = np.zeros((n, m.nbody, 3))
        rot = np.zeros((n, m.nbody, 3, 3))
        rot[:, 0] = np.eye(3)
        eye = np.eye(3)
        for b in range(1, m.nbody):
            parent = m.body_parentid[b]
            p = pos[:, parent] + rot[:, parent] @ m.body_pos[b]
            r = rot[:, parent] @ self._body_rot[b]
            for j in self._body_joints[b]:
                angle = q[:, m.jnt_qposadr[j]] - m.qpos0[m.jnt_qposadr[j]]
                if self.is_hinge[j]:
                    anchor = p + r @ m.jnt_pos[j]
                    k = self._axis_skew[j]
                    local = (eye + np.sin(angle)[:, None, None] * k
                             + (1.0 - np.cos(angle))[:, None, None] * (k @ k))
                    r = r @ local
                    p = anchor - r @ m.jnt_pos[j]
                else:
                    p = p + (r @ m.jnt_axis[j]) * angle[:, None]
            pos[:, b], rot[:, b] = p, r
        return BodyPoses(pos, rot)

    def keypoints(self, q: np.ndarray) -> np.ndarray:
        """(..., 30) joints -> (..., 21, 3) world keypoints, vectorized."""
        q = np.asarray(q, dtype=np.float64)
        flat = q.reshape(-1, q.shape[-1])
        poses = self.forward(flat)
        body_pos = poses.position[:, self.kp_body]  # (N, 21, 3)
        body_rot = poses.rotation[:, self.kp_body]  # (N, 21, 3, 3)
        pts = body_pos + np.einsum("nkij,kj->nki", body_rot, self.kp_offset)
        return pts.reshape(*q.shape[:-1], len(ROBOT_KEYPOINTS), 3)

    def clip(self, q: np.ndarray) -> np.ndarray:
        """q within the joint limits (np.clip's result; np.clip itself costs several times more on 30 values)."""
        return np.minimum(np.maximum(q, self.lower), self.upper)

    def project(self, q: np.ndarray, sweeps: int = 4) -> np.ndarray:
        """(30,) q moved the least onto what the model allows: joint limits and the tendon couplings
        (each coupling's band reached along its own direction, then limits; a few sweeps)."""
        q = self.clip(np.asarray(q, dtype=float))
        if q.ndim != 1:
            raise ValueError(f"project takes one configuration (30,), got shape {q.shape}")
        # Plain Python floats (the same IEEE arithmetic as numpy scalars, so the same values): a
        # dozen 2-joint couplings cost far less this way than as numpy calls per coupling.
        v = q.tolist()
        for _ in range(sweeps):
            moved = False
            for i, j, ci, cj, lo, hi in self.couplings:
                t = ci * v[i] + cj * v[j]
                if t < lo or t > hi:
                    d = (min(max(t, lo), hi) - t) / (ci * ci + cj * cj)
                    v[i] += d * ci
                    v[j] += d * cj
                    moved = True
            if not moved:
                break
            for k, lo, hi in self._coupled_limits:
                v[k] = min(max(v[k], lo), hi)
        return np.array(v)

    def coupling_violation(self, q: np.ndarray) -> float:
        """Largest amount (tendon metres) by which (..., 30) q leaves a coupling band (0 inside all)."""
        q = np.asarray(q, dtype=float)
        worst = 0.0
        for i, j, ci, cj, lo, hi in self.couplings:
            t = ci * q[..., i] + cj * q[..., j]
            worst = max(worst, float(np.max(lo - t)), float(np.max(t - hi)))
        return max(worst, 0.0)

    def limit_violation(self, q: np.ndarray) -> float:
        """Largest amount by which any joint of (..., 30) q leaves its range (0 when all are inside)."""
        q = np.asarray(q)
        return float(max(0.0, np.max(self.lower - q), np.max(q - self.upper)))
