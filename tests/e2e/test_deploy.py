"""The deployment for real, as deploy/README.md says it: the commands of its "From nothing,
on one machine" block are run in their order by bash (the server and the worker in the
background), on a free port, in a temporary PREFECT_HOME, with this checkout and its
virtual environment. Then, through the API the UI calls:

- the UI is told the API of *this* port (`/ui-settings`), not 4200's;
- the server's own scheduler has created the scheduled runs of both deployments (the
  flow runs in state Scheduled, not the deployments' settings): the next 2 March and
  15 February 06:00 in Paris, with Prefect's default scheduler settings;
- a custom run (the UI's "Custom run", `run_deployment`) loads the warehouse, without the
  layout's calendar (absent: the default deadline) and then with it (the extension it
  grants counts); a calendar typed in the form that does not exist stops the run at once;
- the artifacts, the concurrency limits and a screenshot of the run page.

What the block's commands get instead of the README's example values: the free port for
4200, this checkout for /opt/observatoire-cds (step 1's clone and pip lines are skipped),
a temporary folder for /srv/observatoire, an SQLite warehouse in the Secret block. The
worker polls every second (PREFECT_WORKER_QUERY_SECONDS=1) to keep the test short; the
server keeps every default. Everything is bounded in time; the processes the block starts
are killed in teardown.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.support.small_campaign import (
    EXPECTED_CHASE, EXPECTED_STATUSES, run_artifacts, warehouse_statuses, write_small_campaign,
)

pytestmark = pytest.mark.slow  # end to end: `pytest -m "not slow"` leaves it out

REPO = Path(__file__).resolve().parents[2]
README = REPO / "deploy" / "README.md"
POOL = "observatoire"
PARIS = ZoneInfo("Europe/Paris")
SCHEDULES = {"consolidation-annuelle": (3, 2), "relance-pre-echeance": (2, 15)}  # month, day at 06:00 Paris
# The calendar of the second run: centre D, received on 03/03/2025, has an extension to 05/03/2025.
CALENDAR = "annee;finess_et;date_limite\n2024;690000070;05/03/2025\n"
STATUSES_WITH_CALENDAR = {**EXPECTED_STATUSES, "690000070": ("on_time", None)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def readme_commands(text: str) -> list[str]:
    """The commands of the README's first bash block, continuation lines joined."""
    block = text.split("## From nothing, on one machine", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    commands, current = [], ""
    for line in block.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current += line.rstrip()
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        commands.append(current)
        current = ""
    return commands


def walkthrough_script(commands: list[str], substitutions: dict[str, str], logs: Path, pids: Path) -> str:
    """The README's commands as one bash script: step 1 (clone, venv, pip) skipped, the
    example values replaced, the server and the worker started in the background, each in
    a session of its own (killed as a group in teardown)."""
    used = set()
    lines = ["set -eo pipefail", f"cd {REPO}"]
    for command in commands:
        if command.startswith(("git clone", "python3 -m venv", ".venv/bin/pip")):
            continue
        for old, new in substitutions.items():
            if old in command:
                used.add(old)
                command = command.replace(old, new)
        if command.startswith(("prefect server start", "prefect worker start")):
            name = command.split()[1]
            command = f"setsid {command} > {logs / (name + '.log')} 2>&1 < /dev/null & echo $! >> {pids}"
        lines.append(command)
    missing = set(substitutions) - used
    assert not missing, f"deploy/README.md ne contient plus {missing} : mettre à jour ce test"
    return "\n".join(lines) + "\n"


def _kill_started(pids: Path) -> None:
    for pid in (int(p) for p in pids.read_text().split()) if pids.exists() else ():
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        else:
            os.killpg(pid, signal.SIGKILL)


def next_paris(month: int, day: int, after: dt.datetime) -> dt.datetime:
    """The first `day`/`month` 06:00 in Paris after `after`."""
    year = after.astimezone(PARIS).year
    while (moment := dt.datetime(year, month, day, 6, tzinfo=PARIS)) <= after:
        year += 1
    return moment


def scheduled_runs(client, deployment_ids: dict) -> dict[str, list]:
    from prefect.client.schemas.filters import (DeploymentFilter, DeploymentFilterId, FlowRunFilter,
                                                FlowRunFilterState, FlowRunFilterStateType)
    from prefect.client.schemas.objects import StateType

    runs = client.read_flow_runs(
        deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=list(deployment_ids.values()))),
        flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))),
    )
    names = {value: key for key, value in deployment_ids.items()}
    found: dict[str, list] = {name: [] for name in deployment_ids}
    for run in runs:
        found[names[run.deployment_id]].append(run)
    return found


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """deploy/README.md's steps, then the runs the server's scheduler created."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    tmp = tmp_path_factory.mktemp("deploy")
    campaign = write_small_campaign(tmp / "data")
    warehouse_db = tmp / "entrepot.db"
    port = _free_port()
    ui_url = f"http://127.0.0.1:{port}"
    api_url = f"{ui_url}/api"
    pids = tmp / "pids"
    script = walkthrough_script(readme_commands(README.read_text("utf-8")), {
        "PORT=4200": f"PORT={port}",
        "$PWD/.venv/bin": str(Path(sys.executable).parent),
        "postgresql+psycopg://observatoire:MOT_DE_PASSE@db:5432/observatoire": f"sqlite:///{warehouse_db}",
        "/opt/observatoire-cds": str(REPO),
        "/srv/observatoire": str(campaign.root),
    }, tmp, pids)
    (tmp / "walkthrough.sh").write_text(script)
    # Nothing of this test's own Prefect settings leaks in: the README's profile decides.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
    env.update({"PREFECT_HOME": str(tmp / "prefect-home"), "PREFECT_LOGGING_LEVEL": "INFO",
                "PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_WORKER_PREFETCH_SECONDS": "1",
                "OBSERVATOIRE_WAREHOUSE_URL": f"sqlite:///{tmp / 'ne-pas-utiliser.db'}"})
    started = time.monotonic()
    try:
        walk = subprocess.run(["bash", str(tmp / "walkthrough.sh")], env=env, capture_output=True, text=True,
                              timeout=300, stdin=subprocess.DEVNULL)
        assert walk.returncode == 0, (f"{walk.stdout[-3000:]}\n{walk.stderr[-3000:]}\n--- server\n"
                                      + (tmp / "server.log").read_text(errors="replace")[-3000:])
        deployed_at = dt.datetime.now(dt.timezone.utc)
        ui_settings = httpx.get(f"{ui_url}/ui-settings", timeout=10).json()
        with temporary_settings({PREFECT_API_URL: api_url}):
            from prefect.client.orchestration import get_client

            with get_client(sync_client=True) as client:
                deployments = {d.name: d for d in client.read_deployments()}
                ids = {name: deployments[name].id for name in SCHEDULES}
                # the scheduler's loop for new deployments runs every 5 s, the full pass every 60 s
                deadline = time.monotonic() + 150
                while not all((scheduled := scheduled_runs(client, ids)).values()) and time.monotonic() < deadline:
                    time.sleep(2)
            yield {
                "tmp": tmp, "campaign": campaign, "ui_url": ui_url, "api_url": api_url, "ui_settings": ui_settings,
                "deployments": deployments, "scheduled": scheduled, "deployed_at": deployed_at,
                "scheduled_after": time.monotonic() - started, "warehouse_db": warehouse_db,
            }
    finally:
        _kill_started(pids)


@pytest.fixture(scope="module")
def deployed_run(deployed):
    """Three custom runs on the deployment: without the layout's calendar, with it, and
    with a calendar typed in the form that does not exist."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    tmp, warehouse_db = deployed["tmp"], deployed["warehouse_db"]
    defaults = deployed["deployments"]["consolidation-annuelle"].parameters["params"]

    def custom_run(**change):
        # the UI's "Custom run": the form shows the deployment's values, a person changes some
        return run_deployment("consolidation-campagne/consolidation-annuelle",
                              parameters={"params": {**defaults, "year": 2024, "regions": ["84"], **change}},
                              timeout=240)

    started = time.monotonic()
    with temporary_settings({PREFECT_API_URL: deployed["api_url"]}):
        without_calendar = custom_run()
        assert without_calendar.state.is_completed(), (
            f"{without_calendar.state}\n--- worker\n{(tmp / 'worker.log').read_text(errors='replace')[-4000:]}")
        statuses_without = warehouse_statuses(warehouse_db)
        found = run_artifacts(without_calendar.id)
        (deployed["campaign"].root / "calendrier" / "calendrier-2024.csv").write_text(CALENDAR, encoding="utf-8")
        with_calendar = custom_run()
        statuses_with = warehouse_statuses(warehouse_db)
        typo = tmp / "calendrier-2O24.csv"
        wrong_calendar = custom_run(calendar=str(typo))
        runs = [without_calendar.id, with_calendar.id, wrong_calendar.id]
        with get_client(sync_client=True) as client:
            limits = {limit.name: limit for limit in client.read_global_concurrency_limits()}
            logs = []
            while page := client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=runs)),
                                           limit=200, offset=len(logs)):  # the API's maximum page
                logs += page
    return {
        **deployed, "flow_run": without_calendar, "artifacts": found, "statuses_without": statuses_without,
        "with_calendar": with_calendar, "statuses_with": statuses_with, "wrong_calendar": wrong_calendar,
        "typo": typo, "limits": limits, "logs": [(str(log.flow_run_id), log.message) for log in logs],
        "seconds": time.monotonic() - started,
    }


