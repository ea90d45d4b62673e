"""The one live trainer: every training page draws its settings, controls, live view, results
and run comparison with `trainer(...)`, configured by a dataset profile (`cnnlib.profiles`),
as ConvNetJS's demos are configuration blocks over one shared script.

Page-specific panels plug in: `live_panels` are drawn as tabs in the live view (the CIFAR-10
page's layer view and test stream), `after_results(run, snapshot)` under a finished run's
results (the MNIST page's comparison with the lecture). A finished run's misread test images
can be explained one at a time (`_explain_pick`). The run itself is `cnnlib.runs`'; the
settings widgets are `_trainer_settings`'; charts are `cnnlib.figures`'.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from cnnlib import figures, figures_live
from cnnlib.datasets import display_names
from cnnlib.i18n import _, ngettext
from cnnlib.library import record_to_bytes
from cnnlib.metrics import misclassified
from cnnlib.profiles import DatasetProfile
from cnnlib.runs import Run, duration_text, epoch_columns, start_run
from cnnlib.training.state import JobState
from views import _share, _state
from views._explain_pick import explain_picked, mistake_choices
from views._session_guard import guard_job
from views._trainer_network import snapshot_upload
from views._trainer_settings import Choice, choose

LIVE_REFRESH_S = 1.0  # seconds between redraws of a running job
MISTAKES_SHOWN = 16

Panel = Callable[[Run, dict], None]


def trainer(
    page: str,
    profile: DatasetProfile,
    dataset,
    live_panels: dict[str, Panel] | None = None,
    after_results: Panel | None = None,
) -> None:
    """Settings, controls, the live view of this page's run and the comparison of its runs."""
    state = _state.trainer(page)
    run = state.run
    active = run is not None and run.state.active
    _share.apply_trainer_link(page, profile, dataset)
    note = _share.note_slot()
    choice = choose(page, profile, dataset, state, run if active else None)
    if profile.live_view:
        snapshot_upload(page, profile, state)
    _controls(page, profile, dataset, state, choice)
    _share.trainer_link(page, profile, choice, note)
    if state.run is None:
        st.info(_("Choose a network and settings, then press **Start training**."))
    else:
        _live(page, state, live_panels or {}, after_results)
    _comparison(page, state)


def _controls(page, profile, dataset, state, choice: Choice) -> None:
    run = state.run
    run_state = run.state if run is not None else None
    active = bool(run_state and run_state.active)
    snapshot = state.snapshot
    start, pause, stop, clear, save = st.columns(5)
    label = _("Change network (restart)") if active else _("Start training")
    if start.button(
        label,
        type="primary",
        icon=":material/play_arrow:",
        key=f"{page}_start",
        disabled=bool(choice.problem) and snapshot is None,
        width="stretch",
    ):
        if _start(page, profile, dataset, state, choice):
            st.rerun()
    paused = run_state == JobState.PAUSED
    if pause.button(
        _("Resume") if paused else _("Pause"),
        key=f"{page}_pause",
        icon=":material/play_arrow:" if paused else ":material/pause:",
        disabled=run_state not in (JobState.RUNNING, JobState.PAUSED, JobState.QUEUED),
        width="stretch",
    ):
        run.job.resume() if paused else run.job.pause()
        st.rerun()
    if stop.button(
        _("Stop"),
        key=f"{page}_stop",
        icon=":material/stop:",
        disabled=not active,
        width="stretch",
    ):
        run.job.stop()
        st.rerun()
    if clear.button(_("Clear graph"), key=f"{page}_clear", disabled=run is None, width="stretch"):
        run.job.clear_batch_history()
    has_model = run is not None and (run.job.model or run.kept_model)
    if has_model and run_state in (JobState.PAUSED, JobState.FINISHED):
        save.download_button(
            _("Save snapshot"),
            data=lambda: record_to_bytes(run.record()),
            file_name=f"{run.name}.keras".replace(" ", "_"),
            mime="application/zip",
            key=f"{page}_save_snapshot",
            icon=":material/download:",
            width="stretch",
            on_click="ignore",
        )


