"""Save a screenshot of a Prefect UI page (a flow run's page) with headless Chromium.

    python deploy/screenshot.py http://127.0.0.1:4200/runs/flow-run/<id> run.png

Exit status 0 when the PNG was written; 3 when no Chromium is installed
(Debian: `apt-get install -y chromium`); 1 when Chromium failed.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")


def find_chromium() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def screenshot(url: str, output: Path, *, width: int = 1400, height: int = 1000, wait_ms: int = 8000,
               timeout: float = 60, browser: str | None = None) -> Path:
    """Render `url` (letting its JavaScript run for `wait_ms` of virtual time, the Prefect
    UI being a single-page application) and write `output`."""
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
            f"--virtual-time-budget={wait_ms}", f"--screenshot={output}", f"--window-size={width},{height}", url,
        ]
        completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                   stdin=subprocess.DEVNULL)
    if not output.exists() or output.stat().st_size == 0:
        raise RuntimeError(f"Chromium n'a pas écrit {output} (code {completed.returncode}) : "
                           f"{completed.stderr.strip()[-500:]}")
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Capture d'écran d'une page de l'interface Prefect")
    parser.add_argument("url", help="adresse de la page, par exemple http://127.0.0.1:4200/runs/flow-run/<id>")
    parser.add_argument("output", type=Path, help="fichier PNG à écrire")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=1000)
    parser.add_argument("--wait-ms", type=int, default=8000, help="temps laissé au JavaScript de la page")
    args = parser.parse_args(argv)
    try:
        path = screenshot(args.url, args.output, width=args.width, height=args.height, wait_ms=args.wait_ms)
    except FileNotFoundError as exc:
        print(f"screenshot : {exc}", file=sys.stderr)
        return 3
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"screenshot : {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
