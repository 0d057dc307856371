"""The start-up and shutdown every DexMV node shares (node_main.py): one place for the races
between Ctrl-C, rclpy's signal thread and the executor, so each node main is one call."""
