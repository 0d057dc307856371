"""Offscreen rendering of a scene (EGL when MUJOCO_GL=egl, which install/setup.bash sets)."""

from __future__ import annotations

import mujoco
import numpy as np


class RenderError(RuntimeError):
    """No OpenGL context could be made (headless machine without EGL, or a bad MUJOCO_GL)."""


class SceneRenderer:
    """A mujoco.Renderer at a fixed size, rendering any named camera of the model."""

    def __init__(self, model: mujoco.MjModel, width: int = 640, height: int = 480) -> None:
        if width > model.vis.global_.offwidth or height > model.vis.global_.offheight:
            raise RenderError(f"{width}x{height} exceeds the offscreen buffer "
                              f"{model.vis.global_.offwidth}x{model.vis.global_.offheight}")
        try:
            self._renderer = mujoco.Renderer(model, height=height, width=width)
        except Exception as err:  # mujoco raises plain Exceptions for GL failures
            raise RenderError(f"cannot create an OpenGL context ({err}); headless machines need MUJOCO_GL=egl "
                              "and libEGL (Debian: libegl1 libgl1-mesa-dri)") from err
        self.model = model
        # groups shown: 0-2 (hand visuals, objects, table); 3-5 are collision shapes and touch sites
        self._option = mujoco.MjvOption()
        self._option.geomgroup[:] = [1, 1, 1, 0, 0, 0]
        self._option.sitegroup[:] = [0, 0, 0, 0, 0, 0]

    def _update(self, data: mujoco.MjData, camera: str | int) -> None:
        self._renderer.update_scene(data, camera=camera, scene_option=self._option)

    def rgb(self, data: mujoco.MjData, camera: str | int = "front") -> np.ndarray:
        """RGB image (height, width, 3) uint8."""
        self._update(data, camera)
        return self._renderer.render()

    def depth(self, data: mujoco.MjData, camera: str | int = "front") -> np.ndarray:
        """Depth image (height, width) float32, metres along the optical axis."""
        self._renderer.enable_depth_rendering()
        try:
            self._update(data, camera)
            return self._renderer.render()
        finally:
            self._renderer.disable_depth_rendering()

    def close(self) -> None:
        self._renderer.close()
