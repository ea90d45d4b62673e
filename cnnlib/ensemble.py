"""Ensembles: combining the class probabilities of several trained models into one answer.

Everything here works on plain NumPy arrays: each member contributes an (N, C) array of
class probabilities (rows are images, columns classes) for the test set, and optionally for
the validation set and a sample of the training set. The combiners are the lecture's average
of probabilities (section 5.5), majority vote, a weighted average with weights from validation
accuracy, and stacking (a scikit-learn logistic regression fitted on the members' validation
probabilities only). `evaluate_ensemble` runs them all and returns an `EnsembleResult` of plain
values for a page or a script to show: accuracies, the accuracy curve as members are added,
the images the ensemble rescues or loses against the best member, pairwise disagreement,
per-class accuracy and the training-set vs test-set figures of the lecture's pitfall.

Computing the probabilities is `cnnlib.metrics.predict_in_chunks`'s and training members is
`cnnlib.runs`', so this module never imports TensorFlow.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cnnlib.i18n import N_, _
from cnnlib.metrics import accuracy, per_class_accuracy

AVERAGE = "average"
VOTE = "vote"
WEIGHTED = "weighted"
STACKING = "stacking"
COMBINERS = (AVERAGE, VOTE, WEIGHTED, STACKING)
# Probabilities below this are taken as this before their logarithm is used (Keras's epsilon).
PROBABILITY_FLOOR = 1e-7
# The stacker's regularisation is chosen among these C values by cross-validation.
STACKING_CS = (0.01, 0.1, 1.0, 10.0, 100.0)
STACKING_FOLDS = 3
# Marked for translation; whoever shows one translates it with `_()`. Results keep the English
# label as a key.
COMBINER_LABELS = {
    AVERAGE: N_("average of probabilities"),
    VOTE: N_("majority vote"),
    WEIGHTED: N_("weighted average"),
    STACKING: N_("stacking (logistic regression)"),
}
BEST_MEMBER = N_("best member")  # the key of the best member's per-class accuracy


@dataclass
class MemberPredictions:
    """One member's class probabilities, each (N, C), on the sets the ensemble is judged on."""

    name: str
    test: np.ndarray  # probabilities on the test set
    validation: np.ndarray | None = None  # on the held-out validation set (weights, stacking)
    train: np.ndarray | None = None  # on a sample of the training set (the lecture's pitfall)


@dataclass
class EnsembleResult:
    """What `evaluate_ensemble` measured; plain lists, floats and small arrays only."""

    member_names: list[str]
    class_names: list[str]
    member_test_accuracy: list[float]
    member_validation_accuracy: list[float] | None  # None when no validation probabilities
    weights: list[float] | None  # of the weighted average, summing to one
    combiner_test_accuracy: dict[str, float]  # combiner name -> test accuracy
    best_member: int  # index of the member with the highest test accuracy
    beats_best_member: bool  # the average of probabilities beats the best member
    curve: dict[str, list[float]]  # combiner -> test accuracy with members 1..k, k = 1..K
    rescued: list[int]  # test images the average gets right and the best member wrong
    lost: list[int]  # test images the best member gets right and the average wrong
    disagreement: list[list[float]]  # K x K: fraction of test images two members label apart
    per_class: dict[str, list[float]]  # "best member" / "average" -> accuracy per class
    train_vs_test: dict[str, tuple[float, float]] | None  # name -> (train, test) accuracy
    predictions: dict[str, np.ndarray]  # combiner or member name -> predicted test labels
    stacking_coefficients: np.ndarray | None = None  # (C, K*C) of the fitted meta-classifier
    stacking_regularization: float | None = None  # the C it was fitted with
    notes: list[str] = field(default_factory=list)  # what was skipped and why


# ---------------------------------------------------------------------------------------------
# Checks


