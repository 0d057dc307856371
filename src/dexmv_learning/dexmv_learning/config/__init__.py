"""Training hyper-parameters as YAML: defaults.yaml documents every value once (see
dexmv_learning.training.config for how a run resolves them)."""
