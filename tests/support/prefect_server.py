"""A real `prefect server` for a test: a free port on loopback, its own PREFECT_HOME and
SQLite database under the test's folder, bounded waits, its process group killed after."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest


def stop_process_group(process: subprocess.Popen, timeout: float) -> None:
    """The process and everything it started (its own session): SIGTERM, then SIGKILL after
    `timeout` seconds."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=timeout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def prefect_server(folder: Path, timeout: float = 240):
    """Yields (api_url, database file); a loaded machine may need minutes to start it."""
    folder.mkdir(parents=True, exist_ok=True)
    port, database, log = free_port(), folder / "prefect.db", folder / "server.log"
    api_url = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, "PREFECT_HOME": str(folder / "home"),
           "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{database}",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_LOGGING_LEVEL": "INFO"}
    env.pop("PREFECT_API_URL", None)
    server = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                               "--port", str(port)], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if server.poll() is not None:
                pytest.fail(f"le serveur Prefect s'est arrêté :\n{log.read_text(errors='replace')[-3000:]}")
            try:
                if httpx.get(f"{api_url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"serveur Prefect pas prêt en {timeout} s :\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.5)
        yield api_url, database
    finally:
        stop_process_group(server, timeout=15)
