"""A differentiable MANO layer in torch: shape blend shapes, PCA pose space, pose blend shapes, LBS.

Conventions (the MANO paper's, and the HandPose message's):
- betas (B, num_betas): shape coefficients; vertices_shaped = v_template + shapedirs . betas;
- pose (B, 48): axis-angle, the global orientation (about the wrist joint) then the 15 finger
  joints in MANO's joint order, each relative to its parent. This is the *full* pose: the
  flat hand is zero (hands_mean is not added implicitly). `pose_from_pca` maps PCA coefficients
  to it: fingers = hands_mean + coeffs . hands_components[:k];
- translation (B, 3) is added to every output point;
- outputs: vertices (B, V, 3), joints (B, 16, 3) in MANO's order, keypoints (B, 21, 3) in the
  project's order (keypoint_order.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from dexmv_perception.mano.keypoint_order import MANO_TO_KEYPOINTS
from dexmv_perception.mano.model_file import NUM_JOINTS, ManoModel


def axis_angle_to_matrix(rotvec: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula, batched over (..., 3); exact identity at zero, finite gradients there."""
    angle_sq = (rotvec * rotvec).sum(-1, keepdim=True)
    angle = torch.sqrt(angle_sq + 1e-16)
    small = angle_sq < 1e-8
    # sin(a)/a and (1-cos a)/a^2 with their Taylor series near zero
    sin_over = torch.where(small, 1.0 - angle_sq / 6.0, torch.sin(angle) / angle)
    cos_over = torch.where(small, 0.5 - angle_sq / 24.0, (1.0 - torch.cos(angle)) / (angle * angle))
    x, y, z = rotvec.unbind(-1)
    zero = torch.zeros_like(x)
    k = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], -1).reshape(*rotvec.shape[:-1], 3, 3)
    eye = torch.eye(3, dtype=rotvec.dtype, device=rotvec.device).expand(k.shape)
    return eye + sin_over[..., None] * k + cos_over[..., None] * (k @ k)


@dataclass
class ManoOutput:
    vertices: torch.Tensor  # (B, V, 3)
    joints: torch.Tensor  # (B, 16, 3), MANO order
    keypoints: torch.Tensor  # (B, 21, 3), the project's order


