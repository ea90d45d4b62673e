"""Why a trained Keras model reads an image as it does, and what each of its filters looks for.

For one image and any class (not only the winner): `saliency` (the gradient of the class score
with respect to the input pixels), `grad_cam` (Grad-CAM, Selvaraju et al. 2017, on a chosen
convolution layer, by default the last) and `occlusion` (how much the class's probability drops
when a grey patch hides each part of the image). For a layer: `maximise_filters` (the input
each filter responds to most, found by gradient ascent from grey with a little jitter and blur)
and `top_images` (the images of a set that excite each filter most). Each returns NumPy arrays;
`EXPLANATIONS` holds one line per method saying what its picture means and how to read it (in
English, marked for translation: pages show it with `_()`).

The class score is the class's pre-softmax logit: a model ending in a softmax Dense layer is
read through that layer's linear output, and one ending in a softmax Activation through its
input. The logit is the better score to explain, because a softmax output that is already
near 1 has almost no gradient, and its gradient mixes in every other class.

Gradients need TensorFlow, imported inside the functions. Compiled gradient functions, the
sub-models they call and the filter results are kept per model in a cache holding the model
by weak reference, as `cnnlib.inference` does; filter results are also keyed by a fingerprint
of the weights, so a model that trained on is looked at afresh. Figures of these arrays are
`cnnlib.figures_explain`'s; nothing here imports Streamlit.
"""

from __future__ import annotations

import hashlib
import weakref
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from cnnlib.i18n import N_, _
from cnnlib.inference import (
    DIRECT_CALL_LIMIT,
    as_batch,
    conv_layer_names,
    model_input_shape,
    predict_proba,
)

SALIENCY_TEXT = N_(
    "Saliency: how strongly each pixel, nudged a little, would change the class's score; "
    "bright pixels are the ones the score is most sensitive to, whichever way they push it."
)
GRAD_CAM_TEXT = N_(
    "Grad-CAM: where the chosen convolution layer found evidence for the class; warm regions "
    "raised the class's score, and the map is as coarse as that layer's feature maps."
)
OCCLUSION_TEXT = N_(
    "Occlusion: how much the class's probability drops when a patch hides each part of the "
    "image; red parts are ones the model needs for this class, blue ones argue against it."
)
MAXIMISE_TEXT = N_(
    "What the filter looks for: an input made, starting from grey, to excite this filter as "
    "much as possible; repeated strokes and colours show the pattern the filter detects."
)
TOP_IMAGES_TEXT = N_(
    "The test images that excite this filter most (its strongest response anywhere in the "
    "image); what they have in common is what the filter has learned to find."
)
EXPLANATIONS = {
    "saliency": SALIENCY_TEXT,
    "grad_cam": GRAD_CAM_TEXT,
    "occlusion": OCCLUSION_TEXT,
    "maximise": MAXIMISE_TEXT,
    "top_images": TOP_IMAGES_TEXT,
}


@dataclass
class _ModelCache:
    """What is kept per model: compiled functions and results, dropped with the model."""

    gradient_step: Any = None  # tf.function (batch, class) -> score, input and conv gradients
    conv_names: list[str] = field(default_factory=list)  # layers the gradient step exposes
    ascent_steps: dict[str, Any] = field(default_factory=dict)  # layer -> tf.function
    response_functions: dict[str, Any] = field(default_factory=dict)  # layer -> tf.function
    results: dict[tuple, Any] = field(default_factory=dict)  # filter results by settings
    weight_summary: Any = None  # tf.function () -> sums and samples of every weight


# In filter maximisation, negative responses count this much: enough to lift a silent filter,
# little enough that the picture grows where the filter already fires.
NEGATIVE_WEIGHT = 0.1

_caches: weakref.WeakKeyDictionary[Any, _ModelCache] = weakref.WeakKeyDictionary()


def _cache(model: Any) -> _ModelCache:
    cache = _caches.get(model)
    if cache is None:
        cache = _ModelCache()
        _caches[model] = cache
    return cache


