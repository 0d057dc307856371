"""The hand half of perception: MediaPipe landmarks per camera, depth lifting, two-view fusion, filtering."""
