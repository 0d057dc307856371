"""Message definitions for bags: ROS 2 Jazzy's standard types plus dexmv_msgs from their .msg files.

A bag written with these carries every definition in its MCAP schema records, so `ros2 bag info`,
`ros2 bag play`, Foxglove and rosbags read it without our packages. The .msg files come from the
installed dexmv_msgs (share/dexmv_msgs/msg on AMENT_PREFIX_PATH) or, in a source checkout, from
src/dexmv_msgs/msg; other packages' types missing from the Jazzy store are looked up the same way.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

DEXMV_TYPES = ("dexmv_msgs/msg/HandPose", "dexmv_msgs/msg/ObjectPose", "dexmv_msgs/msg/ObjectPoseArray")


class BagTypeError(ValueError):
    """A message type whose definition cannot be found."""


def _msg_file(msgtype: str) -> Path | None:
    pkg, _, name = msgtype.split("/")
    roots = [Path(p) / "share" for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    here = Path(__file__).resolve()
    roots += [parent / "src" for parent in here.parents]  # source checkout: <repo>/src/<pkg>/msg
    for root in roots:
        candidate = root / pkg / "msg" / f"{name}.msg"
        if candidate.is_file():
            return candidate
    return None


@lru_cache(maxsize=1)
def typestore():
    """A rosbags Typestore of ROS 2 Jazzy with the dexmv_msgs types registered."""
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS2_JAZZY)
    add: dict = {}
    for msgtype in DEXMV_TYPES:
        path = _msg_file(msgtype)
        if path is None:
            raise BagTypeError(f"cannot find the definition of {msgtype} (is dexmv_msgs built and the "
                               "workspace sourced?)")
        add.update(get_types_from_msg(path.read_text(), msgtype))
    store.register(add)
    return store


def ensure_type(msgtype: str):
    """The typestore, with `msgtype` registered from its .msg file when the Jazzy store lacks it."""
    from rosbags.typesys import get_types_from_msg

    store = typestore()
    if msgtype not in store.types:
        path = _msg_file(msgtype)
        if path is None:
            raise BagTypeError(f"no message definition for {msgtype}: not a ROS 2 Jazzy type and no .msg file "
                               "found on AMENT_PREFIX_PATH")
        store.register(get_types_from_msg(path.read_text(), msgtype))
    return store