def _store(cache: _ModelCache, key: tuple, value: Any) -> None:
    """Keep a result under `key`, whose last item is the weights' fingerprint, and drop the
    results of earlier weights: a model that trains on would otherwise pile them up."""
    for old in [old for old in cache.results if old[-1] != key[-1]]:
        del cache.results[old]
    cache.results[key] = value


def _require_tensorflow() -> Any:
    import keras

    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            _(
                "Explanations need the TensorFlow backend of Keras; this one runs on {backend}. "
                "Set KERAS_BACKEND=tensorflow."
            ).format(backend=repr(keras.backend.backend()))
        )
    import tensorflow as tf

    return tf


def _score_head(model: Any) -> tuple[Any, Any]:
    """(symbolic tensor, function of it giving the class scores) for the model's logits.

    A final Dense with softmax is split into its linear part (the logits); a final softmax
    Activation or Softmax layer is skipped; any other ending is scored as it is.
    """
    import keras
    from keras import layers, ops

    last = model.layers[-1]
    softmax = keras.activations.softmax
    if isinstance(last, layers.Dense) and last.activation is softmax:

        def dense_logits(values):
            logits = ops.matmul(ops.cast(values, "float32"), ops.cast(last.kernel, "float32"))
            if last.use_bias:
                logits = logits + ops.cast(last.bias, "float32")
            return logits

        return last.input, dense_logits
    if (isinstance(last, layers.Activation) and last.activation is softmax) or isinstance(
        last, layers.Softmax
    ):
        return last.input, lambda values: ops.cast(values, "float32")
    return model.outputs[0], lambda values: ops.cast(values, "float32")


def _gradient_step(model: Any) -> tuple[Any, list[str]]:
    """A compiled function (batch, class index) -> (scores, input gradients, conv outputs,
    conv gradients), built once per model."""
    cache = _cache(model)
    if cache.gradient_step is not None:
        return cache.gradient_step, cache.conv_names
    import keras

    tf = _require_tensorflow()
    names = conv_layer_names(model)
    score_input, head = _score_head(model)
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    taps = keras.Model(
        inputs, [score_input, *(model.get_layer(name).output for name in names)], name="taps"
    )
    spec = tf.TensorSpec((None, *model_input_shape(model)), tf.float32)

    @tf.function(input_signature=[spec, tf.TensorSpec((), tf.int32)], reduce_retracing=True)
    def step(batch, class_index):
        with tf.GradientTape() as tape:
            tape.watch(batch)
            outputs = taps(batch, training=False)
            # A model without convolutions taps one output, which Keras returns bare.
            if not isinstance(outputs, list | tuple):
                outputs = [outputs]
            scores = tf.gather(head(outputs[0]), class_index, axis=1)
        # Each image's score depends on that image only (inference mode), so the gradient of
        # the batch's sum is every image's own gradient.
        gradients = tape.gradient(scores, [batch, *outputs[1:]])
        conv_outputs = [tf.cast(output, tf.float32) for output in outputs[1:]]
        conv_gradients = [tf.cast(gradient, tf.float32) for gradient in gradients[1:]]
        return scores, gradients[0], conv_outputs, conv_gradients

    cache.gradient_step, cache.conv_names = step, names
    return step, names


def _one_image(model: Any, image: Any) -> np.ndarray:
    batch = as_batch(image, model_input_shape(model))
    if len(batch) != 1:
        raise ValueError(
            _("Explain one image at a time; got {count} images.").format(count=len(batch))
        )
    return batch


def _check_class(model: Any, class_index: int) -> int:
    classes = int(tuple(model.outputs[0].shape)[-1])
    if not 0 <= int(class_index) < classes:
        raise ValueError(
            _("Class index {index} is out of range: the model has {classes}.").format(
                index=class_index, classes=classes
            )
        )
    return int(class_index)


def class_score(model: Any, image: Any, class_index: int) -> float:
    """The score `saliency` and `grad_cam` explain: the class's pre-softmax logit."""
    step, _names = _gradient_step(model)
    scores, *_rest = step(_one_image(model, image), _check_class(model, class_index))
    return float(np.asarray(scores)[0])


