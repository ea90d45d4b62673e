"""Two users at once: each browser session trains and keeps its own models, closing one tab
leaves the other alone, and the job of a session that went away is stopped.

Each user is a browser context of its own, so a Streamlit session of its own. Moving between
pages goes through the sidebar (`navigate`): loading a URL would open a new session.
"""

from __future__ import annotations

from harness import (
    navigate,
    no_exception,
    open_page,
    plotly_points,
    screenshot,
    start_mnist_run,
    wait_for_points,
)

# Written to the server's log by views/_session_guard.py when it stops a job.
GUARD_STOPPED = "Stopping a training job: its session has been gone"


def _main_text(page) -> str:
    # text_content, unlike inner_text, includes the tabs that are not shown.
    return page.locator('[data-testid="stMain"]').text_content()


def _options(page, label: str) -> list[str]:
    """The options of the select box or multiselect labelled `label` (they exist only while
    its list is open)."""
    box = page.locator('[data-testid="stMultiSelect"], [data-testid="stSelectbox"]').filter(
        has_text=label
    )
    box.locator('[role="combobox"], input').first.click()
    listbox = page.get_by_role("option")
    listbox.first.wait_for()
    texts = listbox.all_inner_texts()
    page.keyboard.press("Escape")
    return texts


def test_two_sessions_training_at_once_keep_only_their_own_models(two_sessions):
    alice, bob = two_sessions
    for page in (alice, bob):
        open_page(page, "/mnist")
    start_mnist_run(alice, "alice-net")
    start_mnist_run(bob, "bob-net")
    for page, name in ((alice, "alice-net"), (bob, "bob-net")):
        page.get_by_text(f"Kept in this session as '{name}'").wait_for(timeout=300_000)
    screenshot(alice, "sessions-alice-mnist")
    screenshot(bob, "sessions-bob-mnist")

    for page, mine, theirs in ((alice, "alice-net", "bob-net"), (bob, "bob-net", "alice-net")):
        no_exception(page)
        text = _main_text(page)
        assert mine in text and theirs not in text, f"{mine}'s MNIST page shows {theirs}"
        # The models of a session are shared by its pages, and only by them.
        navigate(page, "Ensembles")
        no_exception(page)
        # The session's own models are offered as such. Without logins the model library is
        # one shared folder (finished models are saved there at once), so it may list both.
        mine_here = [o for o in _options(page, "Members") if o.endswith(", session)")]
        options = " | ".join(mine_here)
        assert mine in options and theirs not in options, f"{mine}'s ensemble offers {options}"
    screenshot(alice, "sessions-alice-ensemble")


def test_closing_a_tab_stops_its_job_and_spares_the_other_session(two_sessions, streamlit_server):
    leaving, staying = two_sessions
    for page in (leaving, staying):
        open_page(page, "/mnist")
    start_mnist_run(leaving, "leaving-net", long_run=True)
    start_mnist_run(staying, "staying-net", long_run=True)
    stops_before = streamlit_server.log_count(GUARD_STOPPED)

    leaving.context.close()
    # The guard waits out its grace period (5 s) for a reconnect, then stops the job.
    assert streamlit_server.wait_for_log(GUARD_STOPPED, timeout_s=60, count=stops_before + 1)

    # The other session trains on, and its chart keeps growing with no refresh.
    seen = wait_for_points(staying, 0)
    wait_for_points(staying, seen)
    no_exception(staying)
    screenshot(staying, "sessions-staying-after-other-closed")
    staying.get_by_role("button", name="Stop").click()
    staying.get_by_role("button", name="Start training").and_(staying.locator(":enabled")).wait_for(
        timeout=60_000
    )
    assert plotly_points(staying) > 0
    # Only the closed session's job was stopped by the guard; this one by its Stop button.
    assert streamlit_server.log_count(GUARD_STOPPED) == stops_before + 1
