"""Training engines: what runs the training jobs that pages start.

An engine makes jobs with `TrainingJob`'s API (the controls `start`, `pause`, `resume`, `stop`,
`set_learning_rate`, `set_momentum`, `set_weight_decay`, `set_batch_size`,
`clear_batch_history`, `wait`, `release`; `state`, `model`, `test_probabilities` and a
plain-data `snapshot()`), so that `cnnlib.runs` and the pages never know which one runs them:

- `InProcessEngine`, the default: a `TrainingJob` thread in the web server's own process,
  queued on the process-wide scheduler (`CNNLAB_MAX_JOBS`). Nothing to install or start.
- `RayEngine` (`cnnlib.engines.ray_jobs`): each job in a Ray actor somewhere on a Ray
  cluster, queued by Ray's scheduler; an actor stays warm a while for the next job.
  `CNNLAB_RAY_ADDRESS` chooses it (`local`, `auto` or `ray://host:10001`); `ray` is
  installed from `requirements-ray.txt`.

`default_engine()` is this process's engine, chosen once from the environment. Ray is imported
only when it is chosen. Streamlit is not imported here.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol

# The environment variable that selects the Ray engine and names the cluster.
RAY_ADDRESS_VARIABLE = "CNNLAB_RAY_ADDRESS"


class Engine(Protocol):
    """What `cnnlib.runs` asks of an engine."""

    kind: str  # "in-process" or "ray"

    def make_job(
        self,
        model_factory: Callable[[str], Any] | None,
        data: Any,
        settings: Any = None,
        *,
        name: str = "",
        probe: Callable[[Any, dict], Any] | None = None,
        probe_interval: float = 1.0,
        initial_model: Any = None,
        scheduler: Any = None,
    ) -> Any:
        """A job, not yet started, with `TrainingJob`'s arguments and API; raises ValueError
        with what to change when the data, model or settings do not fit."""
        ...

    def status(self) -> dict:
        """Plain data on the engine: its kind and how many jobs run and wait."""
        ...


class InProcessEngine:
    """Today's engine: `TrainingJob` threads in this process, on `scheduler` (default: the
    process-wide one, `cnnlib.scheduler.default_scheduler`)."""

    kind = "in-process"

    def __init__(self, scheduler: Any = None) -> None:
        self.scheduler = scheduler

    def make_job(
        self,
        model_factory,
        data,
        settings=None,
        *,
        name="",
        probe=None,
        probe_interval=1.0,
        initial_model=None,
        scheduler=None,
    ):
        from cnnlib.training.job import TrainingJob

        return TrainingJob(
            model_factory,
            data,
            settings,
            name=name,
            probe=probe,
            probe_interval=probe_interval,
            initial_model=initial_model,
            scheduler=scheduler or self.scheduler,
        )

    def status(self) -> dict:
        from cnnlib.scheduler import default_scheduler

        return {"kind": self.kind, **(self.scheduler or default_scheduler).counts()}


def engine_from_env(environ: Mapping[str, str] | None = None) -> Engine:
    """The in-process engine, or the Ray engine when CNNLAB_RAY_ADDRESS names a cluster."""
    environ = os.environ if environ is None else environ
    address = environ.get(RAY_ADDRESS_VARIABLE, "").strip()
    if not address:
        return InProcessEngine()
    from cnnlib.engines.ray_jobs import RayEngine, RaySettings

    return RayEngine(address, RaySettings.from_env(environ))


_lock = threading.Lock()
_default: Engine | None = None


def default_engine() -> Engine:
    """This process's engine, chosen from the environment the first time it is asked for."""
    global _default
    with _lock:
        if _default is None:
            _default = engine_from_env()
        return _default


def set_default_engine(engine: Engine | None) -> Engine | None:
    """Make `engine` this process's engine (None: choose again from the environment next
    time); returns the one it replaces. For tests and benchmarks."""
    global _default
    with _lock:
        previous, _default = _default, engine
        return previous
