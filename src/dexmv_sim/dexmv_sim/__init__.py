"""The Adroit hand and YCB-like objects in MuJoCo: relocate, pour and place-inside tasks, Gymnasium
environments, batched stepping, sim node.
"""