def saliency(model: Any, image: Any, class_index: int) -> np.ndarray:
    """d(class logit) / d(input pixel), float32 of the image's shape (H, W, C).

    Pixels are on the 0..1 scale the model reads. The sign says whether brightening a pixel
    raises (+) or lowers (−) the score; `saliency_map` turns it into the usual picture.
    """
    step, _names = _gradient_step(model)
    _scores, gradient, _outputs, _gradients = step(
        _one_image(model, image), _check_class(model, class_index)
    )
    return np.asarray(gradient, dtype=np.float32)[0]


def saliency_map(gradient: np.ndarray) -> np.ndarray:
    """Simonyan et al.'s saliency picture: the largest |gradient| over a pixel's channels."""
    gradient = np.asarray(gradient, dtype=np.float32)
    return np.abs(gradient).max(axis=-1) if gradient.ndim == 3 else np.abs(gradient)


def grad_cam(
    model: Any,
    image: Any,
    class_index: int,
    layer_name: str | None = None,
    upsample: bool = True,
) -> np.ndarray:
    """Grad-CAM for one class: ReLU(Σ_k α_k A_k) with α_k the mean over positions of
    d(class logit) / d A_k, A_k the layer's k-th feature map.

    `layer_name` is a Conv2D layer, by default the last. Returns float32 (H, W) at the image's
    size (bilinear, as `upsample_bilinear`), or at the layer's size with `upsample=False`.
    Values are in the logit's units: 0 is no evidence, larger is more.
    """
    step, names = _gradient_step(model)
    if not names:
        raise ValueError(_("Grad-CAM needs a convolution layer, and this model has none."))
    name = names[-1] if layer_name is None else layer_name
    if name not in names:
        raise ValueError(
            _("{layer} is not a convolution layer of this model; choose one of {names}.").format(
                layer=repr(name), names=", ".join(names)
            )
        )
    batch = _one_image(model, image)
    _scores, _gradient, outputs, gradients = step(batch, _check_class(model, class_index))
    position = names.index(name)
    activations = np.asarray(outputs[position], dtype=np.float32)[0]
    gradient = np.asarray(gradients[position], dtype=np.float32)[0]
    cam = grad_cam_from(activations, gradient)
    if not upsample:
        return cam
    return upsample_bilinear(cam, batch.shape[1:3])


