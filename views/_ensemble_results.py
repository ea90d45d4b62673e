"""What an evaluated ensemble measured: the accuracy table and charts, the k-member curve,
the images averaging fixes and breaks, disagreement, per-class accuracy and the lecture's
train-versus-test pitfall, with any fixed or broken image explained by a member on request.
The numbers are `cnnlib.ensemble`'s, the charts `cnnlib.figures_ensemble`'s."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from cnnlib import ensemble, figures_ensemble, figures_live
from cnnlib.datasets import display_names
from cnnlib.i18n import _
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
    columns[0].metric(_("Best member"), f"{best:.2%}", help=escape_markdown(best_name), border=True)
    columns[1].metric(
        _("Average of probabilities"),
        f"{average:.2%}",
        delta=_("{points} points vs best member").format(points=f"{(average - best) * 100:+.2f}"),
        border=True,
    )
    # The short name in the label, which a third of the page can hold; the full one on hover.
    columns[2].metric(
        _("Best combiner: {name}").format(name=top),
        f"{result.combiner_test_accuracy[top]:.2%}",
        help=_(ensemble.COMBINER_LABELS[top]),
        border=True,
    )
    for note in bundle["notes"]:
        st.info(escape_markdown(note), icon=":material/info:")

    st.subheader(_("Members and combiners on the test set"))
    table = pd.DataFrame(ensemble.accuracy_table(result))
    for column in ("test accuracy", "validation accuracy"):
        table[column] = table[column].astype(float) * 100
    percent = st.column_config.NumberColumn(format="%.2f%%")
    longest = max(len(str(name)) for name in table["model"])
    st.dataframe(
        table.rename(columns=_),
        hide_index=True,
        placeholder="",
        column_config={
            # As wide as the longest model name, so that none is cut off.
            _("model"): st.column_config.TextColumn(width=int(6.8 * longest + 24)),
            _("test accuracy"): percent,
            _("validation accuracy"): percent,
            _("weight"): st.column_config.NumberColumn(format="%.4f"),
        },
    )
    st.plotly_chart(figures_ensemble.accuracy_bars(result))
    if result.weights is not None:
        stacking = ""
        if result.stacking_regularization is not None:
            stacking = " " + _(
                "The stacking meta-classifier, a logistic regression on the members' "
                "log-probabilities, is fitted on those images too (its regularisation C = {c} "
                "chosen by cross-validation among them); the test set only scores it."
            ).format(c=f"{result.stacking_regularization:g}")
        st.caption(
            _(
                "Weights and stacking use {count} validation images that no member trained on; "
                "the weights are the members' validation accuracies, scaled to sum to one."
            ).format(count=f"{bundle['validation_images']:,}")
            + stacking
        )

    st.subheader(_("Adding members one by one"))
    st.plotly_chart(figures_ensemble.accuracy_curve(result))
    st.caption(
        _(
            "Most of the gain comes from the first few members: each new one can only fix "
            "mistakes that the others have not already outvoted."
        )
    )

    _rescued_and_lost(bundle, best_name)

    st.subheader(_("How often the members disagree"))
    st.plotly_chart(figures_ensemble.disagreement_heatmap(result))
    matrix = np.asarray(result.disagreement)
    pairs = matrix[np.triu_indices(len(matrix), k=1)]
    st.markdown(
        _(
            "On average two members label **{share}** of the test images differently. An "
            "ensemble can only help where its members disagree: members that make the same "
            "mistakes outvote nothing. Diverse members (other seeds, other architectures, other "
            "data) make different mistakes, and averaging lets the right majority win."
        ).format(share=f"{pairs.mean():.2%}")
    )

    st.subheader(_("Per-class accuracy"))
    st.plotly_chart(figures_ensemble.per_class_bars(result))

    st.subheader(_("The lecture's pitfall: which images to score on"))
    if result.train_vs_test is None:
        st.caption(_("No training images shared by all members; the comparison is not shown."))
        return
    st.plotly_chart(figures_ensemble.train_vs_test_bars(result))
    train, test = result.train_vs_test[ensemble.COMBINER_LABELS[ensemble.AVERAGE]]
    st.markdown(
        _(
            "The lecture's code measures the ensemble on `X_train`, images the members learned "
            "from (here a sample of {count}), beside the test set."
        ).format(count=f"{bundle['train_images']:,}")
    )
    st.markdown(ensemble.pitfall_lesson(train, test, bundle["dataset"]))


def _rescued_and_lost(bundle: dict, best_name: str) -> None:
    result = bundle["result"]
    dataset = page_dataset(bundle["dataset"])
    names = display_names(result.class_names)
    # The pictures keep English class names where the server has no font with Hangul.
    drawn = names if figures_live.can_draw(*names) else result.class_names
    best = result.predictions[best_name]
    average = result.predictions[ensemble.AVERAGE]
    st.subheader(_("What averaging fixes, and what it breaks"))
    st.caption(
        _(
            "Under each test image: what the best member ({name}) said, then what the average "
            "of probabilities said; green is right, red is wrong."
        ).format(name=escape_markdown(best_name))
    )
    if drawn is not names:
        st.caption(_(figures_live.NO_HANGUL_FONT))
    left, right = st.columns(2)
    for column, indices, title in (
        (left, result.rescued, _("Right by the ensemble, wrong by the best member")),
        (right, result.lost, _("Right by the best member, wrong by the ensemble")),
    ):
        column.markdown(f"**{title}: {len(indices)}**")
        if not indices:
            column.caption(_("None."))
            continue
        shown = indices[:MAX_IMAGES_SHOWN]
        labels = [
            [
                (_("best: {name}").format(name=drawn[best[i]]), best[i] == dataset.y_test[i]),
                (_("ens.: {name}").format(name=drawn[average[i]]), average[i] == dataset.y_test[i]),
            ]
            for i in shown
        ]
        grid = figures_ensemble.labelled_grid([dataset.x_test[i] for i in shown], labels, columns=5)
        column.image(grid)
        if len(indices) > len(shown):
            column.caption(
                _("The first {shown} of {count}.").format(shown=len(shown), count=len(indices))
            )
    choices = {}
    for indices, template in (
        (
            result.rescued,
            _("Test image {index} (fixed): a {truth}; best member {best}, ensemble {ensemble}"),
        ),
        (
            result.lost,
            _("Test image {index} (broken): a {truth}; best member {best}, ensemble {ensemble}"),
        ),
    ):
        for i in indices[:MAX_IMAGES_SHOWN]:
            choices[int(i)] = template.format(
                index=i,
                truth=names[dataset.y_test[i]],
                best=names[best[i]],
                ensemble=names[average[i]],
            )
    explain_picked(
        _("Ask a member why it read one of these images as it did"),
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
