"""Save a screenshot of a Prefect UI page (a flow run's page, a deployment's Upcoming tab)
with headless Chromium, once the page has settled.

    python deploy/screenshot.py http://127.0.0.1:4200/runs/flow-run/<id> run.png

"Settled": the page has loaded, no request has been in flight for half a second, and no
finite CSS animation or transition is running (the UI fades its panels in when their data
arrives: a capture taken on a timer caught them dimmed, half-way). Chromium is driven
through its DevTools protocol (the `websockets` client Prefect already depends on). A page
that never settles (a request that never ends) is captured after --wait-ms all the same.

Exit status 0 when the PNG was written; 3 when no Chromium is installed
(Debian: `apt-get install -y chromium`); 1 when Chromium failed.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")
QUIET_S = 0.5  # no request in flight for this long: the network is idle
# Finite animations and transitions still running (an endless spinner is not waited for).
RUNNING_ANIMATIONS = """document.getAnimations().filter(a => a.playState === 'running'
  && isFinite(a.effect ? a.effect.getComputedTiming().endTime : Infinity)).length"""


def find_chromium() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


class DevTools:
    """One page's DevTools connection: commands, and the events seen while waiting."""

    def __init__(self, ws_url: str):
        from websockets.sync.client import connect

        self.ws = connect(ws_url, max_size=None, open_timeout=10)
        self.next_id = 0
        self.in_flight: set[str] = set()
        self.last_network = time.monotonic()
        self.loaded = False

    def _event(self, message: dict) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Network.requestWillBeSent":
            self.in_flight.add(params["requestId"])
        elif method in ("Network.loadingFinished", "Network.loadingFailed"):
            self.in_flight.discard(params["requestId"])
        elif method == "Page.loadEventFired":
            self.loaded = True
        if method and method.startswith("Network."):
            self.last_network = time.monotonic()

    def call(self, method: str, timeout: float = 30, **params) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method} : {message['error']}")
                return message.get("result", {})
            self._event(message)

    def pump(self, seconds: float) -> None:
        """Read the events of the next `seconds`."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                self._event(json.loads(self.ws.recv(timeout=left)))
            except TimeoutError:
                return

    def settled(self) -> bool:
        if not self.loaded or self.in_flight or time.monotonic() - self.last_network < QUIET_S:
            return False
        result = self.call("Runtime.evaluate", expression=RUNNING_ANIMATIONS, returnByValue=True)
        return result.get("result", {}).get("value", 1) == 0

    def close(self) -> None:
        self.ws.close()


def _devtools_port(profile: Path, browser: subprocess.Popen, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    port_file = profile / "DevToolsActivePort"
    while time.monotonic() < deadline:
        if browser.poll() is not None:
            raise RuntimeError(f"Chromium s'est arrêté (code {browser.returncode})")
        if port_file.exists() and (lines := port_file.read_text().split()):
            return int(lines[0])
        time.sleep(0.1)
    raise RuntimeError(f"Chromium n'a pas ouvert son port DevTools en {timeout:.0f} s")


def screenshot(url: str, output: Path, *, width: int = 1400, height: int = 1000, wait_ms: int = 20000,
               timeout: float = 90, browser: str | None = None) -> Path:
    """Open `url`, wait until it has settled (at most `wait_ms`), write `output`."""
    browser = browser or find_chromium()
    if browser is None:
        raise FileNotFoundError("Chromium introuvable (Debian : apt-get install -y chromium)")
    output = Path(output).resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    output.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        command = [
            browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", "--hide-scrollbars", f"--user-data-dir={profile}",
            "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1",
            f"--window-size={width},{height}", "about:blank",
        ]
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, start_new_session=True)
        try:
            port = _devtools_port(Path(profile), process, timeout / 3)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
                page = next(t for t in json.load(response) if t.get("type") == "page")
            tools = DevTools(page["webSocketDebuggerUrl"])
            try:
                tools.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                           mobile=False)
                tools.call("Page.enable")
                tools.call("Network.enable")
                tools.call("Page.navigate", url=url)
                deadline = time.monotonic() + wait_ms / 1000
                while time.monotonic() < deadline and not tools.settled():
                    tools.pump(0.1)
                data = tools.call("Page.captureScreenshot", format="png")["data"]
            finally:
                tools.close()
            output.write_bytes(base64.b64decode(data))
        except (OSError, StopIteration, KeyError, ValueError) as exc:
            raise RuntimeError(f"Chromium n'a pas écrit {output} : {type(exc).__name__}: {exc}") from exc
        finally:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
    if not output.exists() or output.stat().st_size == 0:
        raise RuntimeError(f"Chromium n'a pas écrit {output}")
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Capture d'écran d'une page de l'interface Prefect")
    parser.add_argument("url", help="adresse de la page, par exemple http://127.0.0.1:4200/runs/flow-run/<id>")
    parser.add_argument("output", type=Path, help="fichier PNG à écrire")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=1000)
    parser.add_argument("--wait-ms", type=int, default=20000,
                        help="attente maximale que la page soit stable (chargée, réseau calme, animations finies)")
    args = parser.parse_args(argv)
    try:
        path = screenshot(args.url, args.output, width=args.width, height=args.height, wait_ms=args.wait_ms)
    except FileNotFoundError as exc:
        print(f"screenshot : {exc}", file=sys.stderr)
        return 3
    except RuntimeError as exc:
        print(f"screenshot : {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
