"""One BLAS thread for a perception process.

Perception's matrices are tiny (3x3 rotations, 21-keypoint fits, a few hundred ICP points), so
OpenBLAS's threads never pay for themselves; worse, after each call its idle worker spins in
`sched_yield` for a while before sleeping. On the 2-core machine that spinning took about 45 ms
of CPU per moment (default recording: 131-143 against 88-91 ms of CPU a moment, all threads),
time the camera threads' MediaPipe and the decoder needed.
"""

from __future__ import annotations


def use_one_blas_thread() -> None:
    """Numpy's and scipy's OpenBLAS limited to one thread for the rest of the process (threadpoolctl
    limits the libraries already loaded, so scipy's is loaded first)."""
    import scipy.linalg  # noqa: F401  (loads scipy's own OpenBLAS, so that it is limited too)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
