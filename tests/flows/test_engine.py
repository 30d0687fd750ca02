"""flows/engine.py: a flow run of this project records the same parameters and sends the
same heartbeats as Prefect's engine would, without FastAPI's import nor the wait for a
heartbeat thread asleep."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import types

import pytest

from tests.conftest import REPO


def test_parameters_are_recorded_as_fastapi_encodes_them_without_importing_it(tmp_path):
    from fastapi.encoders import jsonable_encoder

    from flows.parameters import CampaignParameters

    fields = dict(year=2024, regions=["84", "11"], submissions="envois/{annee}", finess=["a.csv", "b.json.gz"],
                  calendar=None, warehouse_url="sqlite:///w.db", output_dir="rapports/{annee}",
                  force=["centres-perdus"])
    code = ("import json, sys; from flows.campaign import consolidate_campaign; "
            "from flows.parameters import CampaignParameters; "
            "params = CampaignParameters(**json.loads(sys.argv[1])); "
            "recorded = consolidate_campaign.serialize_parameters({'params': params}); "
            "print(json.dumps([recorded, 'fastapi' in sys.modules]))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    done = subprocess.run([sys.executable, "-c", code, json.dumps(fields)], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    recorded, fastapi_imported = json.loads(done.stdout.strip().splitlines()[-1])
    assert recorded == {"params": jsonable_encoder(CampaignParameters(**fields))}
    assert not fastapi_imported


def test_parameters_that_are_not_models_are_left_to_prefect():
    from flows.engine import ModelParametersFlow
    from flows.parameters import CampaignParameters

    def f(params: CampaignParameters, n: int, when: object = None):
        return n

    params = CampaignParameters(year=2023)
    recorded = ModelParametersFlow(fn=f, name="f").serialize_parameters(
        {"params": params, "n": 3, "when": {1, 2}})
    assert recorded == {"params": params.model_dump(mode="json"), "n": 3, "when": [1, 2]}


@pytest.mark.slow
def test_a_flow_run_sends_its_heartbeat_and_does_not_wait_for_its_thread_asleep(prefect_harness, monkeypatch):
    """The heartbeat thread asleep between two heartbeats (here a sleep that lasts until
    the test ends): the end of the flow run still stops it, and the heartbeat was sent."""
    import prefect.flow_engine
    from prefect import flow

    from flows import engine

    assert engine.install()
    released = threading.Event()
    asleep = types.SimpleNamespace(**{name: getattr(time, name) for name in dir(time) if not name.startswith("__")})
    asleep.sleep = lambda seconds: released.wait()  # until the test ends
    monkeypatch.setattr(prefect.flow_engine, "time", asleep)
    sent, senders = [], []

    def emit_event(event, resource, related=None, **kwargs):
        sent.append((event, resource["prefect.resource.id"]))
        senders.append(threading.current_thread())

    monkeypatch.setattr(prefect.flow_engine, "emit_event", emit_event)

    @flow
    def short() -> int:
        for _ in range(1200):  # the heartbeat thread sends its first one when it starts
            if sent:
                break
            released.wait(0.05)
        return 1

    try:
        state = short(return_state=True)
        assert state.is_completed()
        assert sent == [("prefect.flow-run.heartbeat", f"prefect.flow-run.{state.state_details.flow_run_id}")]
        assert not senders[0].is_alive()  # stopped when the flow run ended, asleep or not
    finally:
        released.set()
