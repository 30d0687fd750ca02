"""A campaign read and validated on a real Dask cluster: a `dask scheduler` and a
`dask worker` process started from their command lines, on free ports, as a deployment
runs them. What crosses the process boundary (the files' frames, the validation) comes
back identical: the warehouse holds exactly what a local run loads."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from datasets.national import cached_national
from flows.parameters import CampaignParameters
from observatoire import pipeline
from tests.support.prefect_server import stop_process_group

pytestmark = pytest.mark.slow  # end to end: `pytest -m "not slow"` leaves it out

DASK = Path(sys.executable).with_name("dask")
RUN_COLUMNS = {"run_id", "loaded_at"}


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    return cached_national(tmp_path_factory.mktemp("national"), n_centres=120, file_multiplier=1, finess_lines=2000)


@contextmanager
def _cluster(tmp_path: Path, worker_env: dict[str, str] | None = None):
    """The address of a scheduler with one worker process (the worker's nanny starts it,
    as a daemonic process: distributed's default, as deployed), and the worker's pid."""
    scheduler_file = tmp_path / "scheduler.json"
    logs = tmp_path / "dask-logs"
    logs.mkdir(parents=True)
    env = {**os.environ, **(worker_env or {})}
    started = []
    try:
        started.append(subprocess.Popen(
            [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0", "--dashboard-address", ":0",
             "--scheduler-file", str(scheduler_file), "--no-show"],
            stdout=open(logs / "scheduler.out", "wb"), stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
            start_new_session=True))
        deadline = time.monotonic() + 120
        while not scheduler_file.exists() or not scheduler_file.read_text().strip():
            assert started[0].poll() is None, (logs / "scheduler.out").read_text()
            assert time.monotonic() < deadline, "the Dask scheduler did not start"
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        started.append(subprocess.Popen(
            [str(DASK), "worker", address, "--nworkers", "1", "--nthreads", "2", "--no-dashboard",
             "--memory-limit", "2GiB", "--local-directory", str(tmp_path / "dask-worker")],
            stdout=open(logs / "worker.out", "wb"), stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
            start_new_session=True))
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(1, timeout=120)
            worker_pids = set(client.run(os.getpid).values())
        yield address, worker_pids
    finally:
        for process in reversed(started):
            stop_process_group(process, timeout=20)


@pytest.fixture
def dask_cluster(tmp_path):
    with _cluster(tmp_path) as cluster:
        yield cluster


def _tables(url: str, year: int) -> dict[str, list]:
    engine = sa.create_engine(url)
    tables = {}
    with engine.connect() as connection:
        for table in ("centre_year_status", "submission", "submission_issue", "file_outcome"):
            rows = connection.execute(sa.text(f"SELECT * FROM {table} WHERE campaign_year = {year}")).mappings()
            tables[table] = sorted(tuple(sorted((k, str(v)) for k, v in row.items() if k not in RUN_COLUMNS))
                                   for row in rows)
    engine.dispose()
    return tables


def test_a_campaign_on_dask_worker_processes_loads_what_a_local_run_loads(campaign, dask_cluster, tmp_path):
    address, worker_pids = dask_cluster
    assert worker_pids and os.getpid() not in worker_pids  # the worker is another process

    def params(db: Path, dask_address: str | None) -> CampaignParameters:
        return CampaignParameters(
            year=campaign.year, submissions=str(campaign.submissions_dir), finess=[str(campaign.extract)],
            calendar=str(campaign.calendar), warehouse_url=f"sqlite:///{db}", dask_address=dask_address)

    on_dask = pipeline.run_campaign(params(tmp_path / "dask.db", address))
    local = pipeline.run_campaign(params(tmp_path / "local.db", None))

    from distributed import Client

    with Client(address, timeout=30) as client:
        prefixes = client.run_on_scheduler(lambda dask_scheduler: sorted(dask_scheduler.task_prefixes))
    assert {"read_in_reader_processes", "validate"} <= set(prefixes)  # the work went to the worker process
    assert on_dask.summary == local.summary
    dask_tables, local_tables = _tables(f"sqlite:///{tmp_path / 'dask.db'}", campaign.year), _tables(
        f"sqlite:///{tmp_path / 'local.db'}", campaign.year)
    assert len(local_tables["file_outcome"]) == campaign.summary["files"]
    for table, rows in local_tables.items():
        assert dask_tables[table] == rows, table


def test_an_unreachable_cluster_is_one_french_line(campaign, tmp_path):
    import socket

    from observatoire.errors import CampaignError

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    params = CampaignParameters(year=campaign.year, submissions=str(campaign.submissions_dir),
                                finess=[str(campaign.extract)], warehouse_url=f"sqlite:///{tmp_path / 'w.db'}",
                                dask_address=f"tcp://127.0.0.1:{port}")
    with pytest.raises(CampaignError, match=f"Cluster Dask injoignable : tcp://127.0.0.1:{port}"):
        pipeline.run_campaign(params)


def test_on_dask_a_file_that_crashes_its_reader_costs_that_file_alone(campaign, tmp_path, monkeypatch):
    """The campaign on the Dask worker, with files beside it whose reader panics, segfaults,
    sleeps for ever or allocates without end (tests/support/fake_readers.py, which the
    worker's reader processes load): the run ends normally, the good files' outcomes and
    the warehouse are what a local run without the bad files gives, each bad file gets
    its reason under the run's limits, and the worker process is the same at the end."""
    import shutil

    root = Path(__file__).resolve().parents[2]
    worker_env = {"OBSERVATOIRE_EXTRA_READERS": "tests.support.fake_readers",
                  "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    dirty = tmp_path / "avec-mauvais"
    shutil.copytree(campaign.submissions_dir, dirty)
    folders = sorted({p.parent for p in dirty.rglob("*.xlsx")})
    bad = {"panique.essai": b"panique", "segfault.essai": b"segfault", "dort.essai": b"dort",
           "alloue.essai": b"alloue"}
    for index, (name, content) in enumerate(bad.items()):  # spread over the folders, among good files
        (folders[index * len(folders) // len(bad)] / name).write_bytes(content)

    def params(folder: Path, db: Path, dask_address: str | None) -> CampaignParameters:
        return CampaignParameters(
            year=campaign.year, submissions=str(folder), finess=[str(campaign.extract)],
            calendar=str(campaign.calendar), warehouse_url=f"sqlite:///{db}", dask_address=dask_address)

    def reader_processes() -> tuple[list[int], int]:  # run in the worker (a nested function travels by value)
        import multiprocessing

        from observatoire.readers import batches

        return ([pool.workers for pool in batches._WORKER_POOLS.values()],
                sum(child.name == "lecteur" for child in multiprocessing.active_children()))

    with _cluster(tmp_path / "grappe", worker_env) as (address, worker_pids):
        # the run's limits, set where the run starts once the worker runs without them (its
        # own would be 30 s and 768 MB): the worker's reader processes read under these
        monkeypatch.setenv("OBSERVATOIRE_READ_SECONDS_PER_FILE", "3")
        monkeypatch.setenv("OBSERVATOIRE_READ_MEMORY_MB", "300")
        on_dask = pipeline.run_campaign(params(dirty, tmp_path / "dask.db", address))
        from distributed import Client

        with Client(address, timeout=30) as client:
            assert set(client.run(os.getpid).values()) == worker_pids  # no worker died
            # it read through reader processes of its own, one per thread (--nthreads 2; a reader
            # that died is replaced when there is work again)
            pools, alive = next(iter(client.run(reader_processes).values()))
            assert pools == [2] and 1 <= alive <= 2
    local = pipeline.run_campaign(params(campaign.submissions_dir, tmp_path / "local.db", None))
    dask_tables, local_tables = _tables(f"sqlite:///{tmp_path / 'dask.db'}", campaign.year), _tables(
        f"sqlite:///{tmp_path / 'local.db'}", campaign.year)
    is_bad = lambda row: dict(row)["source_file"].rsplit("/", 1)[-1] in bad  # noqa: E731
    for table in ("centre_year_status", "submission", "submission_issue", "file_outcome"):
        assert [row for row in dask_tables[table] if not is_bad(row)] == local_tables[table], table
    assert len(dask_tables["file_outcome"]) == len(local_tables["file_outcome"]) + len(bad)
    reasons = {dict(row)["source_file"].rsplit("/", 1)[-1]: dict(row)["reason"]
               for row in dask_tables["file_outcome"] if is_bad(row)}
    assert sorted(reasons) == sorted(bad)
    assert reasons["panique.essai"].startswith("le lecteur de tableur a échoué sur ce fichier (PanicException")
    assert "(signal SIGSEGV)" in reasons["segfault.essai"]
    assert reasons["dort.essai"].startswith("lecture arrêtée au bout de 3 s (limite de temps par fichier)")
    assert "(mémoire épuisée)" in reasons["alloue.essai"] and "300 Mo" in reasons["alloue.essai"]
