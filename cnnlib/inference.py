"""Reading images with a trained Keras model: class probabilities, feature maps, and the
mistakes and per-class scores worked out from them.

`predict_proba` accepts images as they come (uint8 0..255 or float 0..1, with or without the
batch and channel axes) and, for the one or few images a drawing gives, calls the model
through a compiled `tf.function` kept per model instead of `model.predict`, whose per-call
setup costs far more than a small CNN's forward pass (about 1 ms against 50 ms for the
lecture's two-convolution model on one image). `feature_maps` returns the output of every
Conv2D layer for one image, building the sub-model that exposes them once per model;
`warm_up` compiles both for a model ahead of its first image (tracing takes a few hundred
milliseconds, which a student would otherwise wait for after the first stroke). Scores
worked out from probabilities (accuracy, confusion, mistakes) are `cnnlib.metrics`'; training
lives in `cnnlib.training`; figures of these results in `cnnlib.figures`.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from cnnlib.i18n import _
from cnnlib.metrics import predict_in_chunks

# Up to this many images, call the model directly; above it `predict_in_chunks` batches the work.
DIRECT_CALL_LIMIT = 64

# Compiled forward passes, one per model (and one per feature-map sub-model), dropped when
# the model is. They reach the model through a weak reference so that the cache never keeps a
# model alive.
_forward_passes: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
_feature_models: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
# Models whose forward passes have been traced by `warm_up`.
_warmed: weakref.WeakSet[Any] = weakref.WeakSet()


def model_input_shape(model: Any) -> tuple[int, ...]:
    """The shape of one input image, e.g. (28, 28, 1), without the batch axis."""
    shape = model.inputs[0].shape if getattr(model, "inputs", None) else model.input_shape
    return tuple(int(size) for size in tuple(shape)[1:])


def as_batch(images: Any, input_shape: tuple[int, ...]) -> np.ndarray:
    """Images as a float32 batch (N, *input_shape) scaled to 0..1.

    Integer images (uint8 as datasets hold them) are pixel values 0..255 and are divided by
    255; float images are taken to be in 0..1 already, as the models were trained on. A single
    image may leave out the batch axis, and grey images may leave out their channel axis.
    """
    array = np.asarray(images)
    if np.issubdtype(array.dtype, np.integer) and array.dtype != np.bool_:
        batch = array.astype(np.float32) / 255.0
    elif np.issubdtype(array.dtype, np.floating):
        batch = array.astype(np.float32)
    else:
        raise ValueError(
            _("Images must be numbers (uint8 or float), not {dtype}.").format(dtype=array.dtype)
        )
    target = tuple(input_shape)
    if batch.shape == target:
        return batch[None]
    if batch.shape[1:] == target:
        return batch
    # Grey images without their channel axis: (H, W) or (N, H, W) for a (H, W, 1) input.
    if len(target) == 3 and target[2] == 1:
        if batch.shape == target[:2]:
            return batch[None, :, :, None]
        if batch.shape[1:] == target[:2]:
            return batch[:, :, :, None]
    raise ValueError(
        _(
            "The model reads images of shape {target}, but got an array of shape {shape}. Use "
            "images of the size and number of channels the model was trained on."
        ).format(target=target, shape=array.shape)
    )


def predict_proba(model: Any, images: Any, batch_size: int = 256) -> np.ndarray:
    """Class probabilities, float32 (N, classes), for one image or a batch."""
    batch = as_batch(images, model_input_shape(model))
    if len(batch) <= DIRECT_CALL_LIMIT:
        probabilities = np.asarray(_forward(model)(batch), dtype=np.float32)
    else:
        probabilities = predict_in_chunks(model, batch, chunk=batch_size)
    return probabilities.reshape(len(batch), -1)


def _forward(model: Any) -> Any:
    """A function batch -> model output in inference mode, compiled once per model."""
    forward = _forward_passes.get(model)
    if forward is not None:
        return forward
    import keras

    model_ref = weakref.ref(model)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        spec = tf.TensorSpec((None, *model_input_shape(model)), tf.float32)

        @tf.function(input_signature=[spec], reduce_retracing=True)
        def forward(batch):
            return model_ref()(batch, training=False)

    else:

        def forward(batch):
            return model_ref()(batch, training=False)

    _forward_passes[model] = forward
    return forward


def warm_up(model: Any) -> None:
    """Trace the compiled forward passes of `predict_proba` and `feature_maps` for `model` on a
    blank image, once per model; later calls return at once."""
    if model in _warmed:
        return
    blank = np.zeros(model_input_shape(model), dtype=np.float32)
    predict_proba(model, blank)
    feature_maps(model, blank)
    _warmed.add(model)


def conv_layer_names(model: Any) -> list[str]:
    """Names of the model's Conv2D layers, in the order the model applies them."""
    from keras import layers

    return [layer.name for layer in model.layers if isinstance(layer, layers.Conv2D)]


def feature_maps(model: Any, image: Any) -> list[tuple[str, np.ndarray]]:
    """(layer name, float32 (H, W, C) output) of each Conv2D layer for one image."""
    batch = as_batch(image, model_input_shape(model))
    if len(batch) != 1:
        raise ValueError(
            _("feature_maps reads one image at a time, got {count}.").format(count=len(batch))
        )
    names = conv_layer_names(model)
    if not names:
        return []
    exposer = _feature_models.get(model)
    if exposer is None:
        import keras

        outputs = [model.get_layer(name).output for name in names]
        inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
        exposer = keras.Model(inputs, outputs, name=f"{model.name}_feature_maps")
        _feature_models[model] = exposer
    outputs = _forward(exposer)(batch)
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    return [
        (name, np.asarray(output, dtype=np.float32)[0])
        for name, output in zip(names, outputs, strict=True)
    ]
