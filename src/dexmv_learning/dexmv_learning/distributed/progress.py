"""Every run of a sweep in one view: runs report to a board (a Ray actor on the driver's node), and
the driver draws one tqdm line per run from it (iteration, attempt, status, latest return and
success rate), or prints a line per change of status when progress bars are off."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class ProgressBoard:
    """The latest state of each run (the body of a Ray actor): runs write, the driver reads."""

    def __init__(self) -> None:
        self.runs: dict[str, dict[str, Any]] = {}

    def start(self, name: str, pid: int, node: str, resumed_from: int, total: int) -> int:
        """A run's task started (again after a failure: the attempt counts up); returns the attempt."""
        state = self.runs.setdefault(name, {"attempt": 0})
        state.update(attempt=state["attempt"] + 1, pid=pid, node=node, resumed_from=resumed_from,
                     iteration=resumed_from, total=total, status="training")
        return state["attempt"]

    def update(self, name: str, fields: dict[str, Any]) -> None:
        self.runs.setdefault(name, {"attempt": 0}).update(fields)

    def states(self) -> dict[str, dict[str, Any]]:
        return self.runs


class ProgressView:
    """The driver's view of a board's states: a tqdm line per run, or status lines."""

    def __init__(self, names: Sequence[str], totals: Sequence[int], bars: bool = True) -> None:
        self.bars = bars
        self.names = list(names)
        self.seen: dict[str, tuple] = {}
        self.lines = {}
        if bars:
            from tqdm import tqdm

            width = max(len(n) for n in self.names) if self.names else 0
            self.lines = {name: tqdm(total=total, desc=name.ljust(width), position=k, unit="it", leave=True)
                          for k, (name, total) in enumerate(zip(self.names, totals, strict=True))}

    def show(self, states: dict[str, dict[str, Any]]) -> None:
        for name in self.names:
            state = states.get(name)
            if state is None:
                continue
            key = (state.get("status"), state.get("attempt"))
            if not self.bars:
                if self.seen.get(name) != key:
                    resumed = f", resumed from iteration {state['resumed_from']}" if state.get("resumed_from") else ""
                    print(f"[ray] {name}: {state.get('status')} (attempt {state.get('attempt')} on "
                          f"{state.get('node')}{resumed})", flush=True)
                continue
            bar = self.lines[name]
            bar.n = int(state.get("iteration") or 0)
            postfix = {"status": state.get("status"), "attempt": state.get("attempt")}
            for key_, label in (("return_mean", "return"), ("success_rate", "success")):
                if state.get(key_) is not None:
                    postfix[label] = f"{state[key_]:.2f}"
            bar.set_postfix(postfix, refresh=False)
            bar.refresh()
            self.seen[name] = key
        if not self.bars:
            self.seen.update({n: (s.get("status"), s.get("attempt")) for n, s in states.items()})

    def close(self) -> None:
        for bar in self.lines.values():
            bar.close()
