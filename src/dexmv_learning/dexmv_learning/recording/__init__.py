"""rosbag2 directories (MCAP storage) written and read with the `rosbags` library, without ROS:
the recorder's writer (bag_writer.py), typed reading of HandPose, ObjectPoseArray, JointState and
images (bag_reader.py), and the message definitions that make the bags self-describing (types.py).
"""
