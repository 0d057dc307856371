"""Hand keypoints (MediaPipe, depth, two-view fusion, filtering), MANO layer and fitting, object
pose estimation and tracking.
"""
