"""What does a flow run of this project wait for that it need not? Two places where
Prefect 3.8's engine makes `observatoire run` with a server slower, for nothing the user
of the server sees, changed here for this project's flows:

- Heartbeats. While a flow runs, a thread of the engine sends the server a heartbeat
  event (at once, then every PREFECT_FLOWS_HEARTBEAT_FREQUENCY seconds), by which the
  server tells a crashed run from a long one. Prefect's thread sleeps in one-second steps
  and the end of every flow run joins it: up to one more second (half a second on
  average) after the run's final state is recorded. `send_heartbeats` sends the same
  heartbeats, and none after the final state either, from a thread that stops as soon as
  it is told; `install()` makes the engine use it.
- Parameters. To record the flow run, `Flow.serialize_parameters` turns each parameter
  into JSON with FastAPI's `jsonable_encoder`, and importing FastAPI costs the command's
  process 0.3 to 0.5 s. A parameter that is a pydantic model (CampaignParameters) dumps
  itself to the same JSON: `ModelParametersFlow` does so, and leaves any other parameter
  to Prefect.
"""
from __future__ import annotations

import contextvars
import inspect
import threading
from contextlib import contextmanager

import prefect.flow_engine
from prefect.flows import Flow
from prefect.states import State
from pydantic import BaseModel

# Prefect's own, kept to see that what is replaced is what was read (prefect 3.8)
PREFECT_SEND_HEARTBEATS = getattr(prefect.flow_engine, "_send_heartbeats", None)


@contextmanager
def send_heartbeats(engine, join_on_exit: bool = True):
    """Prefect's `flow_engine._send_heartbeats`, the same heartbeats, but the thread waits
    on the stop event instead of sleeping second by second, so that leaving this context
    (the flow run is over) does not wait for it."""
    heartbeat_seconds = engine.heartbeat_seconds
    if heartbeat_seconds is None:  # PREFECT_FLOWS_HEARTBEAT_FREQUENCY unset: no heartbeat
        yield
        return
    heartbeat_seconds = max(heartbeat_seconds, prefect.flow_engine.MINIMUM_HEARTBEAT_INTERVAL)
    resource, related = engine._build_heartbeat_event_template()
    stop = threading.Event()

    def heartbeat_loop() -> None:
        while not stop.is_set():
            flow_run = engine.flow_run
            if flow_run and flow_run.state and flow_run.state.is_final():
                return
            try:
                engine._emit_flow_run_heartbeat(resource, related)
            except Exception:
                engine.logger.debug("Failed to emit heartbeat", exc_info=True)
            stop.wait(heartbeat_seconds)

    # the caller's context: the thread must see the same settings (PREFECT_API_URL) as
    # the flow run, as in Prefect's
    thread = threading.Thread(target=contextvars.copy_context().run, args=(heartbeat_loop,), daemon=True,
                              name="flow-run-heartbeats")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        if join_on_exit:
            thread.join(timeout=2)


def _replaceable() -> bool:
    """Prefect's function is the one this module was written against: same parameters.
    Another Prefect version may do otherwise; it is then left alone."""
    if PREFECT_SEND_HEARTBEATS is None:
        return False
    original = inspect.unwrap(PREFECT_SEND_HEARTBEATS)
    return list(inspect.signature(original).parameters) == ["engine", "join_on_exit"] \
        and all(hasattr(prefect.flow_engine.BaseFlowRunEngine, name) for name in (
            "heartbeat_seconds", "_build_heartbeat_event_template", "_emit_flow_run_heartbeat"))


def install() -> bool:
    """The engine's flow runs send their heartbeats with `send_heartbeats` (all flow runs
    of this process: the engine has one function for them). False when this Prefect's
    engine is not the one this module knows, left as it is."""
    if prefect.flow_engine._send_heartbeats is send_heartbeats:
        return True
    if not _replaceable():
        return False
    prefect.flow_engine._send_heartbeats = send_heartbeats
    return True


class ModelParametersFlow(Flow):
    """A flow whose pydantic-model parameters are recorded as the model's own JSON dump,
    what FastAPI's encoder gives for them (by alias), without importing FastAPI."""

    def serialize_parameters(self, parameters):
        own = {key: value.model_dump(mode="json", by_alias=True) for key, value in parameters.items()
               if _dumps_itself(value)}
        others = super().serialize_parameters({key: value for key, value in parameters.items() if key not in own})
        return {key: own[key] if key in own else others[key] for key in parameters if key in own or key in others}


def _dumps_itself(value) -> bool:
    # a State is a pydantic model too, which Prefect records as "<State>"
    return isinstance(value, BaseModel) and not isinstance(value, State)


def flow(**options):
    """`prefect.flow(**options)` for a function whose parameters are pydantic models."""
    def decorate(function):
        return ModelParametersFlow(fn=function, **options)

    return decorate
