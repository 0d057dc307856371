"""Human-to-Adroit hand motion retargeting (initial guess and task-space-vector optimization) and
its node.
"""
