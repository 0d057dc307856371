"""Recordings shared by this package's tests: a small intact one and two damaged copies of it."""

import shutil
import sqlite3

import numpy as np
import pytest

from dexmv_capture.d435 import Intrinsics
from dexmv_capture.recording import RecordingWriter

SMALL = Intrinsics(160, 120, 150.0, 150.0, 80.0, 60.0)
FRAMES = 60


@pytest.fixture(scope="session")
def damaged_recordings(tmp_path_factory) -> dict:
    """intact (60 frames), garbled (4 kB of noise written over the middle of the file), no_color (its
    colour image messages deleted from the index, as a broken recorder or an edit leaves it)."""
    out = tmp_path_factory.mktemp("damaged")
    rng = np.random.default_rng(0)
    intact = out / "intact.db3"
    with RecordingWriter(intact, SMALL, 30.0, pace=False) as writer:
        for k in range(FRAMES):
            writer.write(rng.integers(0, 255, (SMALL.height, SMALL.width, 3), dtype=np.uint8),
                         np.full((SMALL.height, SMALL.width), 600 + k, np.uint16))
    data = bytearray(intact.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 4000] = rng.integers(0, 255, 4000, dtype=np.uint8).tobytes()
    garbled = out / "garbled.db3"
    garbled.write_bytes(bytes(data))
    no_color = out / "no_color.db3"
    shutil.copy(intact, no_color)
    with sqlite3.connect(no_color) as db:
        db.execute("DELETE FROM messages WHERE topic_id IN (SELECT id FROM topics WHERE name LIKE "
                   "'%/Color_0/image/data%')")
    return {"intact": intact, "garbled": garbled, "no_color": no_color, "frames": FRAMES}