def test_the_ui_calls_the_api_of_the_port_it_is_served_on(deployed):
    assert deployed["ui_settings"]["api_url"] == deployed["api_url"]


def test_the_scheduler_creates_the_runs_of_both_deployments(deployed):
    """Read from the flow runs the server's scheduler created (state Scheduled)."""
    scheduled, now = deployed["scheduled"], deployed["deployed_at"]
    for name, (month, day) in SCHEDULES.items():
        runs = sorted(scheduled[name], key=lambda run: run.expected_start_time)
        assert runs, f"aucune exécution planifiée pour {name} ({deployed['scheduled_after']:.0f} s)"
        first = next_paris(month, day, now)
        starts = [run.expected_start_time.astimezone(PARIS) for run in runs]
        assert starts == [first.replace(year=first.year + i) for i in range(len(runs))]
        assert all((s.hour, s.minute, s.tzname()) == (6, 0, "CET") for s in starts)
        assert all(run.state.is_scheduled() and run.auto_scheduled for run in runs)
        assert runs[0].parameters["params"]["year"] is None  # the year is decided when the run starts


def test_custom_run_from_the_deployment_loads_the_warehouse(deployed_run):
    flow_run = deployed_run["flow_run"]
    assert flow_run.name == "campagne-2024-r84"
    # the URL came from the Secret block, not from OBSERVATOIRE_WAREHOUSE_URL
    assert deployed_run["statuses_without"] == EXPECTED_STATUSES
    assert not (deployed_run["tmp"] / "ne-pas-utiliser.db").exists()
    messages = [message for run_id, message in deployed_run["logs"] if run_id == str(flow_run.id)]
    assert any("bad.xlsx : illisible" in message for message in messages)
    assert any("export.csv : 2 envoi(s), 1 valide(s)" in message for message in messages)


