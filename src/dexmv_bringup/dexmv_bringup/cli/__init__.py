"""The `dexmv` command: one entry, verbs contributed by every package through entry points."""
