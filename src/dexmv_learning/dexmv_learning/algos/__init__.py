"""The learning algorithms DexMV compares (Sec. 3.3), on one natural-policy-gradient / TRPO backbone.

Read top to bottom: policy.py (Gaussian MLP), baseline.py (value function), advantages.py (GAE),
npg.py (the TRPO step), then the methods built on it: bc.py, dapg.py, gail.py, soil.py. Every
module works on tensors and arrays; sampling, run folders and checkpoints live in
dexmv_learning.training.
"""
