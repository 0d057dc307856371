"""From MANO's 16 joints + 5 fingertip vertices to the project's 21-keypoint order.

MANO's joints: 0 wrist; 1-3 index; 4-6 middle; 7-9 little; 10-12 ring; 13-15 thumb (each finger
proximal to distal). The project's order (MediaPipe's, OpenPose's): 0 wrist; 1-4 thumb CMC, MCP,
IP, tip; 5-8 index MCP, PIP, DIP, tip; 9-12 middle; 13-16 ring; 17-20 little. MANO has no tip
joints: the tips are surface vertices (the ids commonly used with the right-hand model).
"""

from __future__ import annotations

# fingertip vertex ids of the right-hand MANO mesh, in the project's finger order
TIP_VERTEX_IDS = {"thumb": 744, "index": 320, "middle": 443, "ring": 554, "little": 671}

# MANO joint ids per finger (proximal to distal)
MANO_FINGER_JOINTS = {"index": (1, 2, 3), "middle": (4, 5, 6), "little": (7, 8, 9), "ring": (10, 11, 12),
                      "thumb": (13, 14, 15)}
FINGERS = ("thumb", "index", "middle", "ring", "little")  # the project's finger order


def _build() -> tuple[int, ...]:
    """Index into concat(16 joints, 5 tips) for each of the 21 keypoints."""
    order = [0]
    for k, finger in enumerate(FINGERS):
        order += list(MANO_FINGER_JOINTS[finger])
        order.append(16 + k)  # the tip vertex of this finger, appended after the joints
    return tuple(order)


# keypoints = concat(joints (16), tips in FINGERS order (5))[MANO_TO_KEYPOINTS]
MANO_TO_KEYPOINTS: tuple[int, ...] = _build()
