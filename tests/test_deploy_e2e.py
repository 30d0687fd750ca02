"""The deployment for real: a Prefect server on loopback (temporary PREFECT_HOME and
SQLite database), the process work pool, `prefect deploy` from deploy/prefect.yaml, a
worker subprocess, and a custom run started through the API the UI calls
(`run_deployment`) on a small campaign; then the warehouse rows, the artifacts, the
schedules, the concurrency limits, and a screenshot of the run page.

Everything is bounded in time; the server and the worker are killed in teardown.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from test_flow_campaign import EXPECTED_CHASE, EXPECTED_STATUSES, run_artifacts, warehouse_statuses
from test_flow_campaign import write_small_campaign

REPO = Path(__file__).resolve().parent.parent
PREFECT = str(Path(sys.executable).with_name("prefect"))
POOL = "observatoire"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(command, env=env, cwd=REPO, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _wait_healthy(api_url: str, server: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"le serveur Prefect s'est arrêté :\n{log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(f"{api_url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"serveur Prefect pas prêt en {timeout} s :\n{log.read_text(errors='replace')[-3000:]}")


@pytest.fixture(scope="module")
def deployed_run(tmp_path_factory):
    """Server, pool, deployments, worker, one custom run: yields what the tests read."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    tmp = tmp_path_factory.mktemp("deploy")
    campaign = write_small_campaign(tmp / "data")
    port = _free_port()
    ui_url = f"http://127.0.0.1:{port}"
    api_url = f"{ui_url}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp / "prefect-home"),
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{tmp / 'prefect.db'}",
        "PREFECT_API_URL": api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "INFO",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_WORKER_PREFETCH_SECONDS": "1",
        "OBSERVATOIRE_HOME": str(REPO),
        "OBSERVATOIRE_DATA": str(campaign.root),
        "OBSERVATOIRE_WAREHOUSE_URL": f"sqlite:///{tmp / 'ne-pas-utiliser.db'}",
    }
    processes: list[subprocess.Popen] = []
    started = time.monotonic()
    try:
        server = _start([PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)], env,
                        tmp / "server.log")
        processes.append(server)
        _wait_healthy(api_url, server, tmp / "server.log")
        with temporary_settings({PREFECT_API_URL: api_url}):
            from prefect.blocks.system import Secret
            from prefect.client.orchestration import get_client
            from prefect.client.schemas.actions import WorkPoolCreate
            from prefect.deployments import run_deployment

            with get_client(sync_client=True) as client:
                client.create_work_pool(WorkPoolCreate(name=POOL, type="process"))
            warehouse_db = tmp / "entrepot.db"
            Secret(value=f"sqlite:///{warehouse_db}").save("secret-entrepot")
            deploy = subprocess.run(
                [PREFECT, "--no-prompt", "deploy", "--prefect-file", "deploy/prefect.yaml", "--all"],
                env=env, cwd=REPO, capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL)
            assert deploy.returncode == 0, deploy.stdout[-3000:] + deploy.stderr[-3000:]
            worker = _start([PREFECT, "worker", "start", "--pool", POOL, "--type", "process"], env,
                            tmp / "worker.log")
            processes.append(worker)
            # The UI's "Custom run": the form shows the deployment's parameters, a person
            # sets the year and the region, the UI sends the whole form.
            with get_client(sync_client=True) as client:
                defaults = client.read_deployment_by_name("consolidation-campagne/consolidation-annuelle").parameters
            flow_run = run_deployment(
                "consolidation-campagne/consolidation-annuelle",
                parameters={"params": {**defaults["params"], "year": 2024, "regions": ["84"]}},
                timeout=120,
            )
            assert flow_run.state is not None and flow_run.state.is_completed(), (
                f"{flow_run.state}\n--- worker\n{(tmp / 'worker.log').read_text(errors='replace')[-4000:]}")
            found = run_artifacts(flow_run.id)
            with get_client(sync_client=True) as client:
                deployments = {d.name: d for d in client.read_deployments()}
                limits = {limit.name: limit for limit in client.read_global_concurrency_limits()}
                logs = client.read_logs()
            yield {
                "tmp": tmp, "ui_url": ui_url, "api_url": api_url, "flow_run": flow_run, "artifacts": found,
                "deployments": deployments, "limits": limits, "warehouse_db": warehouse_db,
                "logs": [log.message for log in logs], "seconds": time.monotonic() - started,
            }
    finally:
        for process in reversed(processes):
            _stop(process)


