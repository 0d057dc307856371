"""Bag recorder, bag-to-demonstration conversion, imitation learning (DAPG, GAIL+, SOIL, BC, RL on
TRPO), training CLI and policy node.
"""
