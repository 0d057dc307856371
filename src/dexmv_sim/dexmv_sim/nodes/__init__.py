"""ROS 2 node adapters of dexmv_sim: they convert messages and call the library; no logic of their own."""