def check_members(members: Sequence[Any]) -> None:
    """Refuse members that cannot be combined, naming the offending ones.

    Each member needs `name`, `dataset`, `class_names` and `input_shape` attributes (a
    `cnnlib.library.ModelRecord` has them). Averaging probabilities only makes sense when every
    member answers the same question: same dataset, same classes in the same order, same
    input images.
    """
    if len(members) < 2:
        raise ValueError(_("An ensemble needs at least two members; pick two or more models."))
    names = [str(m.name) for m in members]
    if len(set(names)) != len(names):
        repeated = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(
            _(
                "Member {names} is picked twice; pick each model once (a model averaged with "
                "itself adds nothing)."
            ).format(names=", ".join(repeated))
        )
    for attribute, what in (
        ("dataset", _("dataset")),
        ("class_names", _("classes")),
        ("input_shape", _("input shape")),
    ):
        groups: dict[str, list[str]] = {}
        for member in members:
            value = getattr(member, attribute)
            key = str(tuple(value)) if isinstance(value, (list, tuple)) else str(value)
            groups.setdefault(key, []).append(str(member.name))
        if len(groups) > 1:
            # Name the majority's value first so that the odd ones out stand out.
            ordered = sorted(groups.items(), key=lambda item: -len(item[1]))
            parts = [f"{', '.join(group)} ({value})" for value, group in ordered]
            raise ValueError(
                _("Members differ in {what}: {groups}. Pick members that share one {what}.").format(
                    what=what, groups="; ".join(parts)
                )
            )


def _check_probabilities(
    arrays: Sequence[np.ndarray], names: Sequence[str], labels: np.ndarray | None, where: str
) -> list[np.ndarray]:
    if not arrays:
        raise ValueError(_("No member probabilities were given; pick at least one member."))
    out = []
    for name, array in zip(names, arrays, strict=True):
        array = np.asarray(array, dtype=np.float64)
        if array.ndim != 2:
            raise ValueError(
                _("{name}: {where} probabilities must be (images, classes), got {shape}.").format(
                    name=name, where=_(_SETS[where]), shape=array.shape
                )
            )
        if not np.all(np.isfinite(array)) or np.any(array < 0):
            raise ValueError(
                _(
                    "{name}: {where} probabilities must be finite and non-negative; use the "
                    "model's softmax output."
                ).format(name=name, where=_(_SETS[where]))
            )
        out.append(array)
    shapes = {a.shape for a in out}
    if len(shapes) > 1:
        listing = ", ".join(f"{n} {a.shape}" for n, a in zip(names, out, strict=True))
        raise ValueError(
            _(
                "Members' {where} probabilities differ in shape ({listing}); compute them on the "
                "same images."
            ).format(where=_(_SETS[where]), listing=listing)
        )
    if labels is not None and len(labels) != out[0].shape[0]:
        raise ValueError(_label_count(where, len(labels), out[0].shape[0]))
    return out


# The sets probabilities and labels come from, as messages name them.
_SETS = {"test": N_("test"), "validation": N_("validation"), "training": N_("training")}


def _label_count(where: str, labels: int, images: int) -> str:
    return _("{labels} {where} labels for {images} images; pass one label per image.").format(
        labels=labels, where=_(_SETS[where]), images=images
    )


def _check_labels(labels: Any, num_classes: int, where: str) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim == 2:  # one-hot, as in the lecture's code
        labels = labels.argmax(axis=1)
    if labels.ndim != 1:
        raise ValueError(
            _("The {where} labels must be class indices or one-hot rows.").format(
                where=_(_SETS[where])
            )
        )
    labels = labels.astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            _("The {where} labels must lie in 0..{last}.").format(
                where=_(_SETS[where]), last=num_classes - 1
            )
        )
    return labels


# ---------------------------------------------------------------------------------------------
# Combiners


def average_probabilities(probabilities: Sequence[np.ndarray]) -> np.ndarray:
    """The lecture's ensemble: the mean of the members' probability arrays, (N, C)."""
    return np.mean(np.stack([np.asarray(p, dtype=np.float64) for p in probabilities]), axis=0)


