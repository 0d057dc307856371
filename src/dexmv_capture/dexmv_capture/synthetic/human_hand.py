"""A human right-hand skeleton: 21 keypoints from bone lengths and joint angles.

This is the ground-truth hand of the synthetic recordings and the natural-motion input of the
retargeting benchmark, so its proportions are a human's, not the robot's.

Hand frame (the frame `wrist_pose` places in the world): origin at the wrist keypoint (centre of
the wrist at the distal crease), +x distal along the middle metacarpal, +y radial (towards the
thumb), +z dorsal (out of the back of the hand). For a right hand this is right-handed; flexion
bends fingers towards -z (the palm side).

Proportions: segment lengths are the ratios to hand length (distal wrist crease to middle
fingertip) of Buchholz, Armstrong & Goldstein, "Anthropometric data for describing the kinematics
of the human hand", Ergonomics 35(3):261-273, 1992 (kinematic segments between joint centres; the
distal segment ends at the fingertip). Default hand length 0.187 m and breadth 0.085 m are adult
means between men and women (about 0.19/0.18 m and 0.09/0.08 m in US Army ANSUR II, 2012). The MCP
and thumb CMC positions in the palm are approximations of the same paper's joint locations.

Joint limits are active ranges of motion of the American Academy of Orthopaedic Surgeons' norms
(finger MCP -20..90 deg, PIP 0..110, DIP 0..80, thumb MCP 0..60, IP -15..80); the DIP follows
about 2/3 of the PIP when built with `HandAngles.from_curl` (the tendon coupling of real fingers).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

FINGERS = ("thumb", "index", "middle", "ring", "little")
NUM_KEYPOINTS = 21
# Keypoint indices per finger, from the palm outwards (the stack's order, MediaPipe's: docs/architecture.md).
FINGER_KEYPOINTS = {"thumb": (1, 2, 3, 4), "index": (5, 6, 7, 8), "middle": (9, 10, 11, 12),
                    "ring": (13, 14, 15, 16), "little": (17, 18, 19, 20)}
# Bones as keypoint pairs (parent, child): what a renderer draws and what a skeleton plot connects.
BONES = tuple((0 if k == 0 else idx[k - 1], idx[k]) for idx in FINGER_KEYPOINTS.values() for k in range(4))

# Buchholz et al. 1992, segment length / hand length. Thumb: metacarpal, proximal, distal;
# fingers: proximal, middle, distal (their metacarpals are the palm, placed by MCP_POSITION).
SEGMENT_RATIOS = np.array([
    [0.251, 0.196, 0.158],  # thumb
    [0.265, 0.143, 0.097],  # index
    [0.277, 0.170, 0.108],  # middle
    [0.259, 0.165, 0.107],  # ring
    [0.206, 0.117, 0.093],  # little
])
# Thumb CMC and finger MCP joint centres in the hand frame: x as a fraction of hand length,
# y of hand breadth, z in metres (the CMC sits palmar of the metacarpal heads).
MCP_POSITION = np.array([
    [0.115, 0.28, -0.010],  # thumb CMC
    [0.425, 0.235, 0.0],  # index MCP
    [0.445, 0.0, 0.0],  # middle MCP
    [0.415, -0.21, 0.0],  # ring MCP
    [0.370, -0.41, -0.002],  # little MCP
])
# Resting direction of each finger about the dorsal axis (rad, + radial): a relaxed hand fans out.
REST_SPLAY = np.deg2rad([0.0, 6.0, 0.0, -6.0, -13.0])
# Abduction sign per finger (index..little): positive abduction spreads away from the middle finger.
ABDUCTION_SIGN = np.array([1.0, 1.0, -1.0, -1.0])
# Cupping (palm arch) share of ring and little metacarpals about the middle metacarpal axis.
ARCH_SHARE = np.array([0.0, 0.0, 0.5, 1.0])
# Thumb rest frame: metacarpal yawed radially, pitched palmar, pronated so that its nail faces
# mostly radially (flexion then curls it across the palm, as a human thumb does).
THUMB_REST_YAW = np.deg2rad(38.0)
THUMB_REST_PITCH = np.deg2rad(22.0)
THUMB_PRONATION = np.deg2rad(-75.0)

# Limits (rad), AAOS active ranges; abduction and arch from typical goniometry.
FINGER_FLEXION_LIMITS = np.deg2rad([[-20.0, 90.0], [0.0, 110.0], [-5.0, 80.0]])  # MCP, PIP, DIP
FINGER_ABDUCTION_LIMITS = np.deg2rad([-15.0, 20.0])
# Thumb: CMC flexion (across the palm), CMC palmar abduction, MCP flexion, IP flexion.
THUMB_LIMITS = np.deg2rad([[-20.0, 50.0], [-15.0, 55.0], [0.0, 60.0], [-15.0, 80.0]])
PALM_ARCH_LIMITS = np.deg2rad([0.0, 20.0])
DIP_PIP_RATIO = 2.0 / 3.0


@dataclass(frozen=True)
class HandShape:
    """Size and proportions of a hand. `scale` multiplies every length (0.9 = a hand 10 % smaller)."""

    hand_length: float = 0.187  # m, distal wrist crease to middle fingertip
    hand_breadth: float = 0.085  # m, across the metacarpal heads
    scale: float = 1.0
    # Per-bone multipliers (5 fingers x 3 segments) for individual variation; ones by default.
    bone_scale: np.ndarray = field(default_factory=lambda: np.ones((5, 3)))

    def segment_lengths(self) -> np.ndarray:
        """(5, 3) metres: thumb metacarpal/proximal/distal, fingers proximal/middle/distal."""
        return SEGMENT_RATIOS * self.hand_length * self.scale * np.asarray(self.bone_scale, dtype=float)

    def joint_origins(self) -> np.ndarray:
        """(5, 3) thumb CMC and finger MCP centres in the hand frame (metres), without palm arch."""
        pos = MCP_POSITION.copy()
        pos[:, 0] *= self.hand_length
        pos[:, 1] *= self.hand_breadth
        return pos * self.scale

    @classmethod
    def sample(cls, rng: np.random.Generator) -> HandShape:
        """A random adult hand: length SD 9 mm, breadth SD 5 mm, bones vary 3 % on their own."""
        length = float(np.clip(rng.normal(0.187, 0.009), 0.165, 0.21))
        breadth = float(np.clip(rng.normal(0.085, 0.005), 0.074, 0.097))
        return cls(hand_length=length, hand_breadth=breadth,
                   bone_scale=np.clip(rng.normal(1.0, 0.03, (5, 3)), 0.92, 1.08))


@dataclass(frozen=True)
class HandAngles:
    """Joint angles in radians, for one frame or T frames (a leading T axis on every field).

    finger_flexion (..., 4, 3): index, middle, ring, little x (MCP, PIP, DIP), + bends to the palm.
    finger_abduction (..., 4): MCP spread, + away from the middle finger (middle: + radial).
    thumb (..., 4): CMC flexion (across the palm), CMC palmar abduction, MCP flexion, IP flexion.
    palm_arch (...): cupping of the ring and little metacarpals towards the palm.
    """

    finger_flexion: np.ndarray
    finger_abduction: np.ndarray
    thumb: np.ndarray
    palm_arch: np.ndarray

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return np.shape(self.palm_arch)

    @classmethod
    def rest(cls) -> HandAngles:
        """A relaxed hand: fingers slightly curled, thumb beside the index."""
        return cls.from_curl(mcp=[0.25, 0.3, 0.35, 0.4], pip=[0.35, 0.4, 0.45, 0.45],
                             abduction=[0.05, 0.0, 0.05, 0.1], thumb=[0.1, 0.2, 0.15, 0.15])

    @classmethod
    def from_curl(cls, mcp, pip, abduction=0.0, thumb=(0.0, 0.0, 0.0, 0.0), palm_arch=0.0,
                  dip_ratio: float = DIP_PIP_RATIO) -> HandAngles:
        """Angles with each DIP at `dip_ratio` of its PIP (broadcast over fingers and frames)."""
        mcp, pip = np.asarray(mcp, dtype=float), np.asarray(pip, dtype=float)
        mcp, pip = np.broadcast_arrays(mcp, pip)
        if mcp.ndim == 0 or mcp.shape[-1] != 4:
            mcp, pip = (np.broadcast_to(a[..., None], (*a.shape, 4)) for a in (mcp, pip))
        flexion = np.stack([mcp, pip, dip_ratio * pip], axis=-1)
        batch = flexion.shape[:-2]
        return cls(
            finger_flexion=flexion,
            finger_abduction=np.broadcast_to(np.asarray(abduction, dtype=float), (*batch, 4)).copy(),
            thumb=np.broadcast_to(np.asarray(thumb, dtype=float), (*batch, 4)).copy(),
            palm_arch=np.broadcast_to(np.asarray(palm_arch, dtype=float), batch).copy(),
        )

    def clipped(self) -> HandAngles:
        """The same angles held inside the human joint limits."""
        return HandAngles(
            finger_flexion=np.clip(self.finger_flexion, FINGER_FLEXION_LIMITS[:, 0], FINGER_FLEXION_LIMITS[:, 1]),
            finger_abduction=np.clip(self.finger_abduction, *FINGER_ABDUCTION_LIMITS),
            thumb=np.clip(self.thumb, THUMB_LIMITS[:, 0], THUMB_LIMITS[:, 1]),
            palm_arch=np.clip(self.palm_arch, *PALM_ARCH_LIMITS),
        )

    def within_limits(self, tol: float = 1e-9) -> bool:
        """True when every angle is inside the human joint limits."""
        c = self.clipped()
        return all(np.allclose(a, b, atol=tol, rtol=0.0) for a, b in zip(self.as_tuple(), c.as_tuple(), strict=True))

    def as_tuple(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return (np.asarray(self.finger_flexion), np.asarray(self.finger_abduction), np.asarray(self.thumb),
                np.asarray(self.palm_arch))

    def to_vector(self) -> np.ndarray:
        """(..., 21) flat angles: 12 finger flexions, 4 abductions, 4 thumb, 1 arch (for files)."""
        flex = np.asarray(self.finger_flexion)
        batch = flex.shape[:-2]
        return np.concatenate([flex.reshape((*batch, 12)), self.finger_abduction, self.thumb,
                               np.asarray(self.palm_arch)[..., None]], axis=-1)

    @classmethod
    def from_vector(cls, vec: np.ndarray) -> HandAngles:
        """Inverse of to_vector."""
        vec = np.asarray(vec, dtype=float)
        if vec.shape[-1] != 21:
            raise ValueError(f"hand angle vectors have 21 values, got shape {vec.shape}")
        batch = vec.shape[:-1]
        return cls(vec[..., :12].reshape((*batch, 4, 3)), vec[..., 12:16], vec[..., 16:20], vec[..., 20])

    def interpolate(self, other: HandAngles, s) -> HandAngles:
        """(1 - s) * self + s * other, with s broadcast over the batch (scalar or (T,))."""
        s = np.asarray(s, dtype=float)
        a, b = self.to_vector(), other.to_vector()
        return HandAngles.from_vector(a + (b - a) * s[..., None])

    def __getitem__(self, index) -> HandAngles:
        return HandAngles(*(np.asarray(a)[index] for a in self.as_tuple()))

    def with_(self, **changes) -> HandAngles:
        return replace(self, **changes)


def _rot_x(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def _rot_y(a: np.ndarray) -> np.ndarray:
    """Positive angles turn +x towards -z: flexion towards the palm."""
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


def _rot_z(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


def _chain(origin: np.ndarray, base: np.ndarray, angles: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Joint positions along a planar-flexion chain: origin, then one point per segment (..., 4, 3)."""
    points = [np.broadcast_to(origin, base.shape[:-1])]
    rot = base
    for k in range(3):
        rot = rot @ _rot_y(angles[..., k])
        points.append(points[-1] + rot[..., :, 0] * lengths[k])
    return np.stack(points, axis=-2)


