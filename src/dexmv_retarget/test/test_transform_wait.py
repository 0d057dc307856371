"""Hand poses waiting for their frame's transform: order kept, released on transform, timeout or overflow."""

import pytest

from dexmv_retarget.transform_wait import TransformWait


def test_frames_that_can_be_placed_pass_at_once():
    wait = TransformWait(1.0)
    for i in range(3):
        wait.push(i, now=float(i))
        assert wait.release(lambda f: f * 10, now=float(i)) == [(i, i * 10)]
    assert len(wait) == 0 and wait.expired == 0


def test_a_frame_without_transform_keeps_later_frames_behind_it_until_the_transform_arrives():
    wait = TransformWait(1.0)
    known: dict[str, str] = {"world": "identity"}
    frames = [("cam", 0), ("world", 1), ("cam", 2)]
    released = []
    for t, f in enumerate(frames):
        wait.push(f, now=0.1 * t)
        released += wait.release(lambda fr: known.get(fr[0]), now=0.1 * t)
    assert released == [] and len(wait) == 3  # ("world", 1) could be placed but must not overtake ("cam", 0)
    known["cam"] = "world<-cam"
    assert wait.release(lambda fr: known.get(fr[0]), now=0.5) == [
        (("cam", 0), "world<-cam"), (("world", 1), "identity"), (("cam", 2), "world<-cam")]
    assert wait.expired == 0


def test_the_wait_runs_out_then_the_frames_behind_follow():
    wait = TransformWait(0.5)
    wait.push("lost", now=0.0)
    wait.push("ok", now=0.2)
    place = lambda f: "T" if f == "ok" else None  # noqa: E731
    assert wait.release(place, now=0.49) == []
    assert wait.release(place, now=0.5) == [("lost", None), ("ok", "T")]
    assert wait.expired == 1


def test_too_many_waiting_frames_release_the_oldest():
    wait = TransformWait(10.0, max_frames=3)
    for i in range(5):
        wait.push(i, now=0.0)
    assert wait.release(lambda _: None, now=0.0) == [(0, None), (1, None)]
    assert len(wait) == 3 and wait.expired == 2


def test_no_wait_releases_every_frame_at_once():
    wait = TransformWait(0.0)
    wait.push("a", now=3.0)
    assert wait.release(lambda _: None, now=3.0) == [("a", None)]
    assert wait.expired == 1


@pytest.mark.parametrize(("timeout", "max_frames"), [(-0.1, 10), (float("nan"), 10), (1.0, 0)])
def test_bad_settings_are_refused(timeout, max_frames):
    with pytest.raises(ValueError, match=r"transform wait|max_frames"):
        TransformWait(timeout, max_frames)