def _start(page, profile, dataset, state, choice: Choice) -> bool:
    """Retire this page's run and start a new one; False, with the reason shown, if it can't."""
    snapshot = state.snapshot
    initial = snapshot["record"].model if snapshot is not None else None
    try:
        settings = choice.settings()
        run = start_run(
            profile,
            dataset,
            None if initial is not None else choice.network,
            settings,
            name=choice.name,
            label=_("run {number}: {name}").format(
                number=len(state.runs) + 1 + (state.run is not None), name=choice.name
            ),
            train_images=choice.train_images,
            architecture=choice.architecture,
            lecture_accuracy=choice.lecture_accuracy,
            initial_model=initial,
            probe_interval=LIVE_REFRESH_S if profile.live_view else None,
        )
    except ValueError as error:
        st.error(_("Cannot start: {error}").format(error=error))
        return False
    if initial is not None:
        snapshot["record"].model = None  # the run trains that model from here on
        state.snapshot = None
        run.network = snapshot["record"].network
    retire(state)
    state.run = run
    guard_job(run.job)
    return True


def retire(state) -> None:
    """Stop the page's current run and keep its curves for the comparison of runs."""
    run = state.run
    if run is None:
        return
    run.job.stop()
    run.job.wait(timeout=30)
    state.runs.append(run.summary())
    run.release()
    state.run = None


def _live(page, state, live_panels, after_results) -> None:
    active = state.run.state.active

    @st.fragment(run_every=LIVE_REFRESH_S if active else None)
    def view() -> None:
        run = state.run
        if run is None:
            return
        snap = run.snapshot()
        if active and JobState(snap["state"]).ended:
            # Redraw the whole page once, so that app.py keeps the model and the buttons
            # and this view stop refreshing.
            st.rerun()
        st.subheader(_("Run: {name}").format(name=run.name))
        progress(snap)
        _statistics(snap)
        st.plotly_chart(
            figures.training_curves(
                snap["batch_history"],
                epoch_columns(snap["epoch_history"]),
                steps_per_epoch=snap["batches_per_epoch"],
                changes=snap["changes"],
            ),
            key=f"{page}_chart_live_curves",
        )
        if snap["epoch_history"]:
            st.dataframe(_translated_columns(epoch_columns(snap["epoch_history"])), hide_index=True)
        if snap["state"] == JobState.FAILED:
            st.error(snap["error"] or _("Training failed."))
        tabs = dict(live_panels)
        if snap.get("test"):
            tabs[_("Results on the test set")] = _results
        if not tabs:
            return
        for tab, panel in zip(st.tabs(list(tabs)), tabs.values(), strict=True):
            with tab:
                panel(run, snap)
        if snap.get("test") and after_results is not None:
            after_results(run, snap)
        if run.kept_as:
            st.success(
                _("Kept in this session as {name}: save it in the Models panel.").format(
                    name=repr(run.kept_as)
                )
            )

    view()


def progress(snap: dict, prefix: str = "") -> None:
    """One progress bar with what the job is doing, the time left and its speed."""
    state, epoch, epochs = snap["state"], snap["epoch"], snap["epochs"]
    position = snap.get("queue_position")
    words = {
        JobState.QUEUED: _("Waiting for a free training slot (number {position} in line)").format(
            position=position
        )
        if position
        else _("Waiting for a free training slot"),
        JobState.RUNNING: _("Epoch {epoch} of {epochs}, batch {batch} of {batches}").format(
            epoch=epoch, epochs=epochs, batch=snap["batch"], batches=snap["batches_per_epoch"]
        ),
        JobState.PAUSED: _("Paused in epoch {epoch} of {epochs}").format(
            epoch=epoch, epochs=epochs
        ),
        JobState.STOPPING: _("Stopping: measuring the test accuracy of the weights so far"),
        JobState.FINISHED: _("Finished (stopped early)")
        if snap["stopped_early"]
        else _("Finished"),
        JobState.FAILED: _("Failed"),
    }
    eta = (
        " · " + _("{duration} left").format(duration=duration_text(snap["eta_s"]))
        if snap["eta_s"]
        else ""
    )
    speed = (
        " · " + _("{rate} images/s").format(rate=f"{snap['samples_per_s']:,.0f}")
        if snap["samples_per_s"]
        else ""
    )
    text = f"{prefix}{words[JobState(state)]}{eta}{speed} · {snap['precision']}"
    st.progress(float(snap["progress"]), text=text)