def test_the_layout_calendar_is_used_when_it_exists(deployed_run):
    calendar = str(deployed_run["tmp"] / "data" / "calendrier" / "calendrier-{annee}.csv")
    for deployment in deployed_run["deployments"].values():
        assert deployment.parameters["params"]["calendar"] == calendar
    # absent: the default deadline, and the run says so
    first = str(deployed_run["flow_run"].id)
    assert any(run_id == first and message.startswith("Pas de calendrier ") and "calendrier-2024.csv" in message
               for run_id, message in deployed_run["logs"])
    # present: centre D's extension counts
    assert deployed_run["with_calendar"].state.is_completed()
    assert deployed_run["statuses_with"] == STATUSES_WITH_CALENDAR


def test_a_calendar_typed_in_the_form_must_exist(deployed_run):
    state = deployed_run["wrong_calendar"].state
    assert state.is_failed()
    assert f"Calendrier introuvable : {deployed_run['typo']} (« Calendrier »" in state.message
    assert deployed_run["statuses_with"] == STATUSES_WITH_CALENDAR  # what the previous run loaded


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
    assert set(deployments) == set(SCHEDULES)
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


def _screenshot_module():
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
    return screenshot


@pytest.mark.parametrize("page", ["run", "upcoming"])
def test_screenshot(deployed_run, page):
    _screenshot_module()
    if page == "run":
        url = f"{deployed_run['ui_url']}/runs/flow-run/{deployed_run['flow_run'].id}"
    else:
        deployment = deployed_run["deployments"]["consolidation-annuelle"]
        url = f"{deployed_run['ui_url']}/deployments/deployment/{deployment.id}?tab=Upcoming"
    output = deployed_run["tmp"] / f"{page}.png"
    completed = subprocess.run([sys.executable, str(REPO / "deploy" / "screenshot.py"), url, str(output)],
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    data = output.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # a blank page compresses to far less
    if keep := os.environ.get("OBSERVATOIRE_SCREENSHOT"):
        keep = Path(keep)
        shutil.copy(output, keep.with_name(f"{keep.stem}-{page}{keep.suffix}") if page != "run" else keep)


def test_readme_steps_set_the_api_address_before_the_server_starts():
    """The order that makes any port work (the UI reads the API address at start-up)."""
    commands = readme_commands(README.read_text("utf-8"))
    position = {name: next(i for i, c in enumerate(commands) if re.match(pattern, c)) for name, pattern in {
        "config": r"prefect config set .*PREFECT_API_URL=", "server": r"prefect server start",
        "wait": r"prefect server status --wait", "pool": r"prefect work-pool create", "deploy": r"prefect .*deploy ",
        "worker": r"prefect worker start"}.items()}
    assert list(position) == sorted(position, key=position.get)