def majority_vote(probabilities: Sequence[np.ndarray]) -> np.ndarray:
    """Each member votes for its top class; the class with most votes wins, (N,) labels.

    Ties: among the classes with the most votes, the one with the largest probability summed
    over all members wins; if that is tied too, the lowest class index wins. A member's own
    top class is `argmax`, which also picks the lowest index on a tie.
    """
    stacked = np.stack([np.asarray(p, dtype=np.float64) for p in probabilities])
    num_classes = stacked.shape[2]
    votes = np.zeros(stacked.shape[1:], dtype=np.int64)
    for member in stacked:
        votes += np.eye(num_classes, dtype=np.int64)[member.argmax(axis=1)]
    summed = stacked.sum(axis=0)
    tied_for_most = votes == votes.max(axis=1, keepdims=True)
    # argmax returns the first (lowest) index among equal scores: the last tie rule.
    return np.where(tied_for_most, summed, -np.inf).argmax(axis=1)


def validation_weights(validation_accuracy: Sequence[float]) -> np.ndarray:
    """Weights proportional to each member's validation accuracy, summing to one."""
    accuracy = np.asarray(validation_accuracy, dtype=np.float64)
    if accuracy.ndim != 1 or accuracy.size == 0:
        raise ValueError(_("Give one validation accuracy per member."))
    if not np.all(np.isfinite(accuracy)) or np.any(accuracy < 0) or np.any(accuracy > 1):
        raise ValueError(_("Validation accuracies must be fractions between 0 and 1."))
    total = accuracy.sum()
    if total == 0:
        # No member gets anything right: no reason to prefer one, so weigh them equally.
        return np.full(accuracy.size, 1.0 / accuracy.size)
    return accuracy / total


