"""Headless Chromium driven over the DevTools protocol, for UI tests and doc screenshots.

Chromium's one-shot ``--screenshot``/``--dump-dom`` flags cannot wait for an app that
renders over a websocket (Streamlit) or needs a login cookie (Label Studio). This starts
Chromium with a DevTools port on 127.0.0.1 and lets a caller set cookies, open a page, wait
until some text shows, read the page text and take a PNG. The flags keep Chromium off the
network: on a closed machine its background connections only fail and slow it down.
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx
from websockets.sync.client import connect

from winnow.errors import ServiceError
from winnow.services.process import LOOPBACK, free_port, stop_process

_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-sync",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-quic",
    "--hide-scrollbars",
    "--mute-audio",
)


def chromium_binary() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    raise ServiceError("Chromium is not installed (Debian: apt-get install chromium)")


class HeadlessBrowser:
    def __init__(self, size: tuple[int, int] = (1400, 1000), timeout_s: float = 30.0) -> None:
        self.size, self.timeout_s = size, timeout_s
        self._profile = tempfile.TemporaryDirectory(
            prefix="winnow-chromium-", ignore_cleanup_errors=True
        )
        self._port = free_port()
        self._process: subprocess.Popen | None = None
        self._ws: Any = None
        self._ids = itertools.count(1)

    def start(self) -> Self:
        args = [
            chromium_binary(),
            *_FLAGS,
            f"--remote-debugging-port={self._port}",
            f"--remote-debugging-address={LOOPBACK}",
            f"--user-data-dir={self._profile.name}",
            f"--window-size={self.size[0]},{self.size[1]}",
            "about:blank",
        ]
        # its own process group: Chromium's helper processes are stopped with it
        self._process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        self._connection = connect(self._page_socket(), max_size=64 * 1024 * 1024)
        self._ws = self._connection.__enter__()
        self.call("Network.enable")
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=self.size[0],
            height=self.size[1],
            deviceScaleFactor=1,
            mobile=False,
        )
        return self

    def _page_socket(self) -> str:
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            try:
                targets = httpx.get(
                    f"http://{LOOPBACK}:{self._port}/json/list", trust_env=False
                ).json()
                pages = [t for t in targets if t.get("type") == "page"]
                if pages:
                    return pages[0]["webSocketDebuggerUrl"]
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise ServiceError("Chromium's DevTools endpoint did not come up")

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one DevTools command and return its result (events in between are skipped)."""
        ident = next(self._ids)
        self._ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self._ws.recv(timeout=self.timeout_s))
            if message.get("id") == ident:
                if "error" in message:
                    raise ServiceError(f"Chromium {method}: {message['error']}")
                return message.get("result", {})

    def open(self, url: str, cookies: dict[str, str] | None = None) -> None:
        for name, value in (cookies or {}).items():
            self.call("Network.setCookie", name=name, value=value, url=url)
        self.call("Page.navigate", url=url)

    def text(self, selector: str | None = None) -> str:
        """The page's visible text, or that of every element ``selector`` matches (one per
        line): a single-page app re-renders, so read the element the check is about."""
        if selector is None:
            return str(self.evaluate("document.body ? document.body.innerText : ''") or "")
        query = f"Array.from(document.querySelectorAll({json.dumps(selector)}))"
        return str(self.evaluate(f"{query}.map(e => e.innerText).join('\\n')") or "")

    def wait_for_text(
        self, *needles: str, timeout_s: float | None = None, selector: str | None = None
    ) -> str:
        """Poll until every needle is in :meth:`text`; return that text. ServiceError on
        timeout."""
        deadline = time.monotonic() + (timeout_s or self.timeout_s)
        while True:
            text = self.text(selector)
            if all(n in text for n in needles):
                return text
            if time.monotonic() > deadline:
                missing = [n for n in needles if n not in text]
                raise ServiceError(f"page never showed {missing}; it shows: {text[:500]!r}")
            time.sleep(0.25)

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def upload(self, selector: str, path: Path, index: int = 0) -> None:
        """Put a file into the ``index``-th ``<input type=file>`` matching ``selector``."""
        root = self.call("DOM.getDocument", depth=-1)["root"]["nodeId"]
        nodes = self.call("DOM.querySelectorAll", nodeId=root, selector=selector)["nodeIds"]
        if len(nodes) <= index:
            raise ServiceError(f"no element #{index} matches {selector!r}")
        self.call("DOM.setFileInputFiles", files=[str(path)], nodeId=nodes[index])

    def screenshot(self, out: Path) -> Path:
        shot = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=False)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(base64.b64decode(shot["data"]))
        return out

    def stop(self) -> None:
        if self._ws is not None:
            self._connection.__exit__(None, None, None)
            self._ws = None
        if self._process is not None:
            stop_process(self._process)
            self._process = None
        self._profile.cleanup()  # ignores files a dying helper process still writes

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
