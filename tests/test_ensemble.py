"""Tests of cnnlib.ensemble against small cases worked out by hand."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from cnnlib import ensemble
from cnnlib.ensemble import MemberPredictions


@dataclass
class FakeRecord:
    name: str
    dataset: str = "mnist"
    class_names: tuple = tuple(str(i) for i in range(10))
    input_shape: tuple = (28, 28, 1)


def rows(*values):
    return np.array(values, dtype=np.float64)


# --- average and vote -------------------------------------------------------------------------


def test_average_is_the_mean_of_the_members():
    a = rows([0.6, 0.4], [0.2, 0.8])
    b = rows([0.2, 0.8], [0.4, 0.6])
    np.testing.assert_allclose(ensemble.average_probabilities([a, b]), [[0.4, 0.6], [0.3, 0.7]])


def test_average_can_beat_every_member():
    # Each member is wrong on a different image, with low confidence; the others outvote it.
    labels = np.array([0, 1, 2])
    a = rows([0.4, 0.6, 0.0], [0.0, 0.9, 0.1], [0.0, 0.1, 0.9])
    b = rows([0.9, 0.1, 0.0], [0.6, 0.4, 0.0], [0.0, 0.1, 0.9])
    c = rows([0.9, 0.0, 0.1], [0.0, 0.9, 0.1], [0.0, 0.6, 0.4])
    for member in (a, b, c):
        assert ensemble.accuracy(member, labels) == pytest.approx(2 / 3)
    assert ensemble.accuracy(ensemble.average_probabilities([a, b, c]), labels) == 1.0


def test_vote_majority_wins_over_confidence():
    # Two members say class 1 weakly, one says class 0 with certainty: the vote says 1,
    # the average of probabilities says 0.
    a = rows([0.4, 0.6, 0.0])
    b = rows([0.45, 0.55, 0.0])
    c = rows([1.0, 0.0, 0.0])
    assert ensemble.majority_vote([a, b, c]).tolist() == [1]
    assert ensemble.average_probabilities([a, b, c]).argmax(axis=1).tolist() == [0]


def test_vote_tie_is_broken_by_summed_probability_of_the_tied_classes():
    # Votes: class 0 (a), class 2 (b): a tie. Summed probability: class 0 = 0.5 + 0.1 = 0.6,
    # class 2 = 0.2 + 0.9 = 1.1, class 1 = 0.3 + 0.0 (not tied, so ignored even if large).
    a = rows([0.5, 0.3, 0.2])
    b = rows([0.1, 0.0, 0.9])
    assert ensemble.majority_vote([a, b]).tolist() == [2]
    # A class outside the tie never wins even with the largest summed probability.
    c = rows([0.40, 0.35, 0.25])
    d = rows([0.25, 0.35, 0.40])
    e = rows([0.34, 0.33, 0.33])
    # Votes: 0, 2, 0 -> class 0 wins outright with two votes.
    assert ensemble.majority_vote([c, d, e]).tolist() == [0]
    # Votes 0 and 2 tied; summed: class 0 = 0.65, class 1 = 0.70, class 2 = 0.65 -> class 1 is
    # not in the tie, and 0 and 2 tie again on sum -> the lowest index, 0.
    assert ensemble.majority_vote([c, d]).tolist() == [0]


def test_vote_tie_on_everything_goes_to_the_lowest_class():
    a = rows([0.5, 0.0, 0.0, 0.5])  # argmax picks class 0 (first of the tie)
    b = rows([0.0, 0.0, 0.5, 0.5])  # class 2
    # Votes: 0 and 2, one each; sums 0.5 and 0.5 -> class 0.
    assert ensemble.majority_vote([a, b]).tolist() == [0]
    # Swap the order of members: same answer.
    assert ensemble.majority_vote([b, a]).tolist() == [0]


# --- weights ----------------------------------------------------------------------------------


def test_weights_are_proportional_to_validation_accuracy_and_sum_to_one():
    weights = ensemble.validation_weights([0.9, 0.6, 0.3])
    np.testing.assert_allclose(weights, [0.5, 1 / 3, 1 / 6])
    assert weights.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(ensemble.validation_weights([0.0, 0.0]), [0.5, 0.5])


def test_weighted_average_hand_case():
    a = rows([1.0, 0.0])
    b = rows([0.0, 1.0])
    np.testing.assert_allclose(ensemble.weighted_average([a, b], [0.75, 0.25]), [[0.75, 0.25]])


@pytest.mark.parametrize("bad", [[0.5, 1.2], [-0.1, 0.5], [np.nan, 0.5], []])
def test_bad_validation_accuracies_are_refused(bad):
    with pytest.raises(ValueError):
        ensemble.validation_weights(bad)


def test_weights_that_do_not_sum_to_one_are_refused():
    with pytest.raises(ValueError, match="sum to one"):
        ensemble.weighted_average([rows([1.0, 0.0]), rows([0.0, 1.0])], [0.5, 0.6])


# --- stacking ---------------------------------------------------------------------------------


def _noisy_members(rng, labels, num_members, num_classes, noise):
    members = []
    for _ in range(num_members):
        logits = rng.normal(0.0, noise, size=(len(labels), num_classes))
        logits[np.arange(len(labels)), labels] += 1.0
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        members.append(exp / exp.sum(axis=1, keepdims=True))
    return members


def test_stacking_is_fitted_on_validation_only():
    rng = np.random.default_rng(0)
    y_val = rng.integers(0, 3, size=200)
    y_test = rng.integers(0, 3, size=100)
    val = _noisy_members(rng, y_val, 3, 3, 1.0)
    test = _noisy_members(rng, y_test, 3, 3, 1.0)
    members = [
        MemberPredictions(f"m{i}", test=t, validation=v)
        for i, (t, v) in enumerate(zip(test, val, strict=True))
    ]
    first = ensemble.evaluate_ensemble(members, y_test, validation_labels=y_val)
    # Whatever the test labels are, the fitted meta-classifier and its test predictions do not
    # change: test labels never reach the fit.
    scrambled = rng.permutation(3)[y_test]
    second = ensemble.evaluate_ensemble(members, scrambled, validation_labels=y_val)
    np.testing.assert_array_equal(first.stacking_coefficients, second.stacking_coefficients)
    np.testing.assert_array_equal(
        first.predictions[ensemble.STACKING], second.predictions[ensemble.STACKING]
    )
    # Changing the validation labels does change it: the fit really uses validation data.
    third = ensemble.evaluate_ensemble(members, y_test, validation_labels=rng.permutation(y_val))
    assert not np.allclose(first.stacking_coefficients, third.stacking_coefficients)
    # And it matches a logistic regression fitted by hand on the same validation features.
    from sklearn.linear_model import LogisticRegression

    assert first.stacking_regularization in ensemble.STACKING_CS
    reference = LogisticRegression(C=first.stacking_regularization, max_iter=2000)
    reference.fit(np.log(np.concatenate(val, axis=1)), y_val)
    np.testing.assert_allclose(first.stacking_coefficients, reference.coef_, rtol=1e-6)
    np.testing.assert_array_equal(
        first.predictions[ensemble.STACKING],
        reference.predict(np.log(np.concatenate(test, axis=1))),
    )


def test_stacking_regularization_is_chosen_on_validation_folds():
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(5)
    y_val = rng.integers(0, 3, size=150)
    features = ensemble.stacking_features(_noisy_members(rng, y_val, 2, 3, 1.5))
    chosen = ensemble.choose_regularization(features, y_val)
    # Independent reference: the mean 3-fold accuracy of each candidate, best one wins.
    with threadpool_limits(1):
        scores = {
            c: cross_val_score(LogisticRegression(C=c, max_iter=2000), features, y_val, cv=3).mean()
            for c in ensemble.STACKING_CS
        }
    assert scores[chosen] == pytest.approx(max(scores.values()))
    # Too few images of some class to make three folds: the default C = 1.
    assert ensemble.choose_regularization(features[:4], np.array([0, 0, 1, 2])) == 1.0


def test_stacking_learns_to_ignore_a_useless_member():
    # Member 0 is informative; member 1 always says class 0. The meta-classifier should do at
    # least as well as member 0 alone, while the plain average is dragged down.
    rng = np.random.default_rng(1)
    y_val = rng.integers(0, 3, size=300)
    y_test = rng.integers(0, 3, size=300)
    good_val, good_test = (_noisy_members(rng, y, 1, 3, 0.6)[0] for y in (y_val, y_test))
    useless = lambda n: np.tile([0.98, 0.01, 0.01], (n, 1))  # noqa: E731
    members = [
        MemberPredictions("good", test=good_test, validation=good_val),
        MemberPredictions("useless", test=useless(300), validation=useless(300)),
    ]
    result = ensemble.evaluate_ensemble(members, y_test, validation_labels=y_val)
    acc = result.combiner_test_accuracy
    assert acc[ensemble.STACKING] >= result.member_test_accuracy[0] - 0.02
    assert acc[ensemble.STACKING] > acc[ensemble.AVERAGE] + 0.1


# --- measurements -----------------------------------------------------------------------------


def test_disagreement_matrix_hand_case():
    d = ensemble.disagreement_matrix([np.array([0, 1, 2, 3]), np.array([0, 1, 0, 0]), [1, 1, 2, 3]])
    np.testing.assert_allclose(d, [[0, 0.5, 0.25], [0.5, 0, 0.75], [0.25, 0.75, 0]])


def test_rescued_and_lost():
    labels = np.array([0, 1, 2, 3])
    rescued, lost = ensemble.rescued_and_lost(
        np.array([0, 1, 0, 0]), np.array([0, 0, 2, 0]), labels
    )
    assert rescued == [1] and lost == [2]


def test_per_class_accuracy_with_an_absent_class():
    out = ensemble.per_class_accuracy(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]), 3)
    np.testing.assert_allclose(out[:2], [1.0, 2 / 3])
    assert np.isnan(out[2])


def test_accuracy_curve_adds_members_in_order():
    labels = np.array([0, 1, 2])
    a = rows([0.4, 0.6, 0.0], [0.0, 0.9, 0.1], [0.0, 0.1, 0.9])
    b = rows([0.9, 0.1, 0.0], [0.6, 0.4, 0.0], [0.0, 0.1, 0.9])
    c = rows([0.9, 0.0, 0.1], [0.0, 0.9, 0.1], [0.0, 0.6, 0.4])
    # With a and b: image 0 -> (0.65, 0.35): right; image 1 -> (0.3, 0.65): right; image 2 right.
    assert ensemble.accuracy_curve([a, b, c], labels) == pytest.approx([2 / 3, 1.0, 1.0])
    # Vote with a and b: image 0 tie (1 vs 0) broken by sum 1.3 vs 0.7 -> class 0, right.
    assert ensemble.accuracy_curve([a, b, c], labels, "vote") == pytest.approx([2 / 3, 1.0, 1.0])


def test_evaluate_ensemble_hand_case_with_pitfall_figures():
    labels = np.array([0, 1, 2])
    a = rows([0.4, 0.6, 0.0], [0.0, 0.9, 0.1], [0.0, 0.1, 0.9])
    b = rows([0.9, 0.1, 0.0], [0.6, 0.4, 0.0], [0.0, 0.1, 0.9])
    c = rows([0.9, 0.0, 0.1], [0.0, 0.9, 0.1], [0.0, 0.6, 0.4])
    perfect = np.eye(3)  # on the training images every member is right
    members = [
        MemberPredictions(n, test=p, validation=p, train=perfect)
        for n, p in zip("abc", (a, b, c), strict=True)
    ]
    result = ensemble.evaluate_ensemble(
        members, labels, validation_labels=labels, train_labels=np.eye(3), class_names="xyz"
    )
    assert result.member_test_accuracy == pytest.approx([2 / 3] * 3)
    assert result.best_member == 0  # the first of equals
    assert result.combiner_test_accuracy[ensemble.AVERAGE] == 1.0
    assert result.beats_best_member
    assert sum(result.weights) == pytest.approx(1.0)
    np.testing.assert_allclose(result.weights, [1 / 3] * 3)
    assert result.rescued == [0] and result.lost == []
    assert result.disagreement[0][1] == pytest.approx(2 / 3)
    assert result.per_class["best member"] == pytest.approx([0.0, 1.0, 1.0])
    assert result.train_vs_test["a"] == pytest.approx((1.0, 2 / 3))
    assert result.train_vs_test[ensemble.COMBINER_LABELS[ensemble.AVERAGE]] == (1.0, 1.0)
    assert result.class_names == ["x", "y", "z"]
    assert set(result.combiner_test_accuracy) == set(ensemble.COMBINERS)


def test_without_validation_weighted_and_stacking_are_skipped_with_a_note():
    labels = np.array([0, 1])
    members = [MemberPredictions(n, test=np.eye(2)) for n in "ab"]
    result = ensemble.evaluate_ensemble(members, labels)
    assert set(result.combiner_test_accuracy) == {ensemble.AVERAGE, ensemble.VOTE}
    assert result.weights is None and result.notes


def test_probabilities_of_different_shapes_are_refused_with_member_names():
    members = [
        MemberPredictions("small", test=np.eye(3)),
        MemberPredictions("big", test=np.ones((4, 3)) / 3),
    ]
    with pytest.raises(ValueError, match="small.*big"):
        ensemble.evaluate_ensemble(members, [0, 1, 2])


# --- member checks ----------------------------------------------------------------------------


def test_mixed_datasets_are_refused_naming_the_members():
    members = [
        FakeRecord("two conv 1"),
        FakeRecord("two conv 2"),
        FakeRecord("cifar net", dataset="cifar10", input_shape=(32, 32, 3)),
    ]
    with pytest.raises(ValueError, match="dataset") as err:
        ensemble.check_members(members)
    assert "cifar net (cifar10)" in str(err.value)
    assert "two conv 1, two conv 2 (mnist)" in str(err.value)


def test_different_class_lists_and_shapes_are_refused():
    with pytest.raises(ValueError, match="classes.*odd"):
        ensemble.check_members([FakeRecord("a"), FakeRecord("odd", class_names=("0", "1"))])
    with pytest.raises(ValueError, match="input shape.*big"):
        ensemble.check_members([FakeRecord("a"), FakeRecord("big", input_shape=(32, 32, 1))])
    with pytest.raises(ValueError, match="at least two"):
        ensemble.check_members([FakeRecord("alone")])
    with pytest.raises(ValueError, match="twice"):
        ensemble.check_members([FakeRecord("a"), FakeRecord("a")])
    ensemble.check_members([FakeRecord("a"), FakeRecord("b")])  # compatible: no error


def _tiny_dataset(num_train=203, num_test=20):
    from cnnlib.datasets import Dataset

    rng = np.random.default_rng(3)
    return Dataset(
        name="mnist",
        x_train=rng.integers(0, 256, size=(num_train, 4, 4, 1), dtype=np.uint8),
        y_train=rng.integers(0, 10, size=num_train),
        x_test=rng.integers(0, 256, size=(num_test, 4, 4, 1), dtype=np.uint8),
        y_test=rng.integers(0, 10, size=num_test),
        class_names=[str(i) for i in range(10)],
        source="test",
    )


@pytest.mark.parametrize("split", [0.1, 0.15, 0.25])
def test_training_indices_match_the_training_engine(split):
    from cnnlib import datasets
    from cnnlib.training import TrainSettings
    from cnnlib.training.data import TrainingData

    full = _tiny_dataset()
    engine = TrainingData(full, TrainSettings(validation_split=split))
    seen = ensemble.training_indices(len(full.y_train), split)
    np.testing.assert_array_equal(full.x_train[seen], engine.x_train)
    unseen = np.setdiff1d(np.arange(len(full.y_train)), seen)
    np.testing.assert_array_equal(full.x_train[unseen], engine.x_val)
    # A member trained on a subset: its record names the subset, and the images it learned
    # from are those the engine trains on when given that subset.
    part = datasets.subset(full, 90, 10, seed=7)
    engine = TrainingData(part, TrainSettings(validation_split=split))
    record = FakeRecord("m")
    record.settings = {"train_images": 90, "data_seed": 7, "validation_split": split}
    record.validation_fraction = None
    record.source = "trained"
    seen = ensemble.record_training_indices(record, full.y_train)
    np.testing.assert_array_equal(full.x_train[seen], engine.x_train)
    np.testing.assert_array_equal(full.y_train[seen], engine.y_train)


def test_records_name_the_images_they_learned_from():
    from cnnlib import datasets
    from cnnlib.training import TrainSettings
    from cnnlib.training.data import TrainingData

    record = FakeRecord("m")
    record.settings, record.validation_fraction, record.source = {"train_images": 100}, 0.1, ""
    # The whole set: everything but the last tenth.
    np.testing.assert_array_equal(
        ensemble.record_training_indices(record, np.zeros(100)), np.arange(90)
    )
    # A subset picked with the training seed, as the MNIST and CIFAR-10 pages pick it.
    full = _tiny_dataset()
    record.settings = {"train_images": 50, "seed": 4, "validation_split": 0.2}
    record.validation_fraction = None
    seen = ensemble.record_training_indices(record, full.y_train)
    part = datasets.subset(full, 50, 10, seed=4)
    engine = TrainingData(part, TrainSettings(validation_split=0.2))
    np.testing.assert_array_equal(full.x_train[seen], engine.x_train)
    # Unknown: no training-set size recorded, or a plain Keras upload.
    record.settings = {"validation_split": 0.1}
    assert ensemble.record_training_indices(record, full.y_train) is None
    record.settings, record.source = {"train_images": 100}, "upload"
    assert ensemble.record_training_indices(record, full.y_train) is None


def test_judging_sets_hand_case():
    # Member a learned 0..5, member b learned 3..7 of ten images: validation = {8, 9} (nobody
    # learned them), training sample = {3, 4, 5} (everybody did).
    sets = ensemble.judging_sets(10, {"a": np.arange(6), "b": np.arange(3, 8)})
    assert sets.validation.tolist() == [8, 9]
    assert sets.train_sample.tolist() == [3, 4, 5]
    assert not sets.notes
    capped = ensemble.judging_sets(10, {"a": np.arange(6), "b": np.arange(3, 8)}, train_sample=2)
    assert len(capped.train_sample) == 2 and set(capped.train_sample) <= {3, 4, 5}
    unknown = ensemble.judging_sets(10, {"a": np.arange(6), "upload": None})
    assert unknown.validation is None and "upload" in unknown.notes[0]
    everything = ensemble.judging_sets(4, {"a": np.arange(4), "b": np.arange(4)})
    assert everything.validation is None and "validation split" in everything.notes[0]


# --- table and figures ------------------------------------------------------------------------


def _hand_result():
    labels = np.array([0, 1, 2])
    a = rows([0.4, 0.6, 0.0], [0.0, 0.9, 0.1], [0.0, 0.1, 0.9])
    b = rows([0.9, 0.1, 0.0], [0.6, 0.4, 0.0], [0.0, 0.1, 0.9])
    c = rows([0.9, 0.0, 0.1], [0.0, 0.9, 0.1], [0.0, 0.6, 0.4])
    members = [
        MemberPredictions(n, test=p, validation=p, train=np.eye(3))
        for n, p in zip("abc", (a, b, c), strict=True)
    ]
    return ensemble.evaluate_ensemble(
        members, labels, validation_labels=labels, train_labels=labels
    )


def test_accuracy_table_lists_members_then_combiners():
    table = ensemble.accuracy_table(_hand_result())
    assert [r["model"] for r in table[:3]] == ["a", "b", "c"]
    assert [r["kind"] for r in table] == ["best member", "member", "member"] + ["combiner"] * 4
    assert sum(r["weight"] for r in table[:3]) == pytest.approx(1.0)
    assert table[3]["test accuracy"] == 1.0


def test_figures_show_the_measured_numbers():
    from cnnlib import figures_ensemble

    result = _hand_result()
    bars = figures_ensemble.accuracy_bars(result)
    assert list(bars.data[0].x[:3]) == ["a", "b", "c"]
    assert list(bars.data[0].y) == pytest.approx([200 / 3] * 3 + [100.0, 100.0, 100.0, 100.0])
    heat = figures_ensemble.disagreement_heatmap(result)
    np.testing.assert_allclose(heat.data[0].z, np.asarray(result.disagreement) * 100)
    curve = figures_ensemble.accuracy_curve(result)
    assert list(curve.data[0].y) == pytest.approx([200 / 3, 100.0, 100.0])
    pitfall = figures_ensemble.train_vs_test_bars(result)
    assert list(pitfall.data[0].y) == pytest.approx([100.0] * 4)  # training set
    assert list(pitfall.data[1].y) == pytest.approx([200 / 3] * 3 + [100.0])  # test set
    per_class = figures_ensemble.per_class_bars(result)
    assert per_class.data[0].name == "best member (a)"


def test_labelled_grid_places_images_and_colours_the_labels():
    from cnnlib import figures_ensemble

    first = np.full((28, 28), 200, dtype=np.uint8)
    second = np.zeros((28, 28, 1), dtype=np.uint8)
    second[:14] = 90
    grid = figures_ensemble.labelled_grid(
        [first, second], [[("best: 3", False)], [("ens.: 7", True)]], columns=2, cell=84
    )
    tile_w = 84 + 8
    assert grid.shape[1] == 2 * tile_w and grid.dtype == np.uint8
    # Each image is enlarged three times (28 -> 84) at its tile's corner, in grey.
    np.testing.assert_array_equal(grid[4:88, 4:88], 200)
    np.testing.assert_array_equal(grid[4:46, tile_w + 4 : tile_w + 88], 90)
    np.testing.assert_array_equal(grid[46:88, tile_w + 4 : tile_w + 88], 0)
    # Text beneath: red under the first (wrong), green under the second (right).
    below = grid[88:]
    red = np.all(below == figures_ensemble.WRONG, axis=-1)
    green = np.all(below == figures_ensemble.RIGHT, axis=-1)
    assert red[:, :tile_w].any() and not red[:, tile_w:].any()
    assert green[:, tile_w:].any() and not green[:, :tile_w].any()
    with pytest.raises(ValueError):
        figures_ensemble.labelled_grid([], [])


def test_pitfall_lesson_follows_the_sign_of_the_measured_gap():
    rosy = ensemble.pitfall_lesson(0.995, 0.93, "cifar10")
    assert "+6.50 points" in rosy and "memorised" in rosy and "too rosy" in rosy
    assert "longer training" in rosy and "augmentation" in rosy
    assert "12 epochs on 1,000 MNIST images" in rosy  # a setting the ensemble page offers
    # The short runs the page encourages: lower on training images than on test images.
    below = ensemble.pitfall_lesson(0.962, 0.973, "mnist")
    assert "96.20%" in below and "97.30%" in below and "-1.10 points" in below
    assert "too rosy" not in below and "worse on images it learned from" in below
    assert "MNIST's test set is known to be slightly easier" in below
    assert "longer training" in below
    other = ensemble.pitfall_lesson(0.90, 0.93, "cifar10")
    assert "worse on images" in other and "MNIST's test set" not in other
    even = ensemble.pitfall_lesson(0.971, 0.973, "mnist")
    assert "agree" in even and "too rosy" not in even and "MNIST's test set" not in even
    with pytest.raises(ValueError, match="fractions"):
        ensemble.pitfall_lesson(97.0, 0.9)


def test_identical_members_are_named_in_a_note():
    labels = np.array([0, 1, 1])
    a = rows([0.9, 0.1], [0.2, 0.8], [0.6, 0.4])
    same_labels = rows([0.8, 0.2], [0.3, 0.7], [0.7, 0.3])
    other = rows([0.1, 0.9], [0.2, 0.8], [0.3, 0.7])
    members = [
        MemberPredictions("a", test=a),
        MemberPredictions("copy of a", test=a.copy()),
        MemberPredictions("twin", test=same_labels),
        MemberPredictions("distinct", test=other),
    ]
    notes = ensemble.evaluate_ensemble(members, labels).notes
    copies = [n for n in notes if "same probabilities" in n]
    assert copies == [next(n for n in notes if n.startswith("a and copy of a"))]
    assert "same model" in copies[0]
    twins = [n for n in notes if "same class for every test image" in n]
    assert {n.split(" predict")[0] for n in twins} == {"a and twin", "copy of a and twin"}
    assert not any("distinct" in n for n in notes)
    distinct = [MemberPredictions("a", test=a), MemberPredictions("distinct", test=other)]
    assert not any("same" in n for n in ensemble.evaluate_ensemble(distinct, labels).notes)
