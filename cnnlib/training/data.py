"""The arrays a training job works on, checked once when the job is made: training,
validation (the last fraction of the training images, or a set of their own) and test parts,
and whether a given Keras model fits them."""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnlib.training.settings import TrainSettings


class TrainingData:
    """The arrays a job trains on, checked once: train, validation and test parts."""

    def __init__(self, data: Any, settings: TrainSettings) -> None:
        for attribute in ("x_train", "y_train", "x_test", "y_test", "class_names"):
            if not hasattr(data, attribute):
                raise ValueError(
                    f"The data has no {attribute}: pass a cnnlib.datasets.Dataset or any "
                    "object with x_train, y_train, x_test, y_test and class_names."
                )
        self.class_names = [str(name) for name in data.class_names]
        x_train, y_train = self._pair(data.x_train, data.y_train, "train")
        x_val = getattr(data, "x_val", None)
        if x_val is not None:
            x_val, y_val = self._pair(x_val, getattr(data, "y_val", None), "validation")
        elif settings.validation_split > 0:
            # The last fraction, not a random one, so that every model trained on the same
            # data in a session validates on the same images.
            count = int(round(len(x_train) * settings.validation_split))
            if not 1 <= count < len(x_train):
                raise ValueError(
                    f"validation_split {settings.validation_split} of {len(x_train)} training "
                    "images leaves no validation or no training images; change the split."
                )
            x_train, x_val = x_train[:-count], x_train[-count:]
            y_train, y_val = y_train[:-count], y_train[-count:]
        else:
            y_val = None
        self.x_train, self.y_train = x_train, y_train
        self.x_val, self.y_val = x_val, y_val
        self.x_test, self.y_test = self._pair(data.x_test, data.y_test, "test")
        for part in (self.x_val, self.x_test):
            if part is not None and part.shape[1:] != x_train.shape[1:]:
                raise ValueError(
                    f"Training images have shape {x_train.shape[1:]} but others have "
                    f"{part.shape[1:]}; all images of a data set must have one shape."
                )
        if settings.augment_shift >= min(x_train.shape[1:3]):
            raise ValueError(
                f"augment_shift {settings.augment_shift} is too large for "
                f"{x_train.shape[1]}x{x_train.shape[2]} images; use a few pixels."
            )

    def _pair(self, x: Any, y: Any, part: str) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(x)
        y = np.asarray(y)
        if x.ndim != 4:
            raise ValueError(
                f"x_{part} must have shape (N, height, width, channels); got {x.shape}."
            )
        if y.shape != (len(x),):
            raise ValueError(
                f"y_{part} must hold one label per image: shape ({len(x)},); got {y.shape}."
            )
        if part == "train" and len(x) == 0:
            raise ValueError("The training set is empty; give the job at least one image.")
        if len(y) and (y.min() < 0 or y.max() >= len(self.class_names)):
            raise ValueError(
                f"y_{part} holds labels outside 0..{len(self.class_names) - 1}; class_names "
                "must name every class."
            )
        return x, y.astype(np.int64, copy=False)

    def check_model(self, model: Any) -> None:
        """Refuse a Keras model whose input or output does not fit these images and classes."""
        expected = tuple(self.x_train.shape[1:])
        got = tuple(model.input_shape[1:])
        if got != expected:
            raise ValueError(
                f"The model takes inputs of shape {got} but the images have shape {expected}; "
                "use a model made for this data set."
            )
        outputs = model.output_shape[-1]
        if outputs != len(self.class_names):
            raise ValueError(
                f"The model has {outputs} outputs but the data has {len(self.class_names)} "
                f"classes; make the last Dense layer {len(self.class_names)} units wide."
            )
