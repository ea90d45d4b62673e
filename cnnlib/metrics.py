"""How well a classifier reads a set of images: accuracy, the confusion matrix, per-class
accuracy, the most confident mistakes, and the chunked prediction that produces the
probabilities they are computed from.

Every function here takes NumPy arrays; predictions may be given as probabilities (N, C) or as
predicted labels (N,). `predict_in_chunks` is the one way the project predicts a whole set
(training's validation and test passes, ensembles, large inference batches): uint8 images are
scaled to [0, 1] a chunk at a time, so a data set is never held as float32 in full. Figures of
these results are `cnnlib.figures`'.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

# Images predicted per call: large enough to keep the CPU busy, small enough that a chunk of
# 64×64 colour images stays a few tens of megabytes.
PREDICT_CHUNK = 500


class PredictionStopped(Exception):
    """Raised by `predict_in_chunks` when its `should_stop()` turned true between chunks."""


def to_float(images: np.ndarray) -> np.ndarray:
    """uint8 pixels scaled to float32 in [0, 1]; other arrays are taken as already scaled."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return np.multiply(images, np.float32(1 / 255), dtype=np.float32)
    return images.astype(np.float32, copy=False)


def predict_in_chunks(
    model: Any,
    images: np.ndarray,
    chunk: int = PREDICT_CHUNK,
    should_stop: Callable[[], bool] | None = None,
) -> np.ndarray:
    """A Keras model's outputs for `images`, (N, C) float32, `chunk` images at a time.

    A short last chunk is padded to the full chunk size so that the compiled prediction step
    sees a single shape and is traced once, not again for each remainder. `should_stop` is
    asked before each chunk; when it answers True, `PredictionStopped` is raised.
    """
    parts = []
    for start in range(0, len(images), chunk):
        if should_stop is not None and should_stop():
            raise PredictionStopped
        batch = to_float(images[start : start + chunk])
        size = len(batch)
        if size < chunk < len(images):
            padding = np.zeros((chunk - size, *batch.shape[1:]), np.float32)
            batch = np.concatenate([batch, padding])
        outputs = np.asarray(model.predict_on_batch(batch), dtype=np.float32)
        parts.append(outputs.reshape(len(batch), -1)[:size])
    if not parts:
        return np.zeros((0, int(model.output_shape[-1])), dtype=np.float32)
    return np.concatenate(parts)


def predicted_labels(predictions: Any) -> np.ndarray:
    """Labels from probabilities (the argmax of each row) or labels given as they are."""
    predictions = np.asarray(predictions)
    if predictions.ndim == 2:
        return predictions.argmax(axis=1)
    if predictions.ndim != 1:
        raise ValueError(
            f"Predictions must be probabilities (N, classes) or labels (N,); got shape "
            f"{predictions.shape}."
        )
    return predictions.astype(np.int64, copy=False)


def _labels(predictions: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    predicted = predicted_labels(predictions)
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    if len(predicted) != len(labels):
        raise ValueError(
            f"Need one row of probabilities per label; got {len(predicted)} rows for "
            f"{len(labels)} labels."
        )
    return predicted, labels


def _num_classes(predictions: Any, labels: np.ndarray, num_classes: int | None) -> int:
    if num_classes is not None:
        return int(num_classes)
    predictions = np.asarray(predictions)
    if predictions.ndim == 2:
        return int(predictions.shape[1])
    return int(max(labels.max(initial=-1), predictions.max(initial=-1)) + 1)


def accuracy(predictions: Any, labels: Any) -> float:
    """The share of images read correctly; NaN when there are none."""
    predicted, labels = _labels(predictions, labels)
    return float(np.mean(predicted == labels)) if len(labels) else math.nan


def confusion_matrix(predictions: Any, labels: Any, num_classes: int | None = None) -> np.ndarray:
    """int64 (classes, classes): row = true class, column = predicted class."""
    predicted, labels = _labels(predictions, labels)
    classes = _num_classes(predictions, labels, num_classes)
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    return matrix


def per_class_accuracy(predictions: Any, labels: Any, num_classes: int | None = None) -> np.ndarray:
    """float64 (classes,): the share of each class's images read correctly; NaN if none."""
    matrix = confusion_matrix(predictions, labels, num_classes)
    totals = matrix.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diag(matrix) / np.maximum(totals, 1), np.nan)


def classification_report(
    probabilities: np.ndarray, labels: np.ndarray, class_names: Sequence[str]
) -> dict:
    """Loss, accuracy, per-class accuracy and confusion matrix of softmax outputs.

    Returns {"loss": float, "accuracy": float, "per_class_accuracy": [float | None per class],
    "confusion": [[count]] (row: true class, column: predicted class), "class_names": [str]}.
    The loss is the mean cross-entropy, with probabilities clipped as Keras clips them.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels).astype(np.int64)
    classes = len(class_names)
    if probabilities.shape != (len(labels), classes):
        raise ValueError(
            f"probabilities must have shape ({len(labels)}, {classes}); got {probabilities.shape}."
        )
    confusion = confusion_matrix(probabilities, labels, classes)
    picked = np.clip(probabilities[np.arange(len(labels)), labels], 1e-7, 1 - 1e-7)
    per_class = per_class_accuracy(probabilities, labels, classes)
    return {
        "loss": float(-np.log(picked).mean()) if len(labels) else math.nan,
        "accuracy": accuracy(probabilities, labels),
        "per_class_accuracy": [None if math.isnan(value) else float(value) for value in per_class],
        "confusion": confusion.tolist(),
        "class_names": [str(name) for name in class_names],
    }


def misclassified(probabilities: Any, labels: Any, k: int | None = None) -> list[dict[str, Any]]:
    """The wrongly read images, most confident mistakes first, at most k of them.

    Each is {"index", "true", "predicted", "probability" (of the prediction),
    "true_probability"}, all plain ints and floats.
    """
    probabilities = np.asarray(probabilities, dtype=np.float32)
    if probabilities.ndim != 2:
        raise ValueError(f"Need probabilities (N, classes); got shape {probabilities.shape}.")
    predicted, labels = _labels(probabilities, labels)
    wrong = np.flatnonzero(predicted != labels)
    confidence = probabilities[wrong, predicted[wrong]]
    order = wrong[np.argsort(-confidence, kind="stable")]
    if k is not None:
        order = order[: max(0, int(k))]
    return [
        {
            "index": int(index),
            "true": int(labels[index]),
            "predicted": int(predicted[index]),
            "probability": float(probabilities[index, predicted[index]]),
            "true_probability": float(probabilities[index, labels[index]]),
        }
        for index in order
    ]