def _statistics(snap: dict) -> None:
    """ConvNetJS's statistics panel: the latest moving averages and epoch figures."""
    history, epochs = snap["batch_history"], snap["epoch_history"]
    ms = snap["timing"].get("forward_backward_ms_per_example")
    val = [e["val_accuracy"] for e in epochs if e.get("val_accuracy") is not None]
    test = [e["test_accuracy"] for e in epochs if e.get("test_accuracy") is not None]
    speed = snap.get("samples_per_s")
    cells = st.columns(4)
    cells[0].metric(_("Forward + backward / example"), "—" if ms is None else f"{ms:.3f} ms")
    cells[1].metric(_("Classification loss"), _last(history.get("loss_smooth"), "{:.3f}"))
    cells[2].metric(_("Weight-decay loss"), f"{snap['weight_decay_loss']:.4f}")
    cells[3].metric(_("Training accuracy"), _last(history.get("accuracy_smooth"), "{:.1%}"))
    cells = st.columns(4)
    cells[0].metric(_("Validation accuracy"), f"{val[-1]:.1%}" if val else _("after epoch 1"))
    cells[1].metric(_("Test accuracy (full set)"), f"{test[-1]:.1%}" if test else "—")
    cells[2].metric(_("Examples seen"), f"{snap['examples_seen']:,}")
    cells[3].metric(_("Images / s"), "—" if not speed else f"{speed:,.0f}")


def _translated_columns(columns: dict[str, list]) -> dict[str, list]:
    """A table's columns under their names in the current language."""
    return {_(name): values for name, values in columns.items()}


def _last(values, template: str) -> str:
    return template.format(values[-1]) if values else "—"


def _results(run: Run, snap: dict) -> None:
    """Test accuracy, confusion matrix, per-class accuracy and the most confident mistakes."""
    test = snap["test"]
    names = display_names(test["class_names"])
    data = run.data
    st.markdown(
        _("**Test accuracy {accuracy}** on {count} test images").format(
            accuracy=f"{test['accuracy']:.2%}", count=f"{len(data.y_test):,}"
        )
    )
    left, right = st.columns(2)
    left.markdown(_("**Confusion matrix** (rows: true class, columns: predicted)"))
    left.plotly_chart(
        figures.confusion_matrix_figure(test["confusion"], names), key="chart_confusion"
    )
    right.markdown(_("**Accuracy per class**"))
    right.plotly_chart(
        figures.per_class_accuracy_figure(
            test["per_class_accuracy"], names, overall=test["accuracy"]
        ),
        key="chart_per_class",
    )
    probabilities = run.job.test_probabilities
    if probabilities is None or len(probabilities) != len(data.y_test):
        return
    mistakes = misclassified(probabilities, data.y_test, k=MISTAKES_SHOWN)
    if not mistakes:
        st.success(_("The model reads every test image correctly."))
        return
    wrong = int((probabilities.argmax(axis=1) != data.y_test).sum())
    st.markdown(
        ngettext(
            "**Misread test images**: the {shown} most confident of {count} mistake, with the "
            "model's top three answers",
            "**Misread test images**: the {shown} most confident of {count} mistakes, with the "
            "model's top three answers",
            wrong,
        ).format(shown=len(mistakes), count=f"{wrong:,}")
    )
    # Pictures keep English class names where the server has no font with Hangul.
    drawn = names if figures_live.can_draw(*names) else test["class_names"]
    if drawn is not names:
        st.caption(_(figures_live.NO_HANGUL_FONT))
    items = [figures_live.stream_item(data, probabilities, m["index"], drawn) for m in mistakes]
    st.image(figures_live.prediction_strip(items, columns=4))
    model = run.job.model if run.job.model is not None else run.kept_model
    if run.state.ended and model is not None:
        # Asked once the weights stop changing, so the answer explains the figures above.
        explain_picked(
            _("Why did it read one of them wrongly?"),
            {run.name: model},
            data.x_test,
            mistake_choices(mistakes, names),
            names,
            key=f"trainer_mistake_{id(run)}",
        )


def _comparison(page: str, state) -> None:
    """This session's runs of this page on one chart, with their settings and live changes."""
    runs = list(state.runs)
    if state.run is not None and state.run.state.ended:
        runs.append(state.run.summary())
    if len(runs) < 2:
        return
    import pandas as pd

    st.subheader(_("Your runs compared"))
    loss, accuracy = figures.runs_overlay(runs)
    left, right = st.columns(2)
    left.plotly_chart(loss, key=f"{page}_chart_runs_loss")
    right.plotly_chart(accuracy, key=f"{page}_chart_runs_accuracy")
    table = pd.DataFrame([run["row"] for run in runs]).rename(columns=_)
    st.dataframe(table, hide_index=True, width="stretch")
