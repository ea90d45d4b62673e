"""Scores and chunked prediction against independent references: hand counts, scikit-learn's
confusion matrix and recall, and the Keras model called directly."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix as sk_confusion_matrix
from sklearn.metrics import recall_score

from cnnlib import metrics

CLASS_NAMES = ["a", "b", "c"]


def test_classification_report_against_hand_counts():
    probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.6, 0.3, 0.1], [0.2, 0.2, 0.6]])
    labels = np.array([0, 1, 1, 2])
    report = metrics.classification_report(probabilities, labels, CLASS_NAMES)
    assert report["confusion"] == [[1, 0, 0], [1, 1, 0], [0, 0, 1]]
    assert report["per_class_accuracy"] == [1.0, 0.5, 1.0]
    assert report["accuracy"] == 0.75
    assert report["loss"] == pytest.approx(-np.mean(np.log([0.7, 0.8, 0.3, 0.6])))
    empty_class = metrics.classification_report(probabilities[:2], labels[:2], CLASS_NAMES)
    assert empty_class["per_class_accuracy"][2] is None


PROBABILITIES = np.array(
    [
        [0.9, 0.05, 0.05],  # 0 read as 0
        [0.2, 0.7, 0.1],  # 2 read as 1 (0.7)
        [0.1, 0.1, 0.8],  # 2 read as 2
        [0.6, 0.3, 0.1],  # 1 read as 0 (0.6)
        [0.05, 0.05, 0.9],  # 0 read as 2 (0.9)
        [0.3, 0.4, 0.3],  # 1 read as 1
    ]
)
LABELS = np.array([0, 2, 2, 1, 0, 1])


def test_misclassified_lists_the_most_confident_mistakes_first():
    mistakes = metrics.misclassified(PROBABILITIES, LABELS)
    assert [m["index"] for m in mistakes] == [4, 1, 3]
    assert mistakes[0] == {
        "index": 4,
        "true": 0,
        "predicted": 2,
        "probability": pytest.approx(0.9),
        "true_probability": pytest.approx(0.05),
    }
    assert [m["index"] for m in metrics.misclassified(PROBABILITIES, LABELS, k=2)] == [4, 1]
    assert metrics.misclassified(PROBABILITIES, np.argmax(PROBABILITIES, axis=1)) == []


def test_scores_match_scikit_learn():
    rng = np.random.default_rng(3)
    probabilities = rng.dirichlet(np.ones(5), size=300)
    labels = rng.integers(0, 5, size=300)
    predicted = probabilities.argmax(axis=1)
    np.testing.assert_array_equal(
        metrics.confusion_matrix(probabilities, labels),
        sk_confusion_matrix(labels, predicted, labels=range(5)),
    )
    np.testing.assert_allclose(
        metrics.per_class_accuracy(probabilities, labels),
        recall_score(labels, predicted, average=None, labels=range(5)),
    )
    assert metrics.accuracy(probabilities, labels) == pytest.approx((predicted == labels).mean())


def test_a_class_without_images_has_no_accuracy():
    per_class = metrics.per_class_accuracy(PROBABILITIES[:3], LABELS[:3])
    assert per_class[0] == 1.0 and np.isnan(per_class[1]) and per_class[2] == 0.5


def test_mismatched_labels_are_refused():
    with pytest.raises(ValueError, match="one row of probabilities per label"):
        metrics.misclassified(PROBABILITIES, LABELS[:3])


def test_chunked_prediction_scales_uint8_like_the_training_engine():
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(3, "softmax")]
    )
    images = np.random.default_rng(0).integers(0, 256, size=(25, 4, 4, 1), dtype=np.uint8)
    expected = model(images.astype(np.float32) / 255.0).numpy()
    got = metrics.predict_in_chunks(model, images, chunk=7)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert metrics.predict_in_chunks(model, images[:0]).shape == (0, 3)


def test_chunked_prediction_pads_the_last_chunk_and_can_be_stopped():
    import keras

    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(3, "softmax")]
    )
    images = np.random.default_rng(1).integers(0, 256, size=(23, 4, 4, 1), dtype=np.uint8)
    shapes = []
    original = model.predict_on_batch
    model.predict_on_batch = lambda batch: shapes.append(batch.shape) or original(batch)
    got = metrics.predict_in_chunks(model, images, chunk=10)
    assert got.shape == (23, 3) and shapes == [(10, 4, 4, 1)] * 3
    calls = []
    with pytest.raises(metrics.PredictionStopped):
        metrics.predict_in_chunks(
            model, images, chunk=10, should_stop=lambda: calls.append(1) or len(calls) > 1
        )


def test_labels_and_probabilities_give_the_same_scores():
    rng = np.random.default_rng(4)
    probabilities = rng.dirichlet(np.ones(4), size=50)
    labels = rng.integers(0, 4, size=50)
    predicted = probabilities.argmax(axis=1)
    assert metrics.accuracy(predicted, labels) == metrics.accuracy(probabilities, labels)
    np.testing.assert_array_equal(
        metrics.confusion_matrix(predicted, labels, 4),
        metrics.confusion_matrix(probabilities, labels),
    )
    assert np.isnan(metrics.accuracy(predicted[:0], labels[:0]))
