"""MediaPipe run a second time over a recording, from its end backwards: more views for offline fusion.

MediaPipe in video mode follows the hand from frame to frame. Where it locks onto a wrong fit (the
mirror image, the thumb across the palm) it keeps it for frames, and after an occlusion it needs a
few frames to find the hand again. Run from the other end of the recording it locks on and
recovers at other frames, so its errors are partly independent of the forward run's. Offline
(`dexmv perceive`) the recording's future is at hand: each camera's reverse-time observation joins
the fusion as one more view of that camera (tracker.py, `update(reverse=)`), weighed, gated and
dropped like any view. Over 50 synthetic recordings (five relocations seeds 0-4, pours seeds 0-19
and 100-104; offline smoothing) hand MPJPE 16.31 -> 15.38 mm with the full model and the lite
fallback (`dexmv perceive`'s default), lower on 40 of 50; 18.36 -> 17.09 mm with the lite model,
lower on 45. Per camera, the better of the two runs in every frame would give 25.5 mm against
29.2 (an oracle: what the runs' independence offers at most). It costs a second MediaPipe run.

The recording is taken in chunks: `chunk_s` of moments and the `settle_s` after them are held in
memory (two 640x480 RGB-D cameras: about 4.3 MB a moment, 0.5 GB at the defaults), MediaPipe runs
over them from the last to the first, and the chunk's moments are handed on with what it saw. The
settling moments, where the reverse run has only just started and is still finding the hand, are
not handed on: they open the next chunk (except at the recording's end, where nothing follows).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from dexmv_perception.hand.tracker import CameraFrame, CameraHand, HandTracker

Moment = tuple[float, list[CameraFrame]]


@dataclass(frozen=True)
class ReversePassConfig:
    chunk_s: float = 3.0  # moments handed on per reverse run
    settle_s: float = 1.0  # moments after the chunk that the reverse run starts from (not handed on)

    def __post_init__(self) -> None:
        if not (self.chunk_s > 0.0 and self.settle_s >= 0.0):
            raise ValueError(f"ReversePassConfig: chunk_s must be > 0 s and settle_s >= 0 s, got "
                             f"{self.chunk_s!r} and {self.settle_s!r}")


def with_reverse_pass(moments: Iterable[Moment], observer: HandTracker,
                      config: ReversePassConfig = ReversePassConfig()
                      ) -> Iterator[tuple[float, list[CameraFrame], dict[str, CameraHand | None]]]:
    """(stamp, frames, reverse) per moment, in the order of `moments` (which must be in time order):
    reverse maps each frame's camera to what `observer` (a HandTracker used for its `observe` only,
    not the one that fuses) saw there running backwards; None where it found no hand."""
    source = iter(moments)
    try:
        yield from _chunks(source, observer, config)
    finally:  # stopped early (Ctrl-C, an error, a break): the source's readers are closed now, not at exit
        close = getattr(source, "close", None)
        if callable(close):
            close()


def _chunks(source: Iterator[Moment], observer: HandTracker, config: ReversePassConfig
            ) -> Iterator[tuple[float, list[CameraFrame], dict[str, CameraHand | None]]]:
    buffer: deque[Moment] = deque()
    exhausted = False
    while True:
        while not exhausted and (not buffer or buffer[-1][0] - buffer[0][0] < config.chunk_s + config.settle_s):
            try:
                buffer.append(next(source))
            except StopIteration:
                exhausted = True
        if not buffer:
            return
        observer.reset()  # a run starts afresh at its chunk's far end
        seen: list[dict[str, CameraHand | None]] = [{} for _ in buffer]
        for i in range(len(buffer) - 1, -1, -1):
            frames = buffer[i][1]
            seen[i] = {frame.name: hand for frame, hand in zip(frames, observer.observe_all(frames), strict=True)}
        end = buffer[0][0] + config.chunk_s
        handed = len(buffer) if exhausted else max(1, sum(1 for stamp, _ in buffer if stamp < end))
        for i in range(handed):
            stamp, frames = buffer.popleft()
            yield stamp, frames, seen[i]
