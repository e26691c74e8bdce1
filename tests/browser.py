"""Open a page in headless Chromium over the DevTools protocol, for the report tests.

Starts Debian's chromium with the flags this machine needs, loads a file, and reports
console errors and uncaught exceptions, what every image looks like once loaded, and a
screenshot. Uses websocket-client (a dependency of Jupyter), no browser driver.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websocket

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--remote-debugging-port=0",
    "--window-size=412,915",  # a phone's width: the pages must work there
)


@dataclass
class PageReport:
    errors: list[str] = field(default_factory=list)  # console errors and uncaught exceptions
    images: list[dict[str, Any]] = field(default_factory=list)  # complete, width, alt per <img>
    screenshot: bytes = b""


def open_page(path: Path, timeout: float = 30) -> PageReport:
    """Load ``path`` in a fresh headless Chromium and report on it."""
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        process = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            start_new_session=True,  # so that its helper processes go with it
        )
        try:
            return _inspect(_page_socket(process, timeout), path, timeout)
        finally:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _page_socket(process: subprocess.Popen[str], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        found = re.search(r"DevTools listening on (ws://\S+)", line)
        if found:
            browser = found.group(1)
            port = browser.split(":")[2].split("/")[0]
            break
    else:
        raise RuntimeError("chromium did not start its DevTools endpoint")
    import urllib.request

    for _ in range(50):
        targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json").read())
        pages = [t for t in targets if t["type"] == "page"]
        if pages:
            return pages[0]["webSocketDebuggerUrl"]
        time.sleep(0.1)
    raise RuntimeError("chromium opened no page")


def _inspect(url: str, path: Path, timeout: float) -> PageReport:
    connection = websocket.create_connection(url, timeout=timeout, suppress_origin=True)
    ids = itertools.count(1)
    report = PageReport()
    loaded = False

    def call(method: str, **params: Any) -> dict[str, Any]:
        nonlocal loaded
        number = next(ids)
        connection.send(json.dumps({"id": number, "method": method, "params": params}))
        while True:
            message = json.loads(connection.recv())
            if message.get("id") == number:
                return message.get("result", {})
            loaded |= _note(message, report)

    try:
        for domain in ("Page", "Runtime", "Log"):
            call(f"{domain}.enable")
        call("Page.navigate", url=path.resolve().as_uri())
        deadline = time.monotonic() + timeout
        while not loaded and time.monotonic() < deadline:
            loaded |= _note(json.loads(connection.recv()), report)
        script = (
            "Promise.all(Array.from(document.images).map(i => i.decode()"
            ".then(() => true, () => false)"
            ".then(ok => ({decoded: ok, width: i.naturalWidth, alt: i.getAttribute('alt')}))))"
        )
        result = call("Runtime.evaluate", expression=script, awaitPromise=True, returnByValue=True)
        report.images = result["result"]["value"]
        shot = call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        report.screenshot = base64.b64decode(shot["data"])
    finally:
        connection.close()
    return report


def _note(message: dict[str, Any], report: PageReport) -> bool:
    """Record an error event; say whether the page has finished loading."""
    method, params = message.get("method"), message.get("params", {})
    if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
        report.errors.append(
            " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
        )
    elif method == "Runtime.exceptionThrown":
        report.errors.append(params["exceptionDetails"].get("text", "uncaught exception"))
    elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
        report.errors.append(params["entry"].get("text", ""))
    return method == "Page.loadEventFired"
