"""The Ray engine: each training job runs as a Ray actor on whichever node of a Ray cluster has
room for it, steered from the web server through a proxy with `TrainingJob`'s API.

- `RaySettings`: what each job asks Ray for (`num_cpus`, `num_gpus`, memory) and the limits
  of what comes back, from the `CNNLAB_RAY_*` environment variables.
- `RayEngine`: connects to Ray (`CNNLAB_RAY_ADDRESS`), makes jobs, shares each dataset
  through the object store once, and keeps the order of the jobs Ray has not placed yet: the
  queue position a student sees.
- `RayJob`: the proxy a page holds. Its controls are actor calls, confirmed by the worker once
  the job runs and replayed in order when it starts; `snapshot()` asks the worker at most
  every `poll_s` seconds and answers from its copy in between, with the live probe's
  pictures sent only when new and only up to `max_probe_mb`; the finished model (config and
  weights) and its test probabilities come back once, up to `max_result_mb`. A worker that
  dies makes the job failed, with Ray's reason.
- The actor: a `TrainingJob` in a Ray worker process, on a scheduler of its own, so that the
  training itself is exactly the in-process engine's.

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

    # The environment variable behind each setting.
    VARIABLES = {
        "num_cpus": "CNNLAB_RAY_CPUS",
        "num_gpus": "CNNLAB_RAY_GPUS",
        "memory_mb": "CNNLAB_RAY_MEMORY_MB",
        "poll_s": "CNNLAB_RAY_POLL_S",
        "max_result_mb": "CNNLAB_RAY_MAX_RESULT_MB",
        "max_probe_mb": "CNNLAB_RAY_MAX_PROBE_MB",
    }

    def __post_init__(self) -> None:
        for field, variable in self.VARIABLES.items():
            value = getattr(self, field)
            low = 0.0 if field in ("num_gpus", "memory_mb") else 1e-9
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
    """A `TrainingJob` in a Ray worker; made into a Ray actor class by `_actor_class`."""

    def __init__(self, model_factory, data, settings, name, probe, probe_interval, initial, limits):
        threads = max(1, int(limits["threads"]))
        try:
            import tensorflow as tf

            # TensorFlow would use every core of the node; the job reserved `threads`.
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(min(2, threads))
        except (ImportError, RuntimeError):
            pass
        from cnnlib.scheduler import JobScheduler
        from cnnlib.training.job import TrainingJob

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


class RayEngine:
    """Training jobs as Ray actors on the cluster at `address` (`local` starts one in this
    process, `auto` joins the one running on this machine, `ray://host:10001` a remote one;
    None uses a Ray this process has already started)."""

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
        self._waiting: list[RayJob] = []
        self._running = 0
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

    def _queued(self, job: RayJob) -> None:
        with self._lock:
            self._waiting.append(job)

    def _placed(self, job: RayJob) -> None:
        with self._lock:
            if job in self._waiting:
                self._waiting.remove(job)
                self._running += 1

    def _ended(self, job: RayJob, was_running: bool) -> None:
        with self._lock:
            if job in self._waiting:
                self._waiting.remove(job)
            elif was_running:
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
            limits = {
                "threads": max(1, int(self._engine.settings.num_cpus)),
                "max_probe_bytes": int(self._engine.settings.max_probe_mb * MB),
                "max_result_bytes": int(self._engine.settings.max_result_mb * MB),
            }
            arguments = self._arguments
            self._actor = (
                _actor_class(ray)
                .options(**self._engine.settings.actor_options())
                .remote(
                    arguments["model_factory"],
                    self._engine.share(ray, arguments["data"]),
                    self.settings,
                    self.name,
                    arguments["probe"],
                    arguments["probe_interval"],
                    arguments["initial"],
                    limits,
                )
            )
        except Exception:
            with self._control_lock:
                self._started = False
            raise
        self._ray = ray
        self._arguments = None
        self._engine._queued(self)
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
            elif self._actor is not None:
                # Not placed yet: nothing has trained, so the actor is simply cancelled.
                self._ray.kill(self._actor)
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
        """Stop the job and drop its model and results here; the worker ends with the job."""
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

    def _watch(self) -> None:
        ray, actor = self._ray, self._actor
        placed = False
        try:
            try:
                worker = ray.get(actor.ready.remote())
            except Exception as error:  # noqa: BLE001 - cancelled, or the worker failed
                self._end_unplaced(error)
                return
            with self._control_lock:
                if self._stop_requested:
                    self._end_unplaced(None)
                    return
                for method, arguments in self._pending:
                    ray.get(actor.control.remote(method, *arguments))
                self._pending.clear()
                ray.get(actor.control.remote("start"))
                self._worker = worker
                self._local = None
                self._engine._placed(self)
                placed = self._placed = True
            ray.get(actor.wait.options(concurrency_group="wait").remote(None))
            self._collect()
        except Exception as error:  # noqa: BLE001 - the worker died, or Ray went away
            self._fail(error)
        finally:
            self._engine._ended(self, placed)
            try:
                ray.kill(actor)
            except Exception:  # noqa: BLE001 - already gone
                pass
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
