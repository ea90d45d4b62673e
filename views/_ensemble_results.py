"""What an evaluated ensemble measured: the accuracy table and charts, the k-member curve,
the images averaging fixes and breaks, disagreement, per-class accuracy and the lecture's
train-versus-test pitfall, with any fixed or broken image explained by a member on request.
The numbers are `cnnlib.ensemble`'s, the charts `cnnlib.figures_ensemble`'s."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from cnnlib import ensemble, figures_ensemble
from views import _state
from views._datasets import page_dataset
from views._explain_pick import explain_picked
from views._explorer_text import escape_markdown

MAX_IMAGES_SHOWN = 16


def show_result(bundle: dict) -> None:
    """Every table, chart and explanation of one evaluated ensemble."""
    result = bundle["result"]
    best_name = result.member_names[result.best_member]
    best = result.member_test_accuracy[result.best_member]
    average = result.combiner_test_accuracy[ensemble.AVERAGE]
    top = max(result.combiner_test_accuracy, key=result.combiner_test_accuracy.get)
    columns = st.columns(3)
    columns[0].metric("Best member", f"{best:.2%}", help=escape_markdown(best_name), border=True)
    columns[1].metric(
        "Average of probabilities",
        f"{average:.2%}",
        delta=f"{(average - best) * 100:+.2f} points vs best member",
        border=True,
    )
    # The short name in the label, which a third of the page can hold; the full one on hover.
    columns[2].metric(
        f"Best combiner: {top}",
        f"{result.combiner_test_accuracy[top]:.2%}",
        help=ensemble.COMBINER_LABELS[top],
        border=True,
    )
    for note in bundle["notes"]:
        st.info(escape_markdown(note), icon=":material/info:")

    st.subheader("Members and combiners on the test set")
    table = pd.DataFrame(ensemble.accuracy_table(result))
    for column in ("test accuracy", "validation accuracy"):
        table[column] = table[column].astype(float) * 100
    percent = st.column_config.NumberColumn(format="%.2f%%")
    longest = max(len(str(name)) for name in table["model"])
    st.dataframe(
        table,
        hide_index=True,
        placeholder="",
        column_config={
            # As wide as the longest model name, so that none is cut off.
            "model": st.column_config.TextColumn(width=int(6.8 * longest + 24)),
            "test accuracy": percent,
            "validation accuracy": percent,
            "weight": st.column_config.NumberColumn(format="%.4f"),
        },
    )
    st.plotly_chart(figures_ensemble.accuracy_bars(result))
    if result.weights is not None:
        stacking = ""
        if result.stacking_regularization is not None:
            stacking = (
                " The stacking meta-classifier, a logistic regression on the members' "
                "log-probabilities, is fitted on those images too (its regularisation "
                f"C = {result.stacking_regularization:g} chosen by cross-validation among them); "
                "the test set only scores it."
            )
        st.caption(
            f"Weights and stacking use {bundle['validation_images']:,} validation images that "
            "no member trained on; the weights are the members' validation accuracies, scaled "
            f"to sum to one.{stacking}"
        )

    st.subheader("Adding members one by one")
    st.plotly_chart(figures_ensemble.accuracy_curve(result))
    st.caption(
        "Most of the gain comes from the first few members: each new one can only fix "
        "mistakes that the others have not already outvoted."
    )

    _rescued_and_lost(bundle, best_name)

    st.subheader("How often the members disagree")
    st.plotly_chart(figures_ensemble.disagreement_heatmap(result))
    matrix = np.asarray(result.disagreement)
    pairs = matrix[np.triu_indices(len(matrix), k=1)]
    st.markdown(
        f"On average two members label **{pairs.mean():.2%}** of the test images differently. "
        "An ensemble can only help where its members disagree: members that make the same "
        "mistakes outvote nothing. Diverse members (other seeds, other architectures, other "
        "data) make different mistakes, and averaging lets the right majority win."
    )

    st.subheader("Per-class accuracy")
    st.plotly_chart(figures_ensemble.per_class_bars(result))

    st.subheader("The lecture's pitfall: which images to score on")
    if result.train_vs_test is None:
        st.caption("No training images shared by all members; the comparison is not shown.")
        return
    st.plotly_chart(figures_ensemble.train_vs_test_bars(result))
    train, test = result.train_vs_test[ensemble.COMBINER_LABELS[ensemble.AVERAGE]]
    st.markdown(
        "The lecture's code measures the ensemble on `X_train`, images the members learned "
        f"from (here a sample of {bundle['train_images']:,}), beside the test set."
    )
    st.markdown(ensemble.pitfall_lesson(train, test, bundle["dataset"]))


def _rescued_and_lost(bundle: dict, best_name: str) -> None:
    result = bundle["result"]
    dataset = page_dataset(bundle["dataset"])
    names = result.class_names
    best = result.predictions[best_name]
    average = result.predictions[ensemble.AVERAGE]
    st.subheader("What averaging fixes, and what it breaks")
    st.caption(
        f"Under each test image: what the best member ({escape_markdown(best_name)}) said, "
        "then what the average of probabilities said; green is right, red is wrong."
    )
    left, right = st.columns(2)
    for column, indices, title in (
        (left, result.rescued, "Right by the ensemble, wrong by the best member"),
        (right, result.lost, "Right by the best member, wrong by the ensemble"),
    ):
        column.markdown(f"**{title}: {len(indices)}**")
        if not indices:
            column.caption("None.")
            continue
        shown = indices[:MAX_IMAGES_SHOWN]
        labels = [
            [
                (f"best: {names[best[i]]}", best[i] == dataset.y_test[i]),
                (f"ens.: {names[average[i]]}", average[i] == dataset.y_test[i]),
            ]
            for i in shown
        ]
        grid = figures_ensemble.labelled_grid([dataset.x_test[i] for i in shown], labels, columns=5)
        column.image(grid)
        if len(indices) > len(shown):
            column.caption(f"The first {len(shown)} of {len(indices)}.")
    choices = {}
    for indices, what in ((result.rescued, "fixed"), (result.lost, "broken")):
        for i in indices[:MAX_IMAGES_SHOWN]:
            choices[int(i)] = (
                f"Test image {i} ({what}): a {names[dataset.y_test[i]]}; best member "
                f"{names[best[i]]}, ensemble {names[average[i]]}"
            )
    explain_picked(
        "Ask a member why it read one of these images as it did",
        # The best member first: it is the one the pictures compare the ensemble with.
        _member_models([best_name, *(n for n in result.member_names if n != best_name)]),
        dataset.x_test,
        choices,
        names,
        key="ensemble_explain",
    )


def _member_models(names: list[str]) -> dict:
    """The members' Keras models that are still in memory, by member name."""
    records = {**_state.ensemble().loaded, **st.session_state[_state.MODELS]}
    return {
        name: records[name].model
        for name in names
        if name in records and records[name].model is not None
    }
