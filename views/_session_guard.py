"""Stops a browser session's training job when that session goes away.

A training job runs in its own thread, so closing the tab does not end it: without this guard
the job would train on for nobody, holding a core and its model's memory. A page calls
`guard_job(job)` after it starts a job (calling it again on later runs is harmless). One
watcher thread per server then asks Streamlit's runtime, every `POLL_S` seconds, whether the
job's session still has a live connection; once it has had none for `GRACE_S` seconds the
job's `stop()` is called. The grace period lets a session that lost its connection for a
moment (a network blip, a laptop waking up) reconnect and keep its run.

Why polling `Runtime.is_active_session` rather than a session-scoped `st.cache_resource` with
`on_release`: Streamlit calls `on_release` on every disconnect, including ones the session
recovers from, so a grace period and a liveness check are needed anyway, and the check alone
covers both cases. Under `AppTest` there is no real server and the guard does nothing.

The watcher keeps only a weak reference to each job: it never keeps a finished job, its
model or its session alive. It forgets a job that has ended by itself (a `state` of
"finished" or "failed") and exits when it has nothing left to watch.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from streamlit import runtime
from streamlit.logger import get_logger
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from cnnlib.training.state import JobState

# How often the watcher looks at the sessions, in seconds.
POLL_S = 1.0
# How long a session may stay without a connection before its job is stopped, in seconds.
GRACE_S = 5.0


@dataclass
class _Watch:
    job_ref: Callable[[], Any]  # returns the job, or None once it has been collected
    session_id: str
    server: Any  # the Streamlit Runtime, or anything with is_active_session(session_id)
    gone_since: float | None = field(default=None)  # monotonic time the connection was lost


# Streamlit's logger writes to the server's log at its configured level.
_log = get_logger(__name__)
_lock = threading.Lock()
_watches: dict[int, _Watch] = {}  # id(job) -> what to watch
_watcher: threading.Thread | None = None


def _reference(job: Any) -> Callable[[], Any]:
    try:
        return weakref.ref(job)
    except TypeError:
        # Objects without weak-reference support (slotted classes) are held strongly; the
        # watch is dropped as soon as the job has been stopped.
        return lambda: job


def guard_job(job: Any) -> bool:
    """Stop `job` (anything with a `stop()` method) when the current session goes away.

    Call it from a page script after the job exists. Returns True when the job is watched,
    False when there is no live server session to watch (under `AppTest`, or outside a
    script run), in which case nothing happens.
    """
    if not callable(getattr(job, "stop", None)):
        raise ValueError("guard_job needs an object with a stop() method, such as a TrainingJob.")
    context = get_script_run_ctx()
    if context is None or not runtime.exists():
        return False
    server = runtime.get_instance()
    # AppTest stands a mock in for the runtime while a script runs: there is no connection
    # to watch there.
    if type(server) is not Runtime:
        return False
    with _lock:
        watch = _watches.get(id(job))
        if watch is None or watch.job_ref() is not job:
            _watches[id(job)] = _Watch(_reference(job), context.session_id, server)
        _start_watcher()
    return True


def watched_count() -> int:
    """How many jobs are being watched now (for tests and diagnostics)."""
    with _lock:
        return len(_watches)


def _start_watcher() -> None:
    """Start the watcher thread unless it runs already; call with `_lock` held."""
    global _watcher
    if _watcher is not None and _watcher.is_alive():
        return
    _watcher = threading.Thread(target=_watch_loop, name="cnnlab-session-guard", daemon=True)
    _watcher.start()


def _watch_loop() -> None:
    global _watcher
    while True:
        time.sleep(POLL_S)
        with _lock:
            if not _watches:
                _watcher = None
                return
            to_stop = check_watches(_watches, time.monotonic())
        # Stopping happens outside the lock: a job's stop() may wait for its thread.
        for job in to_stop:
            _log.info("Stopping a training job: its session has been gone for %.0f s", GRACE_S)
            try:
                job.stop()
            except Exception:
                # One failing job must not end the watcher; the server log says what failed.
                _log.exception("Could not stop the training job of a closed session")


def check_watches(watches: dict[int, _Watch], now: float, grace_s: float | None = None) -> list:
    """Update `watches` in place at time `now`; return the jobs whose session has gone.

    A watch is dropped when its job has been collected, has ended by itself, or is returned
    for stopping. Kept
    separate from the thread so that the rule can be tested with a clock of its own.
    """
    grace_s = GRACE_S if grace_s is None else grace_s
    to_stop = []
    for key, watch in list(watches.items()):
        job = watch.job_ref()
        state = getattr(job, "state", None)
        if job is None or (state is not None and JobState(state).ended):
            del watches[key]
            continue
        if watch.server.is_active_session(watch.session_id):
            watch.gone_since = None
            continue
        if watch.gone_since is None:
            watch.gone_since = now
        if now - watch.gone_since >= grace_s:
            del watches[key]
            to_stop.append(job)
    return to_stop