class ManoLayer(torch.nn.Module):
    """MANO as a torch module; gradients flow to betas, pose and translation."""

    def __init__(self, model: ManoModel, dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        self.model = model
        self.dtype = dtype
        t = lambda a: torch.as_tensor(np.asarray(a), dtype=dtype)  # noqa: E731
        self.register_buffer("v_template", t(model.v_template))
        self.register_buffer("shapedirs", t(model.shapedirs))
        self.register_buffer("posedirs", t(model.posedirs.reshape(-1, model.posedirs.shape[2])))
        self.register_buffer("J_regressor", t(model.J_regressor))
        self.register_buffer("weights", t(model.weights))
        self.register_buffer("hands_components", t(model.hands_components))
        self.register_buffer("hands_mean", t(model.hands_mean))
        self.parents = [int(p) for p in model.parents]
        self.tip_vertex_ids = list(model.tip_vertex_ids)
        self.keypoint_index = list(MANO_TO_KEYPOINTS)
        # what the 21 keypoints alone need (fitting): joints regress linearly from the shaped vertices,
        # and only the five fingertip vertices go through the blend shapes and skinning
        tips = np.asarray(model.tip_vertex_ids)
        self.register_buffer("joint_template", t(model.J_regressor @ model.v_template))
        self.register_buffer("joint_shapedirs", t(np.einsum("jv,vcb->jcb", model.J_regressor, model.shapedirs)))
        self.register_buffer("tip_template", t(model.v_template[tips]))
        self.register_buffer("tip_shapedirs", t(model.shapedirs[tips]))
        self.register_buffer("tip_posedirs", t(model.posedirs[tips].reshape(-1, model.posedirs.shape[2])))
        self.register_buffer("tip_weights", t(model.weights[tips]))

    @property
    def num_betas(self) -> int:
        return int(self.shapedirs.shape[2])

    def pose_from_pca(self, global_orient: torch.Tensor, coeffs: torch.Tensor) -> torch.Tensor:
        """(B, 48) full pose from (B, 3) global orientation and (B, k) PCA coefficients, k <= 45."""
        k = coeffs.shape[-1]
        fingers = self.hands_mean + coeffs @ self.hands_components[:k]
        return torch.cat([global_orient, fingers], dim=-1)

    def pca_from_pose(self, pose: torch.Tensor, k: int = 45) -> torch.Tensor:
        """Least-squares PCA coefficients (B, k) of a full pose's finger part."""
        comps = self.hands_components[:k]
        rhs = (pose[..., 3:] - self.hands_mean).T
        return torch.linalg.lstsq(comps.T, rhs).solution.T

    def _inputs(self, betas: torch.Tensor | None, pose: torch.Tensor | None,
                translation: torch.Tensor | None) -> tuple[int, torch.Tensor, torch.Tensor, torch.Tensor]:
        batch = next((x.shape[0] for x in (betas, pose, translation) if x is not None), 1)
        dev = self.v_template.device
        betas = torch.zeros(batch, self.num_betas, dtype=self.dtype, device=dev) if betas is None else betas
        pose = torch.zeros(batch, 3 * NUM_JOINTS, dtype=self.dtype, device=dev) if pose is None else pose
        translation = torch.zeros(batch, 3, dtype=self.dtype, device=dev) if translation is None else translation
        if betas.shape[-1] != self.num_betas or pose.shape[-1] != 3 * NUM_JOINTS or translation.shape[-1] != 3:
            raise ValueError(f"expected betas (B, {self.num_betas}), pose (B, 48), translation (B, 3); got "
                             f"{tuple(betas.shape)}, {tuple(pose.shape)}, {tuple(translation.shape)}")
        return batch, betas, pose, translation

    def _kinematics(self, rot: torch.Tensor, joints_rest: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor,
                                                                                   torch.Tensor]:
        """Posed joints (B, 16, 3), world rotations (B, 16, 3, 3) and skinning offsets (B, 16, 3): a
        rest-pose point x skinned to joint j goes to R_j x + offset_j."""
        g_rot = [rot[:, 0]]
        g_pos = [joints_rest[:, 0]]
        for j in range(1, NUM_JOINTS):
            p = self.parents[j]
            g_rot.append(g_rot[p] @ rot[:, j])
            g_pos.append(g_pos[p] + (g_rot[p] @ (joints_rest[:, j] - joints_rest[:, p])[..., None])[..., 0])
        g_rot_t = torch.stack(g_rot, 1)
        joints = torch.stack(g_pos, 1)
        offset = joints - (g_rot_t @ joints_rest[..., None])[..., 0]
        return joints, g_rot_t, offset

    def forward(self, betas: torch.Tensor | None = None, pose: torch.Tensor | None = None,
                translation: torch.Tensor | None = None) -> ManoOutput:
        batch, betas, pose, translation = self._inputs(betas, pose, translation)
        v_shaped = self.v_template + torch.einsum("vcb,nb->nvc", self.shapedirs, betas)
        joints_rest = torch.einsum("jv,nvc->njc", self.J_regressor, v_shaped)
        rot = axis_angle_to_matrix(pose.reshape(batch, NUM_JOINTS, 3))
        eye = torch.eye(3, dtype=self.dtype, device=pose.device)
        pose_feature = (rot[:, 1:] - eye).reshape(batch, -1)
        v_posed = v_shaped + (pose_feature @ self.posedirs.T).reshape(batch, -1, 3)
        joints, g_rot, offset = self._kinematics(rot, joints_rest)
        blend_rot = torch.einsum("vj,njab->nvab", self.weights, g_rot)
        blend_off = torch.einsum("vj,nja->nva", self.weights, offset)
        vertices = (blend_rot @ v_posed[..., None])[..., 0] + blend_off
        vertices = vertices + translation[:, None]
        joints = joints + translation[:, None]
        tips = vertices[:, self.tip_vertex_ids]
        keypoints = torch.cat([joints, tips], dim=1)[:, self.keypoint_index]
        return ManoOutput(vertices, joints, keypoints)

    def keypoints(self, betas: torch.Tensor | None = None, pose: torch.Tensor | None = None,
                  translation: torch.Tensor | None = None) -> torch.Tensor:
        """The 21 keypoints (B, 21, 3) alone, equal to forward()'s but without skinning every vertex
        (what fitting evaluates hundreds of times)."""
        batch, betas, pose, translation = self._inputs(betas, pose, translation)
        joints_rest = self.joint_template + torch.einsum("jcb,nb->njc", self.joint_shapedirs, betas)
        rot = axis_angle_to_matrix(pose.reshape(batch, NUM_JOINTS, 3))
        eye = torch.eye(3, dtype=self.dtype, device=pose.device)
        pose_feature = (rot[:, 1:] - eye).reshape(batch, -1)
        tips_rest = (self.tip_template + torch.einsum("vcb,nb->nvc", self.tip_shapedirs, betas)
                     + (pose_feature @ self.tip_posedirs.T).reshape(batch, -1, 3))
        joints, g_rot, offset = self._kinematics(rot, joints_rest)
        blend_rot = torch.einsum("vj,njab->nvab", self.tip_weights, g_rot)
        blend_off = torch.einsum("vj,nja->nva", self.tip_weights, offset)
        tips = (blend_rot @ tips_rest[..., None])[..., 0] + blend_off
        return torch.cat([joints, tips], dim=1)[:, self.keypoint_index] + translation[:, None]
