"""Scale-out on a Ray cluster (the optional `ray` extra: `DEXMV_EXTRAS=ray make setup`).

    cluster.py         connect to a cluster, or start a loopback-only Ray on this machine
    rollout_actors.py  one run's sampling spread over Ray actors that hold batched environments
    sweep.py           training runs (one `dexmv train`, or every Table 1 cell) as Ray tasks that
                       resume from their checkpoints when a node dies
    progress.py        every run's progress in one view on the driver

Nothing here is imported unless `--ray` is given, so the package works without Ray installed.
"""
