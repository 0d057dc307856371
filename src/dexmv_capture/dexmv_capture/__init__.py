"""Two RealSense D435 streams as ROS 2 topics (live or recorded), extrinsic calibration, synthetic
D435 recordings.
"""