def grad_cam_from(activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
    """The Grad-CAM map (h, w) from a layer's activations and gradients, both (h, w, k)."""
    weights = gradients.mean(axis=(0, 1))
    return np.maximum(np.tensordot(activations, weights, axes=([2], [0])), 0.0).astype(np.float32)


def upsample_bilinear(values: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a (h, w) map to `size` by bilinear interpolation between pixel centres (as
    `tf.image.resize` does), so each cell of a coarse map covers its share of the image."""
    values = np.asarray(values, dtype=np.float32)
    out_h, out_w = int(size[0]), int(size[1])

    def axis_weights(inside: int, outside: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        centres = (np.arange(outside) + 0.5) * inside / outside - 0.5
        centres = np.clip(centres, 0, inside - 1)
        low = np.floor(centres).astype(int)
        high = np.minimum(low + 1, inside - 1)
        return low, high, (centres - low).astype(np.float32)

    top, bottom, row_weight = axis_weights(values.shape[0], out_h)
    left, right, col_weight = axis_weights(values.shape[1], out_w)
    upper = values[top][:, left] * (1 - col_weight) + values[top][:, right] * col_weight
    lower = values[bottom][:, left] * (1 - col_weight) + values[bottom][:, right] * col_weight
    return (upper * (1 - row_weight[:, None]) + lower * row_weight[:, None]).astype(np.float32)


def _patch_positions(size: int, patch: int, stride: int) -> list[int]:
    positions = list(range(0, size - patch + 1, stride))
    if positions[-1] != size - patch:
        positions.append(size - patch)  # the last patch touches the edge, so every pixel counts
    return positions


def occlusion(
    model: Any,
    image: Any,
    class_index: int,
    patch: int = 6,
    stride: int = 2,
    fill: float = 0.5,
) -> np.ndarray:
    """The drop in the class's probability when a square `patch` of value `fill` (grey by
    default; on the 0..1 scale) hides each part of the image.

    The patch slides by `stride` pixels (the last one touches the image's edge). Returns float32
    (H, W): each pixel holds the mean drop over the patches that cover it. Positive means hiding
    the pixel lowers the probability; negative means hiding it raises it.
    """
    batch = _one_image(model, image)
    class_index = _check_class(model, class_index)
    height, width = batch.shape[1:3]
    if not 1 <= patch <= min(height, width):
        raise ValueError(
            _("The patch side must be between 1 and {most} pixels, got {patch}.").format(
                most=min(height, width), patch=patch
            )
        )
    if stride < 1:
        raise ValueError(
            _("The stride must be at least 1 pixel, got {stride}.").format(stride=stride)
        )
    corners = [
        (top, left)
        for top in _patch_positions(height, patch, stride)
        for left in _patch_positions(width, patch, stride)
    ]
    hidden = np.repeat(batch, len(corners), axis=0)
    for index, (top, left) in enumerate(corners):
        hidden[index, top : top + patch, left : left + patch, :] = fill
    baseline = float(predict_proba(model, batch)[0, class_index])
    probabilities = np.concatenate(
        [
            predict_proba(model, hidden[start : start + DIRECT_CALL_LIMIT])[:, class_index]
            for start in range(0, len(hidden), DIRECT_CALL_LIMIT)
        ]
    )
    drop_sum = np.zeros((height, width), dtype=np.float64)
    count = np.zeros((height, width), dtype=np.float64)
    for (top, left), probability in zip(corners, probabilities, strict=True):
        drop_sum[top : top + patch, left : left + patch] += baseline - float(probability)
        count[top : top + patch, left : left + patch] += 1
    return (drop_sum / count).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# What each filter looks for


def _weights_fingerprint(model: Any) -> str:
    """A short digest of every weight, so results cached for a model that trained on are not
    reused. Each weight's sum and 512 samples of it are taken where the weight lives, in one
    compiled call, so a large model is not copied whole on every look."""
    cache = _cache(model)
    if cache.weight_summary is None:
        tf = _require_tensorflow()
        weights = list(model.weights)

        @tf.function
        def summary():
            parts = []
            for weight in weights:
                flat = tf.cast(tf.reshape(tf.convert_to_tensor(weight), [-1]), tf.float64)
                stride = max(1, int(flat.shape[0]) // 512)
                parts += [tf.reduce_sum(flat)[None], flat[::stride]]
            return tf.concat(parts, axis=0)

        cache.weight_summary = summary
    values = np.asarray(cache.weight_summary())
    return hashlib.blake2b(values.tobytes(), digest_size=12).hexdigest()


def _conv_layer(model: Any, layer_name: str) -> Any:
    names = conv_layer_names(model)
    if layer_name not in names:
        raise ValueError(
            _("{layer} is not a convolution layer of this model; choose one of {names}.").format(
                layer=repr(layer_name), names=", ".join(names) or _("(none)")
            )
        )
    return model.get_layer(layer_name)


def _ascent_step(model: Any, layer_name: str) -> Any:
    """A compiled function (images, filter per image) -> (objective, gradient): the mean over
    positions of the filter's response before its activation, negative parts weighted by
    `NEGATIVE_WEIGHT`."""
    cache = _cache(model)
    step = cache.ascent_steps.get(layer_name)
    if step is not None:
        return step
    import keras
    from keras import ops

    tf = _require_tensorflow()
    layer = _conv_layer(model, layer_name)
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    feeder = keras.Model(inputs, layer.input, name=f"{layer_name}_input")
    spec = tf.TensorSpec((None, *model_input_shape(model)), tf.float32)

    @tf.function(input_signature=[spec, tf.TensorSpec((None,), tf.int32)], reduce_retracing=True)
    def step(images, filters):
        with tf.GradientTape() as tape:
            tape.watch(images)
            layer_input = ops.cast(feeder(images, training=False), "float32")
            # The response before the filter's activation: a ReLU filter that is silent on
            # grey would otherwise give no gradient to climb. Weighting its negative parts
            # less lets the positions that fire lead, as they do after a ReLU.
            response = layer.convolution_op(layer_input, ops.cast(layer.kernel, "float32"))
            if layer.use_bias:
                response = response + ops.cast(layer.bias, "float32")
            chosen = tf.gather(response, filters, axis=3, batch_dims=1)
            chosen = tf.where(chosen > 0, chosen, NEGATIVE_WEIGHT * chosen)
            means = tf.reduce_mean(chosen, axis=[1, 2])
            # Each image's response depends on that image only, so the gradient of the sum
            # is every image's own gradient.
            total = tf.reduce_sum(means)
        return means, tape.gradient(total, images)

    cache.ascent_steps[layer_name] = step
    return step


def _blur(images: np.ndarray) -> np.ndarray:
    """A 3×3 binomial blur (weights 1, 2, 1 each way) of a batch (N, H, W, C), edges repeated."""
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    rows = (padded[:, :-2] + 2 * padded[:, 1:-1] + padded[:, 2:]) / 4
    return (rows[:, :, :-2] + 2 * rows[:, :, 1:-1] + rows[:, :, 2:]) / 4


@dataclass(frozen=True)
class AscentSettings:
    """How `maximise_filters` climbs; the defaults give readable pictures in about 64 steps."""

    steps: int = 64  # gradient-ascent steps
    step_size: float = 0.03  # pixel change per step, in units of the gradient's RMS
    jitter: int = 1  # each step looks at the image rolled by up to this many pixels
    blur_every: int = 4  # a light blur after every this many steps (0: never)
    blur_strength: float = 0.25  # share of the blurred image mixed in each time
    sharp_share: float = 0.25  # the last share of the steps is not blurred, to end sharp
    seed: int = 0  # for the starting noise and the jitter


def maximise_filters(
    model: Any,
    layer_name: str,
    filter_indices: Any = None,
    steps: int | None = None,
    settings: AscentSettings | None = None,
) -> np.ndarray:
    """Inputs that excite the chosen filters of a Conv2D layer: float32 (F, H, W, C) in 0..1.

    All filters (or those listed) climb together in one batch. Each starts from grey (0.5) with
    a little noise. Each step rolls the image by up to `jitter` pixels, moves it by `step_size`
    along the normalised gradient of the filter's mean response (before its activation, with
    negative parts counted at a tenth so that positions already firing lead), rolls it back and
    clips it to 0..1; every `blur_every` steps a light blur keeps it smooth. `steps`, when
    given, overrides `settings.steps`. Cached per model, layer, settings and weights.
    """
    settings = settings or AscentSettings()
    if steps is not None:
        settings = replace(settings, steps=int(steps))
    layer = _conv_layer(model, layer_name)
    filters_total = int(layer.filters)
    chosen = (
        np.arange(filters_total)
        if filter_indices is None
        else np.asarray(filter_indices, dtype=np.int64).reshape(-1)
    )
    if chosen.size == 0 or chosen.min() < 0 or chosen.max() >= filters_total:
        raise ValueError(
            _("Filter indices must be between 0 and {last} for {layer}.").format(
                last=filters_total - 1, layer=repr(layer_name)
            )
        )
    if settings.steps < 0 or settings.jitter < 0:
        raise ValueError(
            _("Steps and jitter cannot be negative; got {steps} and {jitter}.").format(
                steps=settings.steps, jitter=settings.jitter
            )
        )
    cache = _cache(model)
    key = ("maximise", layer_name, tuple(int(f) for f in chosen), settings)
    key += (_weights_fingerprint(model),)
    if key in cache.results:
        return cache.results[key].copy()
    step = _ascent_step(model, layer_name)
    rng = np.random.default_rng(settings.seed)
    shape = model_input_shape(model)
    images = (0.5 + 0.01 * rng.standard_normal((len(chosen), *shape))).astype(np.float32)
    filters = chosen.astype(np.int32)
    last_blur = settings.steps * (1 - settings.sharp_share)
    jitter = settings.jitter
    for number in range(1, settings.steps + 1):
        dy, dx = (int(s) for s in rng.integers(-jitter, jitter + 1, size=2))
        _objective, gradient = step(np.roll(images, shift=(dy, dx), axis=(1, 2)), filters)
        gradient = np.roll(np.asarray(gradient), shift=(-dy, -dx), axis=(1, 2))
        scale = np.sqrt((gradient**2).mean(axis=(1, 2, 3), keepdims=True)) + 1e-8
        images = np.clip(images + settings.step_size * gradient / scale, 0.0, 1.0)
        if settings.blur_every > 0 and number % settings.blur_every == 0 and number <= last_blur:
            strength = settings.blur_strength
            images = (1 - strength) * images + strength * _blur(images)
    result = images.astype(np.float32)
    _store(cache, key, result)
    return result.copy()


def maximise_filter(
    model: Any,
    layer_name: str,
    filter_index: int,
    steps: int | None = None,
    settings: AscentSettings | None = None,
) -> np.ndarray:
    """The input that excites one filter: float32 (H, W, C) in 0..1 (see `maximise_filters`)."""
    return maximise_filters(model, layer_name, [filter_index], steps, settings)[0]


def filter_responses(model: Any, layer_name: str, images: Any, chunk: int = 256) -> np.ndarray:
    """Each image's strongest response of each filter of a layer: float32 (N, filters), the
    largest value of the filter's feature map (after its activation) anywhere in the image."""
    cache = _cache(model)
    function = cache.response_functions.get(layer_name)
    if function is None:
        import keras

        tf = _require_tensorflow()
        layer = _conv_layer(model, layer_name)
        inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
        exposer = keras.Model(inputs, layer.output, name=f"{layer_name}_output")
        spec = tf.TensorSpec((None, *model_input_shape(model)), tf.float32)

        @tf.function(input_signature=[spec], reduce_retracing=True)
        def function(batch):
            return tf.reduce_max(tf.cast(exposer(batch, training=False), tf.float32), axis=[1, 2])

        cache.response_functions[layer_name] = function
    else:
        _conv_layer(model, layer_name)
    batch = as_batch(images, model_input_shape(model))
    if len(batch) == 0:
        raise ValueError(_("There are no images to look through."))
    parts = [function(batch[start : start + chunk]) for start in range(0, len(batch), chunk)]
    return np.concatenate([np.asarray(part) for part in parts]).astype(np.float32)


def top_images(
    model: Any, layer_name: str, images: Any, k: int = 9
) -> tuple[np.ndarray, np.ndarray]:
    """The k images that excite each filter of a layer most.

    Returns (indices int64 (filters, k) into `images`, strongest first; their responses float32
    (filters, k), as `filter_responses` measures them). Cached per model, layer, images and
    weights.
    """
    batch = as_batch(images, model_input_shape(model))
    k = max(1, min(int(k), len(batch)))
    cache = _cache(model)
    key = _top_key(layer_name, batch, k, _weights_fingerprint(model))
    if key in cache.results:
        indices, values = cache.results[key]
        return indices.copy(), values.copy()
    responses = filter_responses(model, layer_name, batch)
    # A stable sort on the negated responses: ties keep the images' order.
    indices = np.argsort(-responses, axis=0, kind="stable")[:k].T.astype(np.int64)
    values = np.take_along_axis(responses.T, indices, axis=1).astype(np.float32)
    _store(cache, key, (indices, values))
    return indices.copy(), values.copy()


def _top_key(layer_name: str, batch: np.ndarray, k: int, fingerprint: str) -> tuple:
    images = hashlib.blake2b(batch.tobytes(), digest_size=12).hexdigest()
    return ("top", layer_name, max(1, min(int(k), len(batch))), images, fingerprint)


def cached_filter_views(
    model: Any, layer_name: str, images: Any, k: int = 9, settings: AscentSettings | None = None
) -> bool:
    """Whether `maximise_filters` for every filter of the layer (with these settings) and
    `top_images(model, layer_name, images, k)` are both cached, so a page can show them at once
    or say that they take a moment."""
    cache = _caches.get(model)
    if cache is None or not cache.results:
        return False
    fingerprint = _weights_fingerprint(model)
    filters = tuple(range(int(_conv_layer(model, layer_name).filters)))
    maximise_key = ("maximise", layer_name, filters, settings or AscentSettings(), fingerprint)
    batch = as_batch(images, model_input_shape(model))
    return (
        maximise_key in cache.results
        and _top_key(layer_name, batch, k, fingerprint) in cache.results
    )
