"""ROS 2 node adapters of dexmv_retarget: they convert messages and call the library; no logic of their own."""
