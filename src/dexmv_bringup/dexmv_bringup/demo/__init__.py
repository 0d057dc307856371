"""The stages of `dexmv demo`: each takes the run's shared state and returns one line of result.

capture.py  synthesize a two-camera RealSense recording of a human hand doing the task
graph.py    play it through the real ROS graph (camera, extrinsics, retarget and sim nodes)
replay.py   turn the ground-truth hand motion into a robot demonstration and replay it in MuJoCo
"""