def weighted_average(probabilities: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    """Sum of weight_i x probabilities_i, (N, C); the weights must sum to one."""
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != (len(probabilities),):
        raise ValueError(
            _("Give one weight per member: {count} members.").format(count=len(probabilities))
        )
    if np.any(weights < 0) or not np.isclose(weights.sum(), 1.0):
        raise ValueError(_("Weights must be non-negative and sum to one; normalise them first."))
    stacked = np.stack([np.asarray(p, dtype=np.float64) for p in probabilities])
    return np.tensordot(weights, stacked, axes=1)


def stacking_features(probabilities: Sequence[np.ndarray]) -> np.ndarray:
    """The meta-classifier's input: the members' log-probabilities side by side, (N, K*C).

    Logarithms, because a logistic regression on them can weigh members and classes on the
    scale where softmax outputs combine (adding log-probabilities multiplies the members'
    beliefs); raw probabilities of confident members are nearly 0 or 1 and leave it little to
    work with. Probabilities are clipped at 1e-7, as Keras clips them in its loss.
    """
    stacked = np.concatenate([np.asarray(p, dtype=np.float64) for p in probabilities], axis=1)
    return np.log(np.clip(stacked, PROBABILITY_FLOOR, 1.0))


def choose_regularization(features: np.ndarray, labels: np.ndarray) -> float:
    """scikit-learn's C for the stacker, by 3-fold cross-validation on the validation data.

    Each C of `STACKING_CS` is scored by its mean accuracy over stratified folds; on a tie the
    smaller C (the simpler meta-classifier) wins. Falls back to C = 1 when some class has
    fewer than three validation images, too few to split into folds.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from threadpoolctl import threadpool_limits

    _, counts = np.unique(labels, return_counts=True)
    if len(counts) < 2 or counts.min() < STACKING_FOLDS:
        return 1.0
    # No shuffling: the folds, and hence the choice, depend on the validation data alone.
    folds = list(StratifiedKFold(STACKING_FOLDS).split(features, labels))
    best, best_score = 1.0, -np.inf
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a fold that stops at max_iter still gives a score
        for regularization in STACKING_CS:
            score = np.mean(
                [
                    LogisticRegression(C=regularization, max_iter=2000)
                    .fit(features[train], labels[train])
                    .score(features[held_out], labels[held_out])
                    for train, held_out in folds
                ]
            )
            if score > best_score:
                best, best_score = regularization, score
    return float(best)


def fit_stacker(
    validation_probabilities: Sequence[np.ndarray],
    validation_labels: np.ndarray,
    regularization: float | None = None,
) -> Any:
    """Fit a logistic regression on the members' validation probabilities.

    Only validation data goes in: the members never trained on it, so their probabilities
    there are as honest as on the test set, and the test set stays unseen until scoring.
    `regularization` is scikit-learn's C (smaller = simpler meta-classifier); None chooses it
    by cross-validation on the same validation data (`choose_regularization`).
    """
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    features = stacking_features(validation_probabilities)
    labels = np.asarray(validation_labels).astype(np.int64)
    if len(np.unique(labels)) < 2:
        raise ValueError(
            _(
                "Stacking needs validation images of at least two classes; use a larger "
                "validation split."
            )
        )
    # One BLAS thread: these matrices are small, and on a busy machine BLAS threads waiting for
    # each other made each fit 50 times slower (seconds instead of a fraction of one).
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a fit that stops at max_iter is still usable
        if regularization is None:
            regularization = choose_regularization(features, labels)
        # lbfgs is deterministic: the same validation data always gives the same stacker.
        stacker = LogisticRegression(C=regularization, max_iter=2000)
        stacker.fit(features, labels)
    return stacker


def stacking_probabilities(
    stacker: Any, probabilities: Sequence[np.ndarray], num_classes: int
) -> np.ndarray:
    """The fitted meta-classifier's class probabilities, (N, C) in class order.

    Classes absent from the validation labels get probability zero.
    """
    partial = stacker.predict_proba(stacking_features(probabilities))
    full = np.zeros((partial.shape[0], num_classes))
    full[:, stacker.classes_.astype(np.int64)] = partial
    return full


# ---------------------------------------------------------------------------------------------
# Measurements


def accuracy_curve(
    probabilities: Sequence[np.ndarray], labels: np.ndarray, combiner: str = AVERAGE
) -> list[float]:
    """Test accuracy of the ensemble of the first k members, for k = 1..K, in the given order."""
    if combiner not in (AVERAGE, VOTE):
        raise ValueError(_("The accuracy curve is drawn for 'average' or 'vote'."))
    combine = average_probabilities if combiner == AVERAGE else majority_vote
    return [accuracy(combine(probabilities[:k]), labels) for k in range(1, len(probabilities) + 1)]


def rescued_and_lost(
    ensemble_predicted: np.ndarray, member_predicted: np.ndarray, labels: np.ndarray
) -> tuple[list[int], list[int]]:
    """Indices the ensemble gets right and the member wrong, and the reverse."""
    ensemble_right = np.asarray(ensemble_predicted) == labels
    member_right = np.asarray(member_predicted) == labels
    rescued = np.flatnonzero(ensemble_right & ~member_right)
    lost = np.flatnonzero(member_right & ~ensemble_right)
    return rescued.tolist(), lost.tolist()


def disagreement_matrix(member_predicted: Sequence[np.ndarray]) -> np.ndarray:
    """(K, K): the fraction of images on which members i and j predict different labels."""
    predicted = np.stack([np.asarray(p) for p in member_predicted])
    return (predicted[:, None, :] != predicted[None, :, :]).mean(axis=2)


# ---------------------------------------------------------------------------------------------
# Everything at once


def evaluate_ensemble(
    members: Sequence[MemberPredictions],
    test_labels: Any,
    validation_labels: Any = None,
    train_labels: Any = None,
    class_names: Sequence[str] | None = None,
) -> EnsembleResult:
    """Run every combiner on the test set and measure what the page shows.

    Weighted average and stacking need every member's validation probabilities and
    `validation_labels`; without them they are skipped with a note. The training-set
    figures (the lecture's pitfall) need every member's `train` probabilities and
    `train_labels`. The best member is the one with the highest test accuracy, the
    hardest member for the ensemble to beat.
    """
    if len(members) < 1:
        raise ValueError(_("Pick at least one member."))
    names = [m.name for m in members]
    test = _check_probabilities([m.test for m in members], names, None, "test")
    num_classes = test[0].shape[1]
    y_test = _check_labels(test_labels, num_classes, "test")
    if len(y_test) != test[0].shape[0]:
        raise ValueError(_label_count("test", len(y_test), test[0].shape[0]))
    if class_names is None:
        class_names = [str(c) for c in range(num_classes)]
    if len(class_names) != num_classes:
        raise ValueError(
            _("{count} class names for {classes} classes.").format(
                count=len(class_names), classes=num_classes
            )
        )
    notes: list[str] = []

    member_predicted = [p.argmax(axis=1) for p in test]
    member_accuracy = [accuracy(p, y_test) for p in member_predicted]
    best = int(np.argmax(member_accuracy))

    averaged = average_probabilities(test)
    predictions: dict[str, np.ndarray] = {AVERAGE: averaged.argmax(axis=1)}
    predictions[VOTE] = majority_vote(test)

    validation_accuracy = weights = coefficients = regularization = None
    if validation_labels is not None and all(m.validation is not None for m in members):
        validation = _check_probabilities(
            [m.validation for m in members], names, None, "validation"
        )
        y_val = _check_labels(validation_labels, num_classes, "validation")
        if len(y_val) != validation[0].shape[0]:
            raise ValueError(_label_count("validation", len(y_val), validation[0].shape[0]))
        if validation[0].shape[1] != num_classes:
            raise ValueError(_("Validation and test probabilities have different class counts."))
        validation_accuracy = [accuracy(p, y_val) for p in validation]
        weights = validation_weights(validation_accuracy)
        predictions[WEIGHTED] = weighted_average(test, weights).argmax(axis=1)
        try:
            stacker = fit_stacker(validation, y_val)
        except ValueError as err:
            notes.append(_("Stacking skipped: {error}").format(error=err))
        else:
            coefficients = stacker.coef_.copy()
            regularization = float(stacker.C)
            predictions[STACKING] = stacking_probabilities(stacker, test, num_classes).argmax(
                axis=1
            )
    else:
        notes.append(
            _(
                "Weighted average and stacking need every member's validation-set "
                "probabilities; they were skipped."
            )
        )

    combiner_accuracy = {name: accuracy(pred, y_test) for name, pred in predictions.items()}
    rescued, lost = rescued_and_lost(predictions[AVERAGE], member_predicted[best], y_test)
    notes.extend(identical_members(names, test))

    train_vs_test = None
    if train_labels is not None and all(m.train is not None for m in members):
        train = _check_probabilities([m.train for m in members], names, None, "training")
        y_train = _check_labels(train_labels, num_classes, "training")
        if len(y_train) != train[0].shape[0]:
            raise ValueError(_label_count("training", len(y_train), train[0].shape[0]))
        train_vs_test = {
            name: (accuracy(p, y_train), member_accuracy[i])
            for i, (name, p) in enumerate(zip(names, train, strict=True))
        }
        train_vs_test[COMBINER_LABELS[AVERAGE]] = (
            accuracy(average_probabilities(train), y_train),
            combiner_accuracy[AVERAGE],
        )

    return EnsembleResult(
        member_names=list(names),
        class_names=[str(c) for c in class_names],
        member_test_accuracy=member_accuracy,
        member_validation_accuracy=validation_accuracy,
        weights=None if weights is None else weights.tolist(),
        combiner_test_accuracy=combiner_accuracy,
        best_member=best,
        beats_best_member=combiner_accuracy[AVERAGE] > member_accuracy[best],
        curve={
            AVERAGE: accuracy_curve(test, y_test, AVERAGE),
            VOTE: accuracy_curve(test, y_test, VOTE),
        },
        rescued=rescued,
        lost=lost,
        disagreement=disagreement_matrix(member_predicted).tolist(),
        per_class={
            BEST_MEMBER: per_class_accuracy(member_predicted[best], y_test, num_classes).tolist(),
            COMBINER_LABELS[AVERAGE]: per_class_accuracy(
                predictions[AVERAGE], y_test, num_classes
            ).tolist(),
        },
        train_vs_test=train_vs_test,
        predictions={**predictions, **dict(zip(names, member_predicted, strict=True))},
        stacking_coefficients=coefficients,
        stacking_regularization=regularization,
        notes=notes,
    )


def accuracy_table(result: EnsembleResult) -> list[dict[str, Any]]:
    """One row per member and per combiner: name, kind, test and validation accuracy, weight."""
    rows = []
    for i, name in enumerate(result.member_names):
        rows.append(
            {
                "model": name,
                "kind": _("best member") if i == result.best_member else _("member"),
                "test accuracy": result.member_test_accuracy[i],
                "validation accuracy": None
                if result.member_validation_accuracy is None
                else result.member_validation_accuracy[i],
                "weight": None if result.weights is None else result.weights[i],
            }
        )
    for combiner, value in result.combiner_test_accuracy.items():
        rows.append(
            {
                "model": _(COMBINER_LABELS[combiner]),
                "kind": _("combiner"),
                "test accuracy": value,
                "validation accuracy": None,
                "weight": None,
            }
        )
    return rows


def identical_members(names: Sequence[str], test: Sequence[np.ndarray]) -> list[str]:
    """Notes on pairs of members that answer every test image alike, so add nothing together.

    Equal probabilities mean the same model under two names (saved or loaded twice); equal
    labels alone mean two models that make exactly the same mistakes.
    """
    notes = []
    for i in range(len(test)):
        for j in range(i + 1, len(test)):
            if np.array_equal(test[i], test[j]):
                notes.append(
                    _(
                        "{first} and {second} give exactly the same probabilities on every test "
                        "image: they are the same model under two names, so the ensemble counts "
                        "it twice and learns nothing from the second copy. Pick different models."
                    ).format(first=names[i], second=names[j])
                )
            elif np.array_equal(test[i].argmax(axis=1), test[j].argmax(axis=1)):
                notes.append(
                    _(
                        "{first} and {second} predict the same class for every test image: they "
                        "make the same mistakes, so together they can outvote none. Members "
                        "trained with other seeds, data or architectures disagree more."
                    ).format(first=names[i], second=names[j])
                )
    return notes


# Train-minus-test gaps within this many accuracy points are read as no gap: a 2,000-image
# training sample alone moves its accuracy by about half a point.
PITFALL_TOLERANCE = 0.005


def pitfall_lesson(train_accuracy: float, test_accuracy: float, dataset: str = "") -> str:
    """The lecture's pitfall (scoring an ensemble on `X_train`) told from measured figures.

    The sign and size of the train-minus-test gap choose the text: a positive gap is the
    memorisation the lecture warns about; no gap or a negative one says when it would appear,
    and for MNIST ("mnist") that its test set is known to be slightly easier than its
    training set.
    """
    for value in (train_accuracy, test_accuracy):
        if not 0 <= value <= 1:
            raise ValueError(
                _("Accuracies are fractions from 0 to 1, not {value}.").format(value=repr(value))
            )
    gap = train_accuracy - test_accuracy
    measured = _(
        "Here the ensemble scores {train} on training images its members learned from and "
        "{test} on the test images, a gap of {gap} points."
    ).format(train=f"{train_accuracy:.2%}", test=f"{test_accuracy:.2%}", gap=f"{gap * 100:+.2f}")
    when = _(
        "The gap grows with longer training, without augmentation and with larger models, "
        "which learn their training images by heart. To see it, train members for many epochs "
        "on few images without random shifts: 12 epochs on 1,000 MNIST images gave the "
        "lecture's two-convolution model a training accuracy of 94.8%, a test accuracy of "
        "92.1%."
    )
    always = _(
        "Either way, only the test set, which no member ever saw, measures how the ensemble "
        "will do on new images; the lecture's `X_train` figure does not."
    )
    if gap > PITFALL_TOLERANCE:
        lesson = _(
            "That is the pitfall: the members have partly memorised their training images, so "
            "the training figure is too rosy."
        )
        return " ".join((measured, lesson, when, always))
    if gap >= -PITFALL_TOLERANCE:
        lesson = _("Training and test figures agree: these members have not memorised much yet.")
    elif dataset == "mnist":
        lesson = _(
            "The ensemble does worse on images it learned from than on new ones. That is no "
            "flaw of the ensemble: MNIST's test set is known to be slightly easier than its "
            "training set, so a model that has not memorised its training images scores "
            "higher on the test set."
        )
    else:
        lesson = _(
            "The ensemble does worse on images it learned from than on new ones. The members "
            "have not memorised their training images, and the training figure is measured on "
            "a sample, which adds its own noise."
        )
    return " ".join((measured, lesson, when, always))


# ---------------------------------------------------------------------------------------------
# Which training images each member saw, and the sets the ensemble is judged on

# Enough validation images for stable weights and a well-fitted meta-classifier.
MAX_VALIDATION_IMAGES = 10_000
# The pitfall's training-set figure needs only an estimate: a sample is enough.
TRAIN_SAMPLE_IMAGES = 2_000


def validation_count(num_train: int, validation_split: float) -> int:
    """How many of `num_train` images the training engine holds out: round(n x split).

    `cnnlib.training` validates on the LAST this-many images of the training data it is given,
    before any shuffling, so models trained on the same data with the same split share them.
    """
    if not 0 <= validation_split < 1:
        raise ValueError(_("validation_split must be a fraction from 0 up to but not including 1."))
    return int(round(num_train * validation_split))


def training_indices(
    num_train: int, validation_split: float, subset_indices: np.ndarray | None = None
) -> np.ndarray:
    """Indices, into the full training set of `num_train` images, that a member trained on.

    `subset_indices` are the images of the member's training data when it was a subset (in
    their original order, as `cnnlib.datasets.subset` keeps them); None means all of them. The
    last `validation_count` of them were its validation images and are left out.
    """
    picked = np.arange(num_train) if subset_indices is None else np.asarray(subset_indices)
    held_out = validation_count(len(picked), validation_split)
    return picked[: len(picked) - held_out]


def record_training_indices(record: Any, train_labels: np.ndarray) -> np.ndarray | None:
    """The full-training-set indices a `ModelRecord` trained on, or None when unknown.

    Reads the record's `validation_fraction` (or `settings["validation_split"]`) and
    `settings["train_images"]`, the size of its training data before the validation split.
    Fewer than the whole set means the pick of `cnnlib.datasets.subset(dataset, train_images,
    ..., seed)` with seed `settings["data_seed"]`, or `settings["seed"]` when that is absent
    (the MNIST and CIFAR-10 pages pick their subsets with the training seed). Without
    "train_images", or for an uploaded plain Keras file, the images are unknown: None.
    """
    from cnnlib.datasets import subset_indices as picked_indices

    settings = record.settings or {}
    count = settings.get("train_images")
    if getattr(record, "source", "trained") == "upload" or count is None:
        return None
    split = record.validation_fraction
    if split is None:
        split = settings.get("validation_split", 0.0)
    num_train = len(train_labels)
    subset_indices = None
    if int(count) < num_train:
        seed = int(settings.get("data_seed", settings.get("seed", 0)))
        subset_indices = picked_indices(train_labels, int(count), seed)
    return training_indices(num_train, float(split), subset_indices)


@dataclass
class JudgingSets:
    """Indices of the full training set the ensemble is judged on, and why any is missing."""

    validation: np.ndarray | None  # images no member trained on (weights, stacking)
    train_sample: np.ndarray | None  # images every member trained on (the lecture's pitfall)
    notes: list[str] = field(default_factory=list)


def judging_sets(
    num_train: int,
    trained_on: dict[str, np.ndarray | None],
    max_validation: int = MAX_VALIDATION_IMAGES,
    train_sample: int = TRAIN_SAMPLE_IMAGES,
    seed: int = 0,
) -> JudgingSets:
    """The validation images (seen by no member) and a training sample (seen by all).

    `trained_on` maps each member's name to the indices it trained on (None: unknown). Only
    images no member has learned from give honest validation figures for the weights and the
    stacker; for members trained with the same split on the same data that is exactly their
    shared validation set. Both sets are capped, keeping a fixed random pick in index order.
    """
    notes = []
    unknown = [name for name, seen in trained_on.items() if seen is None]
    rng = np.random.default_rng(seed)

    def capped(indices: np.ndarray, limit: int) -> np.ndarray:
        if len(indices) <= limit:
            return indices
        return np.sort(rng.choice(indices, size=limit, replace=False))

    if unknown:
        notes.append(
            _(
                "It is not known which training images {members} learned from, so no validation "
                "set is certainly unseen: weighted average and stacking are skipped."
            ).format(members=", ".join(unknown))
        )
        return JudgingSets(None, None, notes)
    seen_by_any = np.zeros(num_train, dtype=bool)
    seen_by_all = np.ones(num_train, dtype=bool)
    for seen in trained_on.values():
        mask = np.zeros(num_train, dtype=bool)
        mask[seen] = True
        seen_by_any |= mask
        seen_by_all &= mask
    validation = np.flatnonzero(~seen_by_any)
    if len(validation) < 2:
        notes.append(
            _(
                "Every training image was learned by some member, so there is no validation "
                "set: train members with a validation split (e.g. 0.1) for weighted average and "
                "stacking."
            )
        )
        validation = None
    else:
        validation = capped(validation, max_validation)
    shared = np.flatnonzero(seen_by_all)
    if len(shared) == 0:
        notes.append(_("The members share no training image, so the pitfall cannot be shown."))
        shared = None
    else:
        shared = capped(shared, train_sample)
    return JudgingSets(validation, shared, notes)


# ---------------------------------------------------------------------------------------------
# Training new members through the training engine (TensorFlow is imported only here)


@dataclass(frozen=True)
class MemberSpec:
    """One member to train: its name, registry architecture and seed."""

    name: str
    architecture: str  # key in cnnlib.registry.REGISTRY
    seed: int  # weights, dropout masks and batch order


def plan_members(
    architectures: Sequence[str],
    per_architecture: int = 1,
    base_seed: int = 0,
    taken: Sequence[str] = (),
) -> list[MemberSpec]:
    """Members for each architecture, `per_architecture` each, with seeds base, base + 1, ...

    Names are the architecture's title and seed, made unique against `taken` (the session's
    model names) so that no trained model is ever replaced. They are written in the language
    of the session that trains the members: a model's name is kept as it was given, as a
    student's own name for a model would be, in the library and in saved files alike.
    """
    from cnnlib import registry

    if not architectures:
        raise ValueError(_("Pick at least one architecture to train."))
    if per_architecture < 1:
        raise ValueError(_("Train at least one member per architecture."))
    used = set(taken)
    specs = []
    for key in architectures:
        entry = registry.get(key)
        for offset in range(per_architecture):
            seed = base_seed + offset
            name = base = _("{title} · seed {seed}").format(title=entry.shown_title(), seed=seed)
            copy = 2
            while name in used:
                name, copy = f"{base} ({copy})", copy + 1
            used.add(name)
            specs.append(MemberSpec(name, key, seed))
    if len(specs) < 2:
        raise ValueError(_("An ensemble needs at least two members; train two or more."))
    return specs


def start_member_run(
    spec: MemberSpec,
    profile: Any,
    dataset: Any,
    settings: Any,
    train_images: int | None,
    data_seed: int,
    scheduler: Any = None,
) -> Any:
    """Queue one member on the training engine; returns its started `cnnlib.runs.Run`.

    Every member trains on the same images (`train_images` picked with `data_seed`), so that
    they share their validation images. The job waits its turn on the engine's scheduler, so
    starting K members at once never runs more of them together than the engine allows.
    """
    from cnnlib import registry
    from cnnlib.runs import start_run, with_seed

    return start_run(
        profile,
        dataset,
        registry.get(spec.architecture).network,
        with_seed(settings, spec.seed),
        name=spec.name,
        train_images=train_images,
        data_seed=data_seed,
        architecture=spec.architecture,
        scheduler=scheduler,
    )
