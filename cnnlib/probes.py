"""Live looks inside a network while it trains, in the spirit of ConvNetJS's demo pages.

`LiveProbe` is called by a training job between batches (see `cnnlib.training.TrainingJob`'s
`probe` argument). Each call returns plain data for the page to draw:

- per layer: kind, output shape, the smallest and largest activation for the current training
  image, and a few of its activation maps (as 8-bit images, so the snapshot stays small);
- per convolution layer: its filter weights as 8-bit images (the first layer in colour when the
  input has three channels);
- a stream of test images with the network's top three classes, each prediction averaged over
  a few augmented copies (flips and small shifts), and the accuracy over the last 200 of them;
- with `ProbeConfig.gradients` (ConvNetJS's view of backpropagation): the loss on the current
  training image, and per layer the smallest and largest gradient of that loss with respect to
  the layer's output, a few gradient maps beside the activation maps, and for layers with
  weights the range of the weights and of their gradients. They come from one compiled
  forward and backward pass on that one image in inference mode (no dropout), at the probe's
  own interval, so they cost about what the activations do.

Nothing here draws or imports Streamlit; figures are `cnnlib.figures`' job.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from cnnlib.augment import augmented_copies

# How many maps or filters of one layer are sent to the page at most: more would not fit on
# screen and would make every snapshot heavier.
MAX_MAPS = 16
MAX_FILTERS = 32


@dataclass
class ProbeConfig:
    stream_batch: int = 6  # test images classified per probe call
    stream_window: int = 200  # rolling accuracy is over this many recent test images
    stream_keep: int = 12  # most recent test predictions kept for display
    augment_copies: int = 4  # predictions averaged over this many augmented copies
    max_shift: int = 2  # pixels, for the augmented copies
    gradients: bool = True  # also report activation and weight gradients of the probe image


def signed_to_uint8(array: np.ndarray) -> np.ndarray:
    """Scale a signed array (a gradient) so that 0 is mid-grey (128), the largest magnitude
    255 if positive or 1 if negative; an all-zero array is mid-grey throughout."""
    array = np.asarray(array, dtype=np.float32)
    reach = float(np.abs(array).max(initial=0.0))
    if reach < 1e-30:
        return np.full(array.shape, 128, dtype=np.uint8)
    return np.round(128 + array / reach * 127).astype(np.uint8)


def _ends_in_softmax(model) -> bool:
    import keras
    from keras import layers

    last = model.layers[-1]
    return isinstance(last, layers.Softmax) or (
        getattr(last, "activation", None) is keras.activations.softmax
    )


def to_uint8(array: np.ndarray) -> np.ndarray:
    """Scale an array to 0..255 by its own minimum and maximum (flat arrays become mid-grey)."""
    array = np.asarray(array, dtype=np.float32)
    low, high = float(array.min()), float(array.max())
    if high - low < 1e-12:
        return np.full(array.shape, 128, dtype=np.uint8)
    return np.round((array - low) / (high - low) * 255).astype(np.uint8)


class LiveProbe:
    """Collects activations, filters and test predictions for the CIFAR-10 style live page."""

    def __init__(
        self,
        x_test: np.ndarray,
        y_test: np.ndarray,
        class_names: list[str] | tuple[str, ...],
        config: ProbeConfig | None = None,
    ) -> None:
        if len(x_test) == 0:
            raise ValueError("The live view needs at least one test image.")
        self.x_test = x_test
        self.y_test = np.asarray(y_test)
        self.class_names = list(class_names)
        self.config = config or ProbeConfig()
        self._cursor = 0
        self._recent_correct: deque[bool] = deque(maxlen=self.config.stream_window)
        self._stream: deque[dict[str, Any]] = deque(maxlen=self.config.stream_keep)
        self._model_id: int | None = None
        self._layer_model = None
        self._layers: list[Any] = []
        self._gradient_step = None  # compiled forward and backward pass, if gradients are on

    def _prepare(self, model) -> None:
        import keras

        if self._model_id == id(model):
            return
        self._layers = [layer for layer in model.layers if layer.__class__.__name__ != "InputLayer"]
        # A single input is passed as a tensor, not a one-element list, to match how the
        # training job calls the model.
        inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
        self._layer_model = keras.Model(inputs, [layer.output for layer in self._layers])
        self._gradient_step = self._compile_gradients(model) if self.config.gradients else None
        self._model_id = id(model)

    def _compile_gradients(self, model) -> Any:
        """(image, label) -> (layer outputs, loss, output gradients, weight gradients), where
        the loss is the training loss (cross-entropy) of the image under the model."""
        import tensorflow as tf

        layer_model, probe_layers = self._layer_model, self._layers
        weights = [list(layer.trainable_weights) for layer in probe_layers]
        from_logits = not _ends_in_softmax(model)
        # The model's output is the last layer's: the probe's layers follow `model.layers`.
        output_position = next(
            (index for index, layer in enumerate(probe_layers) if layer.output is model.outputs[0]),
            len(probe_layers) - 1,
        )

        @tf.function(reduce_retracing=True)
        def step(image, label):
            with tf.GradientTape() as tape:
                outputs = layer_model(image, training=False)
                if not isinstance(outputs, (list, tuple)):
                    outputs = [outputs]
                prediction = tf.cast(outputs[output_position], tf.float32)
                if from_logits:
                    losses = tf.nn.sparse_softmax_cross_entropy_with_logits(label, prediction)
                else:
                    # Written out rather than through Keras's loss, which, handed a softmax
                    # output, reads the logits behind it and leaves the probabilities
                    # without a gradient to show. The clip is Keras's own epsilon.
                    chosen = tf.gather(prediction, label, axis=1, batch_dims=1)
                    losses = -tf.math.log(tf.clip_by_value(chosen, 1e-7, 1.0))
                loss = tf.reduce_mean(losses)
            flat_weights = [weight for group in weights for weight in group]
            gradients = tape.gradient(loss, [*outputs, *flat_weights])
            output_gradients = gradients[: len(outputs)]
            weight_gradients = gradients[len(outputs) :]
            as_float = [tf.cast(output, tf.float32) for output in outputs]
            output_gradients = [
                tf.zeros_like(value) if gradient is None else tf.cast(gradient, tf.float32)
                for value, gradient in zip(as_float, output_gradients, strict=True)
            ]
            weight_gradients = [
                tf.zeros_like(weight, dtype=tf.float32)
                if gradient is None
                else tf.cast(gradient, tf.float32)
                for weight, gradient in zip(flat_weights, weight_gradients, strict=True)
            ]
            return as_float, loss, output_gradients, weight_gradients

        return step

    def __call__(self, model, info: dict[str, Any]) -> dict[str, Any]:
        self._prepare(model)
        image = np.asarray(info["x"][:1], dtype=np.float32)
        label = int(np.asarray(info["y"])[0])
        gradients = None
        if self._gradient_step is not None:
            outputs, loss, output_gradients, weight_gradients = self._gradient_step(
                image, np.array([label], dtype=np.int32)
            )
            gradients = self._gradient_entries(output_gradients, weight_gradients)
        else:
            outputs = self._layer_model(image, training=False)
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        layers = []
        for position, (layer, output) in enumerate(zip(self._layers, outputs, strict=True)):
            values = np.asarray(output, dtype=np.float32)[0]
            entry: dict[str, Any] = {
                "name": layer.name,
                "kind": layer.__class__.__name__,
                "shape": list(values.shape),
                "min": float(values.min()),
                "max": float(values.max()),
            }
            if values.ndim == 3:
                entry["maps"] = [to_uint8(values[:, :, c]) for c in range(values.shape[-1])][
                    :MAX_MAPS
                ]
            else:
                entry["vector"] = values[:64].tolist()
            if entry["kind"] == "Conv2D":
                entry["filters"] = self._filters(layer)
            if gradients is not None:
                entry.update(gradients[position])
            layers.append(entry)
        result = {
            "step": int(info.get("step", 0)),
            "image": to_uint8(image[0]),
            "image_label": self.class_names[label] if label < len(self.class_names) else label,
            "layers": layers,
            "stream": self._advance_stream(model, int(info.get("step", 0))),
            "stream_accuracy": (
                float(np.mean(self._recent_correct)) if self._recent_correct else None
            ),
            "stream_count": len(self._recent_correct),
        }
        if gradients is not None:
            result["probe_loss"] = float(loss)
        return result

    def _gradient_entries(self, output_gradients, weight_gradients) -> list[dict[str, Any]]:
        """Per layer: the range of d loss / d output and its maps (0 = mid-grey), and for layers
        with weights the range of the weights and of d loss / d weights."""
        entries = []
        flat = iter(weight_gradients)
        for layer, gradient in zip(self._layers, output_gradients, strict=True):
            values = np.asarray(gradient, dtype=np.float32)[0]
            entry: dict[str, Any] = {
                "grad_min": float(values.min()),
                "grad_max": float(values.max()),
            }
            if values.ndim == 3:
                channels = min(values.shape[-1], MAX_MAPS)
                entry["grad_maps"] = [signed_to_uint8(values[:, :, c]) for c in range(channels)]
            else:
                entry["grad_vector"] = values[:64].tolist()
            own = [np.asarray(next(flat)) for _ in layer.trainable_weights]
            if own:
                weights = np.concatenate(
                    [np.asarray(w.numpy(), np.float32).ravel() for w in layer.trainable_weights]
                )
                weight_grads = np.concatenate([g.ravel() for g in own])
                entry.update(
                    {
                        "weight_min": float(weights.min()),
                        "weight_max": float(weights.max()),
                        "weight_grad_min": float(weight_grads.min()),
                        "weight_grad_max": float(weight_grads.max()),
                    }
                )
            entries.append(entry)
        return entries

    def _filters(self, layer) -> dict[str, Any]:
        kernel = np.asarray(layer.get_weights()[0], dtype=np.float32)  # (kh, kw, in, out)
        in_channels, out_channels = kernel.shape[2], kernel.shape[3]
        if in_channels == 3:
            images = [to_uint8(kernel[:, :, :, f]) for f in range(out_channels)]
            return {"colour": True, "images": images[:MAX_FILTERS]}
        # Deeper layers span many channels; show each filter's slice on the first input channel
        # and say so, as ConvNetJS does with its grey per-channel grids.
        images = [to_uint8(kernel[:, :, 0, f]) for f in range(out_channels)]
        return {"colour": False, "images": images[:MAX_FILTERS], "channel": 0}

    def _advance_stream(self, model, step: int) -> list[dict[str, Any]]:
        count = self.config.stream_batch
        indices = (self._cursor + np.arange(count)) % len(self.x_test)
        self._cursor = int((self._cursor + count) % len(self.x_test))
        images = self.x_test[indices].astype(np.float32) / 255.0
        batch = augmented_copies(images, self.config.augment_copies, self.config.max_shift, step)
        probs = np.asarray(model(batch, training=False), dtype=np.float32)
        probs = probs.reshape(self.config.augment_copies, count, -1).mean(axis=0)
        for index, row in zip(indices, probs, strict=True):
            top = np.argsort(row)[::-1][:3]
            truth = int(self.y_test[index])
            self._recent_correct.append(bool(top[0] == truth))
            self._stream.append(
                {
                    "image": self.x_test[index],
                    "truth": self.class_names[truth],
                    "top": [(self.class_names[int(c)], float(row[c])) for c in top],
                    "correct": bool(top[0] == truth),
                }
            )
        return list(self._stream)
