"""The Ray engine: each training job runs in a Ray actor on whichever node of a Ray cluster has
room for it, steered from the web server through a proxy with `TrainingJob`'s API.

- `RaySettings`: what each job asks Ray for (`num_cpus`, `num_gpus`, memory), the limits of
  what comes back, and how long an idle worker is kept, from the `CNNLAB_RAY_*` environment
  variables.
- `RayEngine`: connects to Ray (`CNNLAB_RAY_ADDRESS`), makes jobs, shares each dataset
  through the object store once, keeps the order of the jobs still waiting for a worker (the
  queue position a student sees), and keeps a pool of warm workers: a job goes to an idle
  worker when there is one, else to a new actor that waits in Ray's queue until the cluster
  has room. A worker whose job ends takes the first waiting job (a new actor still in Ray's
  queue is then cancelled, since the idle worker holds the cores it waits for); with no job
  waiting it stays idle for `CNNLAB_RAY_IDLE_S` seconds (default 60) and is then ended, so
  that the cluster's cores are not held for ever.
- `RayJob`: the proxy a page holds. Its controls are actor calls, confirmed by the worker once
  the job runs and replayed in order when it starts; `snapshot()` asks the worker at most
  every `poll_s` seconds and answers from its copy in between, with the live probe's
  pictures sent only when new and only up to `max_probe_mb`; the finished model (config and
  weights) and its test probabilities come back once, up to `max_result_mb`. A worker that
  dies makes its job failed, with Ray's reason, and leaves the pool.
- The actor: a Ray worker process that imports TensorFlow once and trains one `TrainingJob`
  at a time on a fresh model, on a scheduler of its own, so that the training itself is
  exactly the in-process engine's; Keras's session is cleared between jobs, and each job
  seeds its own random generators.

A paused job keeps its place on the cluster (Ray holds an actor's resources while it lives),
unlike the in-process engine, which gives a paused job's slot to the next one. This module
imports without Ray; the actor class is made when Ray is first used.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cnnlib.training.settings import (
    check_batch_size,
    check_learning_rate,
    check_momentum,
    check_weight_decay,
)
from cnnlib.training.state import JobState

MB = 2**20
# Controls a page may send to a worker, by the `TrainingJob` method they call there.
CONTROLS = (
    "start",
    "pause",
    "resume",
    "stop",
    "set_learning_rate",
    "set_momentum",
    "set_weight_decay",
    "set_batch_size",
    "clear_batch_history",
)
# Datasets kept in the object store at once: a page's dataset is shared by every run on it,
# while subsets are made per run.
SHARED_DATASETS = 4


@dataclass
class RaySettings:
    """What each job asks of Ray, and limits on what it sends back."""

    num_cpus: float = 1.0  # CPU cores Ray reserves per job; TensorFlow uses as many threads
    num_gpus: float = 0.0  # GPUs per job: 1 places each job on a GPU worker
    memory_mb: int = 0  # memory Ray reserves per job, in MB; 0 reserves none
    poll_s: float = 0.25  # shortest time between two snapshot requests to a worker
    max_result_mb: float = 512.0  # largest finished model (weights + test probabilities)
    max_probe_mb: float = 8.0  # largest set of live-view pictures in one snapshot
    control_timeout_s: float = 30.0  # how long a control waits for the worker to confirm
    idle_s: float = 60.0  # how long a worker without a job keeps its cores for the next one

    # The environment variable behind each setting.
    VARIABLES = {
        "num_cpus": "CNNLAB_RAY_CPUS",
        "num_gpus": "CNNLAB_RAY_GPUS",
        "memory_mb": "CNNLAB_RAY_MEMORY_MB",
        "poll_s": "CNNLAB_RAY_POLL_S",
        "max_result_mb": "CNNLAB_RAY_MAX_RESULT_MB",
        "max_probe_mb": "CNNLAB_RAY_MAX_PROBE_MB",
        "idle_s": "CNNLAB_RAY_IDLE_S",
    }

    def __post_init__(self) -> None:
        for field, variable in self.VARIABLES.items():
            value = getattr(self, field)
            low = 0.0 if field in ("num_gpus", "memory_mb", "idle_s") else 1e-9
            if isinstance(value, bool) or not isinstance(value, int | float):
                value = math.nan
            if not (math.isfinite(value) and value >= low):
                raise ValueError(
                    f"{field} ({variable}) must be a number of at least {low:g}; got "
                    f"{getattr(self, field)!r}."
                )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RaySettings:
        """The settings named by `CNNLAB_RAY_*`, each left at its default when unset."""
        environ = os.environ if environ is None else environ
        values: dict[str, float] = {}
        for field, variable in cls.VARIABLES.items():
            text = environ.get(variable, "").strip()
            if not text:
                continue
            try:
                values[field] = float(text)
            except ValueError:
                raise ValueError(
                    f"{variable} must be a number, such as {getattr(cls, field):g}; got {text!r}."
                ) from None
        return cls(**values)

    def actor_options(self) -> dict:
        """The resources of one job's actor, as `ActorClass.options` takes them."""
        options: dict[str, Any] = {"num_cpus": self.num_cpus, "num_gpus": self.num_gpus}
        if self.memory_mb:
            options["memory"] = int(self.memory_mb * MB)
        return options