def test_custom_run_from_the_deployment_loads_the_warehouse(deployed_run):
    flow_run = deployed_run["flow_run"]
    assert flow_run.name == "campagne-2024-r84"
    # the URL came from the Secret block, not from OBSERVATOIRE_WAREHOUSE_URL
    assert warehouse_statuses(deployed_run["warehouse_db"]) == EXPECTED_STATUSES
    assert not (deployed_run["tmp"] / "ne-pas-utiliser.db").exists()
    assert any("bad.xlsx : illisible" in message for message in deployed_run["logs"])
    assert any("export.csv : 2 envoi(s), 1 valide(s)" in message for message in deployed_run["logs"])
    assert deployed_run["seconds"] < 120


def test_run_page_artifacts(deployed_run):
    found = deployed_run["artifacts"]
    summary = found["campagne-2024-r84-synthese"]
    assert summary.type == "markdown" and "| 84 | 1 | 1 | 1 | 1 | 0 | 0 | 4 |" in summary.data
    table = found["campagne-2024-r84-a-relancer"]
    rows = json.loads(table.data) if isinstance(table.data, str) else table.data
    assert table.type == "table" and [(r["FINESS ET"], r["Statut"]) for r in rows] == EXPECTED_CHASE
    progress = found["campagne-2024-r84-lecture"]
    assert progress.type == "progress" and progress.data == pytest.approx(100.0)
    workbooks = found["campagne-2024-r84-classeurs"].data
    rapports = deployed_run["tmp"] / "data" / "rapports" / "2024"
    assert str(rapports) in workbooks
    assert sorted(p.name for p in rapports.glob("*.xlsx")) == [
        "campagne-2024-r84-retours.xlsx", "relance_2024_region_84.xlsx"]


def test_deployments_are_scheduled_in_paris_one_run_at_a_time(deployed_run):
    deployments = deployed_run["deployments"]
    assert set(deployments) == {"consolidation-annuelle", "relance-pre-echeance"}
    expected = {"consolidation-annuelle": "0 6 2 3 *", "relance-pre-echeance": "0 6 15 2 *"}
    for name, cron in expected.items():
        deployment = deployments[name]
        (schedule,) = deployment.schedules
        assert (schedule.schedule.cron, schedule.schedule.timezone, schedule.active) == (cron, "Europe/Paris", True)
        assert deployment.work_pool_name == POOL
        assert deployment.global_concurrency_limit is not None
        assert deployment.global_concurrency_limit.limit == 1
        params = deployment.parameters["params"]
        assert params["year"] is None
        assert params["submissions"] == str(deployed_run["tmp"] / "data" / "envois" / "{annee}")
    # the year is held by the run's lock in the warehouse (observatoire/run_lock.py), whichever
    # way the run is started, not by a Prefect limit; released after the run
    assert "campagne-2024" not in deployed_run["limits"]
    from observatoire import run_lock, warehouse

    engine = warehouse.connect(f"sqlite:///{deployed_run['warehouse_db']}")
    try:
        with run_lock.campaign_lock(engine, 2024, wait_max_s=0):
            pass
    finally:
        engine.dispose()


def test_screenshot_of_the_run_page(deployed_run):
    sys.path.insert(0, str(REPO / "deploy"))
    try:
        import screenshot
    finally:
        sys.path.remove(str(REPO / "deploy"))
    if screenshot.find_chromium() is None:
        message = "Chromium absent (apt-get install -y chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " : requis sous CI")
        pytest.skip(message)
    url = f"{deployed_run['ui_url']}/runs/flow-run/{deployed_run['flow_run'].id}"
    output = deployed_run["tmp"] / "run.png"
    completed = subprocess.run([sys.executable, str(REPO / "deploy" / "screenshot.py"), url, str(output)],
                               capture_output=True, text=True, timeout=90)
    assert completed.returncode == 0, completed.stderr
    data = output.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # a blank page compresses to far less
    if keep := os.environ.get("OBSERVATOIRE_SCREENSHOT"):
        shutil.copy(output, keep)
