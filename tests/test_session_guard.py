"""The session guard's rule (stop a job once its session has had no connection for the grace
period) on a clock of the test's own, and its refusal to act outside a real server.

The real thing, a closed browser tab stopping its training job, is tested with Chromium in
tests/browser/test_sessions.py.
"""

from __future__ import annotations

import gc
import textwrap
import weakref

import pytest
from streamlit.testing.v1 import AppTest

from views import _session_guard
from views._session_guard import _Watch, check_watches, guard_job


class Connections:
    """Which session ids have a live connection, as Streamlit's runtime would answer."""

    def __init__(self, *active: str) -> None:
        self.active = set(active)

    def is_active_session(self, session_id: str) -> bool:
        return session_id in self.active


class Job:
    def __init__(self) -> None:
        self.stops = 0
        self.state = "running"

    def stop(self) -> None:
        self.stops += 1


def _watch(job, session_id, connections):
    return _Watch(weakref.ref(job), session_id, connections)


def test_job_of_a_connected_session_runs_on():
    job, connections = Job(), Connections("a")
    watches = {1: _watch(job, "a", connections)}
    for second in range(60):
        assert check_watches(watches, float(second), grace_s=5.0) == []
    assert list(watches) == [1]


def test_job_stops_once_its_session_has_been_gone_for_the_grace_period():
    mine, theirs = Job(), Job()
    connections = Connections("mine", "theirs")
    watches = {1: _watch(mine, "mine", connections), 2: _watch(theirs, "theirs", connections)}
    assert check_watches(watches, 0.0, grace_s=5.0) == []
    connections.active.discard("mine")  # the tab closes
    assert check_watches(watches, 1.0, grace_s=5.0) == []
    assert check_watches(watches, 5.9, grace_s=5.0) == []
    assert check_watches(watches, 6.0, grace_s=5.0) == [mine]
    # The other session's job is untouched and still watched; the stopped one is not.
    assert list(watches) == [2]
    assert check_watches(watches, 60.0, grace_s=5.0) == []


def test_reconnecting_within_the_grace_period_keeps_the_job():
    job, connections = Job(), Connections()
    watches = {1: _watch(job, "a", connections)}
    assert check_watches(watches, 0.0, grace_s=5.0) == []
    connections.active.add("a")
    assert check_watches(watches, 4.0, grace_s=5.0) == []
    connections.active.discard("a")
    # The clock starts again from the second loss, not from the first.
    assert check_watches(watches, 8.0, grace_s=5.0) == []
    assert check_watches(watches, 12.0, grace_s=5.0) == []
    assert check_watches(watches, 13.0, grace_s=5.0) == [job]


def test_a_collected_job_is_forgotten_without_being_kept_alive():
    job = Job()
    watches = {1: _watch(job, "a", Connections())}
    del job
    gc.collect()
    assert check_watches(watches, 100.0, grace_s=5.0) == []
    assert watches == {}


def test_a_job_that_ended_by_itself_is_forgotten_not_stopped():
    finished, failed, running = Job(), Job(), Job()
    finished.state, failed.state = "finished", "failed"
    connections = Connections()
    jobs = [finished, failed, running]
    watches = {i: _watch(job, "gone", connections) for i, job in enumerate(jobs)}
    assert check_watches(watches, 0.0, grace_s=5.0) == []
    assert list(watches) == [2]
    assert check_watches(watches, 5.0, grace_s=5.0) == [running]


def test_guard_refuses_an_object_that_cannot_be_stopped():
    with pytest.raises(ValueError, match="stop"):
        guard_job(object())


def test_guard_does_nothing_outside_a_script_run():
    assert guard_job(Job()) is False
    assert _session_guard.watched_count() == 0


def test_guard_does_nothing_under_apptest(tmp_path):
    # AppTest runs scripts without a server: there is no connection to watch.
    script = tmp_path / "page.py"
    script.write_text(
        textwrap.dedent(
            """
            import streamlit as st
            from views._session_guard import guard_job

            class Job:
                def stop(self):
                    pass

            st.session_state.job = Job()
            st.write(f"guarded={guard_job(st.session_state.job)}")
            """
        )
    )
    at = AppTest.from_file(str(script)).run()
    assert not at.exception
    assert at.markdown[0].value == "guarded=False"
    assert _session_guard.watched_count() == 0
