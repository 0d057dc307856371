"""Hand poses waiting for their frame's transform: order kept, released on transform, timeout or overflow."""

import pytest

from dexmv_retarget.transform_wait import TransformWait


def test_frames_that_can_be_placed_pass_at_once():
    wait = TransformWait(1.0)
    for i in range(3):
        wait.push(i, now=float(i))
        assert wait.release(lambda _: True, now=float(i)) == [i]
    assert len(wait) == 0 and wait.expired == 0


def test_a_frame_without_transform_keeps_later_frames_behind_it_until_the_transform_arrives():
    wait = TransformWait(1.0)
    known: set[str] = {"world"}
    frames = [("cam", 0), ("world", 1), ("cam", 2)]
    released = []
    for t, f in enumerate(frames):
        wait.push(f, now=0.1 * t)
        released += wait.release(lambda fr: fr[0] in known, now=0.1 * t)
    assert released == [] and len(wait) == 3  # ("world", 1) could be placed but must not overtake ("cam", 0)
    known.add("cam")
    assert wait.release(lambda fr: fr[0] in known, now=0.5) == frames
    assert wait.expired == 0


def test_the_wait_runs_out_then_the_frames_behind_follow():
    wait = TransformWait(0.5)
    wait.push("lost", now=0.0)
    wait.push("ok", now=0.2)
    placeable = lambda f: f == "ok"  # noqa: E731
    assert wait.release(placeable, now=0.49) == []
    assert wait.release(placeable, now=0.5) == ["lost", "ok"]
    assert wait.expired == 1


def test_too_many_waiting_frames_release_the_oldest():
    wait = TransformWait(10.0, max_frames=3)
    for i in range(5):
        wait.push(i, now=0.0)
    assert wait.release(lambda _: False, now=0.0) == [0, 1]
    assert len(wait) == 3 and wait.expired == 2


def test_no_wait_releases_every_frame_at_once():
    wait = TransformWait(0.0)
    wait.push("a", now=3.0)
    assert wait.release(lambda _: False, now=3.0) == ["a"]
    assert wait.expired == 1


@pytest.mark.parametrize(("timeout", "max_frames"), [(-0.1, 10), (float("nan"), 10), (1.0, 0)])
def test_bad_settings_are_refused(timeout, max_frames):
    with pytest.raises(ValueError, match=r"transform wait|max_frames"):
        TransformWait(timeout, max_frames)