def hand_keypoints_local(shape: HandShape, angles: HandAngles) -> np.ndarray:
    """(..., 21, 3) keypoints in the hand frame (see the module docstring)."""
    lengths = shape.segment_lengths()
    origins = shape.joint_origins()
    flex = np.asarray(angles.finger_flexion, dtype=float)
    abd = np.asarray(angles.finger_abduction, dtype=float)
    thumb = np.asarray(angles.thumb, dtype=float)
    arch = np.asarray(angles.palm_arch, dtype=float)
    batch = arch.shape
    out = np.zeros((*batch, NUM_KEYPOINTS, 3))
    for f in range(4):
        arch_rot = _rot_x(arch * ARCH_SHARE[f])
        origin = arch_rot @ origins[f + 1]
        yaw = REST_SPLAY[f + 1] + ABDUCTION_SIGN[f] * abd[..., f]
        base = arch_rot @ _rot_z(yaw)
        first = 5 + 4 * f
        out[..., first:first + 4, :] = _chain(origin, base, flex[..., f, :], lengths[f + 1])
    rest = _rot_z(np.full(batch, THUMB_REST_YAW)) @ _rot_y(np.full(batch, THUMB_REST_PITCH)) \
        @ _rot_x(np.full(batch, THUMB_PRONATION))
    # Palmar abduction turns the metacarpal about the thumb's own z (its +y points palmar after pronation).
    base = rest @ _rot_z(thumb[..., 1])
    out[..., 1:5, :] = _chain(origins[0], base, thumb[..., [0, 2, 3]], lengths[0])
    return out


def hand_keypoints(shape: HandShape, wrist_pose: np.ndarray, angles: HandAngles) -> np.ndarray:
    """Keypoints (21, 3) in the frame of `wrist_pose` (4x4, world <- hand); batched: (T, 4, 4) -> (T, 21, 3).

    The pose and the angles broadcast against each other: one pose with T angle frames or T poses
    with one set of angles both give T frames.
    """
    pose = np.asarray(wrist_pose, dtype=float)
    if pose.shape[-2:] != (4, 4):
        raise ValueError(f"wrist_pose must be a 4x4 transform (or T of them), got shape {pose.shape}")
    local = hand_keypoints_local(shape, angles)
    rot, trans = pose[..., :3, :3], pose[..., :3, 3]
    return np.einsum("...ij,...kj->...ki", rot, local) + trans[..., None, :]
