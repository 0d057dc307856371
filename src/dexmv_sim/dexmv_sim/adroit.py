"""The 30-DoF Adroit hand of DexMV: 6 arm DoF (ARTx/y/z slides, ARRx/y/z hinges), 2 wrist and 22 finger joints.

The model is composed with mujoco.MjSpec from the Adroit assets that gymnasium-robotics installs
(read from the installed package at run time, never copied into this repository): the relocate
scene already mounts the hand on the 6-DoF arm with position actuators on all 30 joints; we keep
the hand, arm and actuators and drop the scene around them, so every task builds its own scene
on the same hand and retargeted joints mean the same thing everywhere.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import mujoco

ARM_JOINTS = ("ARTx", "ARTy", "ARTz", "ARRx", "ARRy", "ARRz")
WRIST_JOINTS = ("WRJ1", "WRJ0")
FINGER_JOINTS = (
    "FFJ3", "FFJ2", "FFJ1", "FFJ0",  # index (first finger): abduction, MCP, PIP, DIP
    "MFJ3", "MFJ2", "MFJ1", "MFJ0",  # middle
    "RFJ3", "RFJ2", "RFJ1", "RFJ0",  # ring
    "LFJ4", "LFJ3", "LFJ2", "LFJ1", "LFJ0",  # little: metacarpal, abduction, MCP, PIP, DIP
    "THJ4", "THJ3", "THJ2", "THJ1", "THJ0",  # thumb: base rotation, base flexion, hub, middle, distal
)
# qpos[:30] and the 30 actuators follow this order in every model built from adroit_hand_spec().
ADROIT_JOINTS = ARM_JOINTS + WRIST_JOINTS + FINGER_JOINTS
ADROIT_ACTUATORS = tuple(f"A_{name}" for name in ADROIT_JOINTS)

PALM_BODY = "palm"
FOREARM_BODY = "forearm"
# Fingertip sites, keyed by human finger name (the stack's keypoint order: thumb, index, middle, ring, little).
FINGERTIP_SITES = {"thumb": "S_thtip", "index": "S_fftip", "middle": "S_mftip", "ring": "S_rftip", "little": "S_lftip"}

_SCENE_FILE = "adroit_relocate.xml"
# Parts of the relocate scene that are not the hand: each task composes its own.
_NOT_HAND = {"body": ("table", "Object", "vive_tracker"), "site": ("target",), "geom": ("ground",)}


class AdroitAssetsError(RuntimeError):
    """gymnasium-robotics (which ships the Adroit meshes and model) is missing or unexpected."""


def adroit_asset_dir() -> Path:
    """Folder of the installed gymnasium-robotics Adroit assets (found without importing the package)."""
    spec = importlib.util.find_spec("gymnasium_robotics")
    if spec is None or not spec.submodule_search_locations:
        raise AdroitAssetsError(
            "gymnasium-robotics is not installed: it provides the Adroit hand model (run `make setup`)."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "envs" / "assets" / "adroit_hand"
    if not (path / _SCENE_FILE).is_file():
        raise AdroitAssetsError(f"{path / _SCENE_FILE} is missing: this gymnasium-robotics has no Adroit assets.")
    return path


def adroit_hand_spec() -> mujoco.MjSpec:
    """A fresh MjSpec holding only the Adroit hand on its 6-DoF arm, with its 30 actuators.

    The forearm base sits where the relocate scene puts it (0, -0.7, 0.2), relative to a table
    top at z = 0. Callers add their table, objects, cameras and lights, then compile.
    """
    spec = mujoco.MjSpec.from_file(str(adroit_asset_dir() / _SCENE_FILE))
    spec.modelname = "dexmv_adroit"
    for kind, names in _NOT_HAND.items():
        for name in names:
            element = getattr(spec, kind)(name)
            if element is None:
                raise AdroitAssetsError(f"{_SCENE_FILE} has no {kind} '{name}': unexpected gymnasium-robotics version.")
            spec.delete(element)
    joints = tuple(j.name for j in spec.joints)
    actuators = tuple(a.name for a in spec.actuators)
    if joints != ADROIT_JOINTS or actuators != ADROIT_ACTUATORS:
        raise AdroitAssetsError(f"{_SCENE_FILE} joints/actuators differ from the 30 DexMV expects: {joints}")
    return spec


def adroit_hand_model() -> mujoco.MjModel:
    """The hand alone, compiled: for kinematics (retargeting) and tests."""
    return adroit_hand_spec().compile()
