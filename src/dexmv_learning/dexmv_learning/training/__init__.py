"""Training runs: configuration, sampling on the batched simulator, the per-iteration update of each
method, run folders (checkpoints, metrics, TensorBoard, curves) and resume."""
