"""ROS 2 node adapters of dexmv_capture: they convert messages and call the library; no logic of their own."""
