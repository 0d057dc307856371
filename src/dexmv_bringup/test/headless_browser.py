"""Headless Chromium driven over the DevTools protocol on a pipe (standard library only), for tests.

Chromium's one-shot `--screenshot` takes its picture when a *virtual* time budget is spent; virtual
time runs ahead while the page waits on work off its main thread (compiling Rerun's WebAssembly,
decoding the stream), so on a busy 2-core machine every try could end before the viewer had drawn
anything. One browser that stays open and is asked for a screenshot every few *real* seconds waits
exactly as long as the page needs, and compiles the viewer once.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


class HeadlessChromium:
    """One headless Chromium showing `url`; `screenshot()` returns the page as PNG bytes."""

    def __init__(self, browser: str, url: str, profile: Path, env: dict[str, str], size=(1280, 800)) -> None:
        # Chromium reads commands on fd 3 and answers on fd 4. The pipe's ends are moved above 10 and
        # bash (dash takes one-digit descriptors only) moves them onto 3 and 4 as it becomes Chromium
        # (subprocess's preexec_fn could, but is unsafe in a process with threads, as pytest with ROS is)
        to_browser_r, to_browser_w = os.pipe()
        from_browser_r, from_browser_w = os.pipe()
        child_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
        child_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
        os.close(to_browser_r)
        os.close(from_browser_w)
        remap = f'exec "$0" "$@" 3<&{child_r} 4>&{child_w} {child_r}<&- {child_w}>&-'  # two integers only
        self._proc = subprocess.Popen(
            ["bash", "-c", remap, browser, "--headless=new", "--no-sandbox", "--use-angle=swiftshader",
             "--enable-unsafe-swiftshader", "--no-first-run", "--disable-extensions", "--disable-background-networking",
             f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}", "--remote-debugging-pipe", url],
            pass_fds=(child_r, child_w), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(child_r)
        os.close(child_w)
        self._out = os.fdopen(to_browser_w, "wb", buffering=0)
        self._in = os.fdopen(from_browser_r, "rb", buffering=0)
        self._pending = b""
        self._next_id = 0
        deadline = time.monotonic() + 60
        while not (pages := [t for t in self._call("Target.getTargets")["targetInfos"] if t["type"] == "page"]):
            if time.monotonic() > deadline:
                raise RuntimeError(f"Chromium opened no page for {url}")
            time.sleep(0.5)
        attached = self._call("Target.attachToTarget", {"targetId": pages[0]["targetId"], "flatten": True})
        self._session = attached["sessionId"]
        # the page's viewport itself at `size` (the window's size includes the browser's own frame)
        self._call("Emulation.setDeviceMetricsOverride",
                   {"width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": False}, self._session)

    def _call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._out.write(json.dumps(message).encode() + b"\0")
        while True:  # replies and events arrive NUL-separated; events are not needed here
            while b"\0" not in self._pending:
                chunk = self._in.read(1 << 16)
                if not chunk:
                    raise RuntimeError(f"Chromium exited ({self._proc.poll()}) during {method}")
                self._pending += chunk
            raw, self._pending = self._pending.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def screenshot(self) -> bytes:
        return base64.b64decode(self._call("Page.captureScreenshot", {"format": "png"}, self._session)["data"])

    def wait_for(self, shown: Callable[[bytes], bool], timeout_s: float, every_s: float = 2.0) -> tuple[bytes, float]:
        """Screenshots every `every_s` real seconds until `shown(png)` or `timeout_s`: (last PNG, seconds)."""
        start = time.monotonic()
        while True:
            png = self.screenshot()
            waited = time.monotonic() - start
            if shown(png) or waited > timeout_s:
                return png, waited
            time.sleep(every_s)

    def close(self) -> None:
        self._out.close()
        self._in.close()
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    def __enter__(self) -> HeadlessChromium:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
