"""The Adroit hand and YCB-like objects in MuJoCo: relocate, pour and place-inside tasks, Gymnasium
environments, batched stepping, sim node.

Importing the package registers the Gymnasium ids (`dexmv/Relocate-<object>-v0`, `dexmv/Pour-v0`,
`dexmv/PlaceInside-v0`); nothing heavy is imported until an env is made.
"""

from dexmv_sim.envs import ENV_IDS, register_envs

register_envs()

__all__ = ["ENV_IDS", "register_envs"]