def plain_size(value: Any) -> int:
    """Bytes a piece of plain data (arrays, numbers, text, lists, dicts) takes, roughly."""
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, str | bytes):
        return len(value)
    if isinstance(value, Mapping):
        return sum(plain_size(key) + plain_size(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return sum(plain_size(item) for item in value)
    return 8


def model_payload(model: Any) -> dict:
    """A Keras model as plain data: its config (JSON) and its weights (NumPy arrays)."""
    return {"config": model.to_json(), "weights": [np.asarray(w) for w in model.get_weights()]}


def model_from_payload(payload: dict) -> Any:
    """The Keras model `model_payload` described, with its weights."""
    import keras

    model = keras.models.model_from_json(payload["config"])
    model.set_weights(payload["weights"])
    return model


def failure_reason(error: BaseException) -> str:
    """The lines of a Ray error that say why, without actor ids and tracebacks."""
    text = str(error)
    lines = [
        line.strip()
        for line in text.splitlines()
        if line.strip()
        and not line.startswith(("\t", " "))
        and "actor died unexpectedly" not in line
    ]
    if getattr(error, "actor_init_failed", False) or "Traceback" in text:
        lines = lines[-1:]
    reason = " ".join(lines[:2]) or type(error).__name__
    return reason if len(reason) <= 400 else reason[:399] + "…"


class _JobActor:
    """A Ray worker that trains one `TrainingJob` at a time, on a scheduler of its own, with
    TensorFlow imported once for all the jobs it trains; made into a Ray actor class by
    `_actor_class`."""

    def __init__(self, threads: int) -> None:
        threads = max(1, int(threads))
        try:
            import tensorflow as tf

            # TensorFlow would use every core of the node; each job reserved `threads`.
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(min(2, threads))
        except (ImportError, RuntimeError):
            pass
        self.job: Any = None
        self.limits: dict = {}

    def begin(self, model_factory, data, settings, name, probe, probe_interval, initial, limits):
        """Take a new job (not yet started) on a fresh model; the last one must have ended."""
        import keras

        from cnnlib.scheduler import JobScheduler
        from cnnlib.training.job import TrainingJob

        if self.job is not None and not self.job.wait(0):
            raise RuntimeError("This worker is still training a job.")
        # Nothing of the last job (its graph, layer names, random state) reaches this one; the
        # job seeds every random generator itself when it starts.
        self.job = None
        keras.backend.clear_session()
        self.limits = limits
        self.job = TrainingJob(
            model_factory,
            data,
            settings,
            name=name,
            probe=probe,
            probe_interval=probe_interval,
            initial_model=None if initial is None else model_from_payload(initial),
            scheduler=JobScheduler(1),
        )
        self.probe_seen: Any = None
        self.probe_version = 0
        self.probe_note: str | None = None

    def finish(self) -> None:
        """Forget the ended job, its model and data, so that an idle worker holds no memory
        of it."""
        import gc

        import keras

        self.job = None
        self.probe_seen = None
        keras.backend.clear_session()
        gc.collect()

    def ready(self) -> dict:
        """Where the job runs: process id, node and GPUs (as TensorFlow sees them)."""
        import ray
        import tensorflow as tf

        return {
            "pid": os.getpid(),
            "node": ray.get_runtime_context().get_node_id(),
            "gpus": [device.name for device in tf.config.list_physical_devices("GPU")],
        }

    def control(self, method: str, *arguments: Any) -> None:
        if method not in CONTROLS:
            raise ValueError(f"{method!r} is not a control of a training job.")
        getattr(self.job, method)(*arguments)

    def snapshot(self, probe_version: int) -> tuple[dict, int, Any]:
        """(the snapshot without its probe, the probe's version, the probe): the probe is
        sent only when its version differs from `probe_version`, the one the proxy holds,
        and only within the size limit; otherwise it is None."""
        snap = self.job.snapshot()
        probe = snap.pop("probe")
        if probe is not self.probe_seen:
            self.probe_seen = probe
            self.probe_version += 1
            size = plain_size(probe)
            limit = self.limits["max_probe_bytes"]
            self.probe_note = (
                None
                if size <= limit
                else f"The live view's pictures take {size / MB:.1f} MB, more than the "
                f"{limit / MB:g} MB a snapshot may carry (CNNLAB_RAY_MAX_PROBE_MB); they are "
                "not shown."
            )
        if self.probe_note is not None:
            snap["probe_error"] = self.probe_note
            probe = None
        if probe_version == self.probe_version:
            probe = None
        return snap, self.probe_version, probe

    def wait(self, timeout: float | None = None) -> bool:
        return self.job.wait(timeout)

    def result(self, with_probabilities: bool = True) -> dict | None:
        """The model's config and weights (and the test probabilities), or {"error": ...}
        when they are larger than the limit; None when there is no model."""
        model = self.job.model
        if model is None:
            return None
        payload = model_payload(model)
        probabilities = self.job.test_probabilities if with_probabilities else None
        size = sum(w.nbytes for w in payload["weights"]) + plain_size(probabilities)
        limit = self.limits["max_result_bytes"]
        if size > limit:
            return {
                "error": f"The trained model takes {size / MB:.1f} MB, more than the "
                f"{limit / MB:g} MB the cluster may send back (CNNLAB_RAY_MAX_RESULT_MB). "
                "Raise that limit, or train a smaller network."
            }
        payload["test_probabilities"] = probabilities
        return payload

    def inspect(self, function: Any) -> Any:
        """`function(model)` on the worker's live model: a look at the optimizer or weights."""
        return function(self.job.model)

    def cpu_seconds(self) -> float:
        """CPU time the worker process has used so far."""
        return time.process_time()


_actor_classes: list[Any] = []


def _actor_class(ray: Any) -> Any:
    """`_JobActor` as a Ray actor class, made once. Calls run one at a time, in order, except
    `wait`, which the proxy sends to a thread of its own ("wait") so that snapshots and
    controls are answered while it blocks."""
    if not _actor_classes:
        _actor_classes.append(ray.remote(concurrency_groups={"wait": 1})(_JobActor))
    return _actor_classes[0]


class _Host:
    """One `_JobActor` of an engine: starting (in Ray's queue), training a job, or idle."""

    def __init__(self, actor: Any) -> None:
        self.actor = actor
        self.worker: dict | None = None  # pid, node and GPUs, once the worker runs
        self.cancelled = False  # killed by the engine while in Ray's queue
        self.idle_since: float | None = None  # time.monotonic() when it went idle


class RayEngine:
    """Training jobs on Ray actors on the cluster at `address` (`local` starts one in this
    process, `auto` joins the one running on this machine, `ray://host:10001` a remote one;
    None uses a Ray this process has already started).

    The engine keeps its workers (`_JobActor`s) warm: a job goes to an idle worker when there
    is one, else to a new one that waits in Ray's queue. A worker whose job ends goes to the
    first job still waiting for one (and a worker still in Ray's queue is then cancelled, so
    that no more workers are asked for than jobs wait), else it stays idle for `idle_s`
    seconds and is then ended, giving its cores back to the cluster.
    """

    kind = "ray"

    def __init__(
        self,
        address: str | None = None,
        settings: RaySettings | None = None,
        init_options: dict | None = None,
    ) -> None:
        self.address = address
        self.settings = settings or RaySettings.from_env()
        self.init_options = dict(init_options or {})
        self._lock = threading.Lock()
        self._waiting: list[RayJob] = []  # jobs waiting for a worker, first first
        self._starting: list[_Host] = []  # workers asked of Ray, not running yet
        self._idle: list[_Host] = []  # running workers without a job
        self._running = 0
        self._closed = False
        self._datasets: OrderedDict[int, tuple[Any, Any]] = OrderedDict()

    def connect(self) -> Any:
        """Ray, connected to the cluster (once per process); ValueError if it cannot be."""
        try:
            import ray
        except ImportError:
            raise ValueError(
                "CNNLAB_RAY_ADDRESS asks for the Ray engine, but Ray is not installed: "
                "install requirements-ray.txt, or unset CNNLAB_RAY_ADDRESS."
            ) from None
        with self._lock:
            if not ray.is_initialized():
                options = dict(self.init_options)
                if self.address and not self.address.startswith("ray://"):
                    options.setdefault("include_dashboard", False)
                if self.address == "local":
                    # Workers started here import CNN Lab from this checkout, wherever the
                    # server was started from; the private Ray talks over loopback only and
                    # sends no usage statistics anywhere.
                    root = str(Path(__file__).resolve().parents[2])
                    options.setdefault("runtime_env", {"env_vars": {"PYTHONPATH": root}})
                    options.setdefault("_node_ip_address", "127.0.0.1")
                    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
                try:
                    ray.init(address=self.address, **options)
                except Exception as error:  # noqa: BLE001 - Ray raises many kinds
                    raise ValueError(
                        f"Cannot reach the Ray cluster at {self.address!r} "
                        f"({type(error).__name__}: {error}). Check CNNLAB_RAY_ADDRESS."
                    ) from None
        return ray

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
    ) -> RayJob:
        if scheduler is not None:
            raise ValueError(
                "The Ray engine queues jobs on Ray's scheduler; it takes no in-process "
                "scheduler. Unset CNNLAB_RAY_ADDRESS to train in this process."
            )
        return RayJob(
            self,
            model_factory,
            data,
            settings,
            name=name,
            probe=probe,
            probe_interval=probe_interval,
            initial_model=initial_model,
        )

    def status(self) -> dict:
        with self._lock:
            return {
                "kind": self.kind,
                "address": self.address,
                "running": self._running,
                "waiting": len(self._waiting),
                "idle_workers": len(self._idle),
            }

    def check_fits(self, ray: Any) -> None:
        """Refuse a job that asks for more than the whole cluster has: Ray would queue it
        for ever."""
        total = ray.cluster_resources()
        wanted = self.settings.actor_options()
        names = {"num_cpus": ("CPU", 1), "num_gpus": ("GPU", 1), "memory": ("memory", MB)}
        for option, (resource, unit) in names.items():
            have = total.get(resource, 0) / unit
            if wanted.get(option, 0) / unit > have:
                amount = f"{wanted[option] / unit:g} {'MB of ' if unit == MB else ''}{resource}"
                raise ValueError(
                    f"Each training job asks Ray for {amount}, but the cluster has {have:g} in "
                    "all; lower the request (CNNLAB_RAY_CPUS, CNNLAB_RAY_GPUS, "
                    "CNNLAB_RAY_MEMORY_MB) or add workers."
                )

    def share(self, ray: Any, data: Any) -> Any:
        """An object-store reference to `data`, put there once for all the jobs that use it."""
        with self._lock:
            entry = self._datasets.get(id(data))
            if entry is not None and entry[0] is data:
                self._datasets.move_to_end(id(data))
                return entry[1]
        reference = ray.put(data)
        with self._lock:
            self._datasets[id(data)] = (data, reference)
            while len(self._datasets) > SHARED_DATASETS:
                self._datasets.popitem(last=False)
        return reference

    def queue_position(self, job: RayJob) -> int | None:
        with self._lock:
            return self._waiting.index(job) + 1 if job in self._waiting else None

    def close(self) -> None:
        """End the idle workers now, and every other one when its job ends; jobs still
        running or waiting go on."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        self._kill(idle)

    # The pool of workers. Jobs are offered workers by `RayJob._offer`, under the lock.

    def _request(self, ray: Any, job: RayJob, first: bool = False) -> None:
        """Find `job` a worker: an idle one at once, else a new one from Ray's queue (and
        the job waits, `first` in line when its worker failed it)."""
        with self._lock:
            if job._stop_requested:
                job._offer(None)
                return
            if self._idle:
                host = self._idle.pop()
                host.idle_since = None
                job._offer(host)
                return
            if first:
                self._waiting.insert(0, job)
            else:
                self._waiting.append(job)
            options = self.settings.actor_options()
            host = _Host(_actor_class(ray).options(**options).remote(options["num_cpus"]))
            self._starting.append(host)
        threading.Thread(target=self._await_start, args=(ray, host), daemon=True).start()

    def _await_start(self, ray: Any, host: _Host) -> None:
        """Wait until Ray runs a new worker, then give it to a job or keep it idle."""
        try:
            host.worker = ray.get(host.actor.ready.remote())
        except Exception as error:  # noqa: BLE001 - cancelled, or the worker failed to start
            with self._lock:
                if host.cancelled:
                    return
                if host in self._starting:
                    self._starting.remove(host)
                # The first waiting job takes the failure, so that no more workers are
                # asked for than jobs wait; each new job asks anew.
                if self._waiting:
                    self._waiting.pop(0)._offer(None, error)
            return
        self._give(ray, host)

    def _give(self, ray: Any, host: _Host) -> None:
        """A running worker without a job: to the first waiting job, else idle."""
        surplus: list[_Host] = []
        with self._lock:
            if host in self._starting:
                self._starting.remove(host)
            if host.cancelled:
                return
            if self._waiting:
                self._waiting.pop(0)._offer(host)
                surplus = self._balance()
            elif self._closed:
                surplus = [host]
            else:
                host.idle_since = stamp = time.monotonic()
                self._idle.append(host)
                timer = threading.Timer(self.settings.idle_s, self._expire, (host, stamp))
                timer.daemon = True
                timer.start()
        self._kill(surplus)

    def _balance(self) -> list[_Host]:
        """Cancel the workers in Ray's queue that no waiting job needs (under the lock): an
        idle worker holds its cores, so a surplus one could wait for ever."""
        surplus = []
        while len(self._starting) > len(self._waiting):
            host = self._starting.pop()
            host.cancelled = True
            surplus.append(host)
        return surplus

    def _cancel(self, job: RayJob) -> bool:
        """Take a job that has no worker yet out of the line; False if it has one."""
        with self._lock:
            if job not in self._waiting:
                return False
            self._waiting.remove(job)
            surplus = self._balance()
            job._offer(None)
        self._kill(surplus)
        return True

    def _expire(self, host: _Host, stamp: float) -> None:
        with self._lock:
            if host not in self._idle or host.idle_since != stamp:
                return
            self._idle.remove(host)
        self._kill([host])

    def _discard(self, host: _Host) -> None:
        """End a worker that failed or may be unsound; it takes no more jobs."""
        self._kill([host])

    def _kill(self, hosts: list[_Host]) -> None:
        import ray

        for host in hosts:
            try:
                ray.kill(host.actor)
            except Exception:  # noqa: BLE001 - already gone, or Ray went away
                pass

    def _placed(self) -> None:
        with self._lock:
            self._running += 1

    def _ended(self) -> None:
        with self._lock:
            self._running -= 1


class RayJob:
    """A training job running as a Ray actor, with `TrainingJob`'s API.

    Made by `RayEngine.make_job`, which checks the data, model and settings here first (with
    a `TrainingJob` that is never started), so that what does not fit is refused at once.
    """

    def __init__(
        self,
        engine: RayEngine,
        model_factory,
        data,
        settings=None,
        *,
        name="",
        probe=None,
        probe_interval=1.0,
        initial_model=None,
    ) -> None:
        from cnnlib.scheduler import JobScheduler
        from cnnlib.training.job import TrainingJob

        # Checks everything as the in-process engine does; answers snapshots and takes
        # controls until the worker runs the job.
        self._local: TrainingJob | None = TrainingJob(
            model_factory,
            data,
            settings,
            name=name,
            probe=probe,
            probe_interval=probe_interval,
            initial_model=initial_model,
            scheduler=JobScheduler(1),
        )
        self._engine = engine
        self.settings = self._local.settings
        self.name = self._local.name
        self._arguments = {
            "model_factory": model_factory,
            "data": data,
            "probe": probe,
            "probe_interval": float(probe_interval),
            "initial": None if initial_model is None else model_payload(initial_model),
        }
        self._ray: Any = None
        self._actor: Any = None
        self._offered = threading.Event()  # the engine found the job a worker, or none
        self._offer_made: tuple[_Host | None, BaseException | None] = (None, None)
        self._control_lock = threading.Lock()  # orders controls and the job's start
        self._snapshot_lock = threading.Lock()
        self._done = threading.Event()
        self._started = False
        self._placed = False  # the worker runs the job: controls go to it
        self._stop_requested = False
        self._released = False
        self._pending: list[tuple[str, tuple]] = []  # controls sent before the job was placed
        self._snapshot: dict = self._local.snapshot()
        self._polled_at = -math.inf
        self._probe_version = -1
        self._probe: Any = None
        self._worker: dict | None = None
        self._model: Any = None
        self._paused_model: tuple[int, Any] | None = None
        self.test_probabilities: np.ndarray | None = None
        self.polls = 0  # snapshot requests sent to the worker (the page's polling rate)

    # Controls.

    def start(self) -> RayJob:
        """Ask Ray for a worker and return at once; the job waits in Ray's queue until one
        has room."""
        with self._control_lock:
            if self._started:
                raise RuntimeError("This job has already started; make a new job.")
            self._started = True
        try:
            ray = self._engine.connect()
            self._engine.check_fits(ray)
            self._arguments["data"] = self._engine.share(ray, self._arguments["data"])
        except Exception:
            with self._control_lock:
                self._started = False
            raise
        self._ray = ray
        self._engine._request(ray, self)
        threading.Thread(
            target=self._watch, name=f"ray job {self.name}".strip(), daemon=True
        ).start()
        return self

    def pause(self) -> None:
        """Halt between batches; the worker then uses no CPU (but keeps its place)."""
        self._control("pause")

    def resume(self) -> None:
        self._control("resume")

    def stop(self) -> None:
        """End training within one batch; a job still in Ray's queue is taken out of it."""
        with self._control_lock:
            self._stop_requested = True
            if self._placed or self._done.is_set():
                pass
            elif self._ray is not None:
                # Not placed yet: nothing has trained, so the job leaves the line (or, when
                # it has just been given a worker, the watcher gives the worker back).
                self._engine._cancel(self)
                return
            else:
                self._local.stop()
                return
        self._control("stop")

    def set_learning_rate(self, value: float) -> None:
        self._control("set_learning_rate", check_learning_rate(value))

    def set_momentum(self, value: float) -> None:
        self._control("set_momentum", check_momentum(value))

    def set_weight_decay(self, value: float) -> None:
        self._control("set_weight_decay", check_weight_decay(value))

    def set_batch_size(self, value: int) -> None:
        self._control("set_batch_size", check_batch_size(value))

    def clear_batch_history(self) -> None:
        self._control("clear_batch_history")

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has finished or failed and its results are here."""
        return self._done.wait(timeout)

    def release(self) -> None:
        """Stop the job and drop its model and results here; the worker forgets the job and
        takes the next one."""
        self._released = True
        self.stop()
        self._model = None
        self._paused_model = None
        self.test_probabilities = None
        self._probe = None

    def hand_over_model(self) -> None:
        """Forget the trained model here once the job has ended and the session keeps a copy
        of its own; the snapshot and the test results stay."""
        if not self._done.is_set():
            raise RuntimeError("Only an ended job can hand over its model.")
        self._model = None

    def _control(self, method: str, *arguments: Any) -> None:
        with self._control_lock:
            if self._done.is_set():
                return
            if not self._placed:
                # The worker has not started: remember the control, in order, for when it
                # does, and show it in the snapshot at once.
                self._pending.append((method, arguments))
                if self._local is not None:
                    getattr(self._local, method)(*arguments)
                    self._snapshot = self._local.snapshot()
                return
            try:
                self._ray.get(
                    self._actor.control.remote(method, *arguments),
                    timeout=self._engine.settings.control_timeout_s,
                )
            except Exception:  # noqa: BLE001 - a dead worker is reported by the watcher
                return
        # The next snapshot asks the worker, so the change shows at once.
        self._polled_at = -math.inf

    # What a page reads.

    @property
    def state(self) -> JobState:
        return JobState(self.snapshot()["state"])

    @property
    def model(self) -> Any:
        """The trained model once the job has ended; while paused, a copy of its weights so
        far (fetched once per pause); otherwise None."""
        if self._model is not None or self._done.is_set():
            return self._model
        snap = self.snapshot()
        if snap["state"] != JobState.PAUSED or self._released:
            return None
        cached = self._paused_model
        if cached is None or cached[0] != snap["step"]:
            try:
                payload = self._ray.get(
                    self._actor.result.remote(False),
                    timeout=self._engine.settings.control_timeout_s,
                )
            except Exception:  # noqa: BLE001 - a dead worker is reported by the watcher
                return None
            if payload is None or "error" in payload:
                return None
            cached = self._paused_model = (snap["step"], model_from_payload(payload))
        return cached[1]

    def snapshot(self) -> dict:
        """The job's progress as plain data, as `TrainingJob.snapshot()` gives it, plus
        "worker" (pid, node and GPUs of the worker, once placed). Asks the worker at most
        every `poll_s` seconds."""
        with self._snapshot_lock:
            if self._placed and not self._done.is_set():
                now = time.monotonic()
                if now - self._polled_at >= self._engine.settings.poll_s:
                    self._polled_at = now
                    self._poll()
            snap = dict(self._snapshot)
            snap["probe"] = self._probe
            snap["worker"] = self._worker
        if not self._placed and not self._done.is_set():
            snap["queue_position"] = self._engine.queue_position(self)
        return snap

    def _poll(self) -> None:
        try:
            snap, version, probe = self._ray.get(
                self._actor.snapshot.remote(self._probe_version),
                timeout=self._engine.settings.control_timeout_s,
            )
        except Exception:  # noqa: BLE001 - a dead worker is reported by the watcher
            return
        self.polls += 1
        if JobState(snap["state"]).ended:
            # Ended on the worker, but its results are not here yet: the page must not see
            # an ended job without its model.
            snap["state"] = JobState.STOPPING
        self._snapshot = snap
        if version != self._probe_version:
            self._probe, self._probe_version = probe, version

    def cpu_seconds(self) -> float:
        """CPU time used by the worker process so far (0 before it is placed)."""
        if not self._placed or self._done.is_set():
            return 0.0
        return self._ray.get(self._actor.cpu_seconds.remote())

    def inspect_model(self, function: Any) -> Any:
        """`function(model)` run on the worker's live model (the optimizer and weights as
        training sees them); None before the worker builds the model or after the job ended."""
        if not self._placed or self._done.is_set():
            return None
        return self._ray.get(self._actor.inspect.remote(function))

    # The watcher thread: waits for Ray to place the job, then for its end.

    def _offer(self, host: _Host | None, error: BaseException | None = None) -> None:
        """The engine's answer to the job's request: a worker, or none (and why)."""
        self._offer_made = (host, error)
        self._offered.set()

    def _begin_on_worker(self) -> _Host | None:
        """Wait for a worker and hand it the job; None (the job then has ended) when it was
        stopped in the line or no worker could take it."""
        ray = self._ray
        attempts = 0
        while True:
            if attempts:
                self._engine._request(ray, self, first=True)
            self._offered.wait()
            self._offered.clear()
            host, error = self._offer_made
            if host is None:
                self._end_unplaced(error)
                return None
            arguments = self._arguments
            limits = {
                "max_probe_bytes": int(self._engine.settings.max_probe_mb * MB),
                "max_result_bytes": int(self._engine.settings.max_result_mb * MB),
            }
            try:
                ray.get(
                    host.actor.begin.remote(
                        arguments["model_factory"],
                        arguments["data"],
                        self.settings,
                        self.name,
                        arguments["probe"],
                        arguments["probe_interval"],
                        arguments["initial"],
                        limits,
                    )
                )
                return host
            except ray.exceptions.RayActorError as error:
                # The worker died while idle: another one takes the job, first in line.
                self._engine._discard(host)
                attempts += 1
                if attempts >= 3:
                    self._end_unplaced(error)
                    return None
            except Exception as error:  # noqa: BLE001 - the job's own arguments failed there
                self._engine._give(ray, host)
                self._end_unplaced(error)
                return None

    def _watch(self) -> None:
        """The watcher thread: finds the job a worker, starts it there, waits for its end,
        fetches the results and gives the worker back to the engine."""
        ray = self._ray
        host = self._begin_on_worker()
        if host is None:
            self._arguments = None
            self._done.set()
            return
        self._arguments = None
        placed = sound = False
        actor = host.actor
        try:
            with self._control_lock:
                if self._stop_requested:
                    self._end_unplaced(None)
                    sound = True
                    return
                for method, arguments in self._pending:
                    ray.get(actor.control.remote(method, *arguments))
                self._pending.clear()
                ray.get(actor.control.remote("start"))
                self._actor = actor
                self._worker = host.worker
                self._local = None
                self._engine._placed()
                placed = self._placed = True
            ray.get(actor.wait.options(concurrency_group="wait").remote(None))
            self._collect()
            sound = True
        except Exception as error:  # noqa: BLE001 - the worker died, or Ray went away
            self._fail(error)
        finally:
            try:
                if sound:
                    ray.get(actor.finish.remote(), timeout=self._engine.settings.control_timeout_s)
            except Exception:  # noqa: BLE001 - a worker that cannot forget its job is ended
                sound = False
            if sound:
                self._engine._give(ray, host)
            else:
                self._engine._discard(host)
            if placed:
                self._engine._ended()
            self._done.set()

    def _collect(self) -> None:
        """Fetch the final snapshot and, unless released or failed, the model and results."""
        ray, actor = self._ray, self._actor
        snap, version, probe = ray.get(actor.snapshot.remote(-1))
        if snap["state"] == JobState.FINISHED and not self._released:
            result = ray.get(actor.result.remote(True))
            if result is not None and "error" in result:
                snap["state"], snap["error"] = JobState.FAILED, result["error"]
            elif result is not None:
                self.test_probabilities = result["test_probabilities"]
                self._model = model_from_payload(result)
        with self._snapshot_lock:
            self._snapshot = snap
            if not self._released:
                self._probe, self._probe_version = probe, version

    def _end_unplaced(self, error: BaseException | None) -> None:
        """The job ends before any training: stopped while queued, or its worker failed."""
        with self._snapshot_lock:
            snap = dict(self._snapshot)
            snap["queue_position"] = None
            if self._stop_requested:
                snap["state"], snap["stopped_early"] = JobState.FINISHED, True
            else:
                snap["state"] = JobState.FAILED
                snap["error"] = (
                    f"Training failed: the Ray worker for this job could not start "
                    f"({failure_reason(error)}). Start the run again."
                )
            self._snapshot = snap
            self._local = None

    def _fail(self, error: BaseException) -> None:
        with self._snapshot_lock:
            snap = dict(self._snapshot)
            snap["state"] = JobState.FAILED
            snap["error"] = (
                f"Training failed: the Ray worker running this job stopped "
                f"({failure_reason(error)}). Start the run again."
            )
            self._snapshot = snap
