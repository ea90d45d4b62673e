"""The size budget of a training job, checked before Keras allocates anything.

`check_budget(network, batch_size)` works out, from the layer arithmetic of
`cnnlib.arithmetic.analyse`, what training the network would hold in memory: its weights, the
optimizer's state, and the activations of one batch, forward and backward. It returns a `Budget`
of those figures, or raises `ValueError` naming the layer that is too big and what to change
(fewer filters or units, a smaller batch, a pooling layer). Two limits apply: at most
`MAX_PARAMETERS` parameters, and at most `memory_limit()` bytes, which is
`CNNLAB_MAX_JOB_MEMORY` when it is set (e.g. "2G") and otherwise a share of the memory the
machine has available at the moment of the check, so that one student's job cannot take a
shared server down.

The figures are estimates in float32, on the safe side; they leave out what TensorFlow itself
needs (its code, its kernels' scratch space), which the share of free memory leaves room for.
This module imports neither TensorFlow nor Keras; starting jobs is `cnnlib.training`'s business.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from numbers import Integral
from pathlib import Path

from cnnlib.arithmetic import BYTES_PER_VALUE, CONVOLUTIONS, LayerRow, analyse, format_bytes
from cnnlib.i18n import _
from cnnlib.layers import Network

# Building allocates every weight: VGG-16 (138 M parameters) needs about 0.6 GB, and training
# it about four times that. Every network CNN Lab trains has under a million.
MAX_PARAMETERS = 150_000_000
MEMORY_VARIABLE = "CNNLAB_MAX_JOB_MEMORY"  # bytes one job may use, e.g. "2G" or "512M"
DEFAULT_SHARE = 0.5  # of the memory available when the job starts, without the variable
FALLBACK_LIMIT = 2 * 2**30  # where the available memory cannot be read
MEMINFO = Path("/proc/meminfo")  # Linux's account of memory; MemAvailable is in kB
# Per trainable weight, training holds its gradient and Adam's two moment estimates.
OPTIMIZER_VALUES_PER_WEIGHT = 3
# Backpropagation keeps every layer's output and, at its peak, a gradient of the same size.
ACTIVATION_COPIES = 2

_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
_MEMORY_TEXT = re.compile(r"(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?", re.IGNORECASE)


@dataclass(frozen=True)
class Budget:
    parameters: int  # all weights, trainable or not
    trainable_parameters: int
    batch_size: int
    activation_bytes: int  # one batch's layer outputs and their gradients
    weight_bytes: int  # the weights themselves
    optimizer_bytes: int  # gradients and the optimizer's state for the trainable weights
    limit_bytes: int  # what one job may use
    limit_source: str  # where the limit comes from, in words, e.g. "CNNLAB_MAX_JOB_MEMORY"

    @property
    def total_bytes(self) -> int:
        return self.activation_bytes + self.weight_bytes + self.optimizer_bytes

    def describe(self) -> str:
        """One sentence for a page, e.g. "Training needs about 1.2 GiB of the 8.0 GiB ..."."""
        return _(
            "Training needs about {total} of the {limit} a job may use ({source}): "
            "{activations} for a batch of {batch}, {weights} for {params} parameters and the "
            "optimizer."
        ).format(
            total=format_bytes(self.total_bytes),
            limit=format_bytes(self.limit_bytes),
            source=self.limit_source,
            activations=format_bytes(self.activation_bytes),
            batch=f"{self.batch_size:,}",
            weights=format_bytes(self.weight_bytes + self.optimizer_bytes),
            params=f"{self.parameters:,}",
        )


def check_budget(network: Network, batch_size: int, limit_bytes: int | None = None) -> Budget:
    """The memory training `network` with batches of `batch_size` needs, if it fits.

    `limit_bytes` defaults to `memory_limit()`. Raises ValueError, naming the biggest layer
    and what to change, when the network has more than `MAX_PARAMETERS` parameters or needs
    more memory than the limit; a spec that cannot be built raises `analyse`'s ValueError.
    """
    if not _is_whole(batch_size) or batch_size < 1:
        raise ValueError(
            _("The batch size must be a whole number of at least 1, not {value}.").format(
                value=repr(batch_size)
            )
        )
    batch_size = int(batch_size)
    if limit_bytes is None:
        limit_bytes, source = memory_limit()
    else:
        if not _is_whole(limit_bytes) or limit_bytes < 1:
            raise ValueError(f"limit_bytes must be a whole number of bytes, not {limit_bytes!r}.")
        limit_bytes, source = int(limit_bytes), _("the limit given")
    analysis = analyse(network)
    layers = [row for row in analysis.all_rows() if not row.children]
    if analysis.total_params > MAX_PARAMETERS:
        biggest = max(layers, key=lambda row: row.params)
        raise ValueError(
            _(
                "The network has {params} parameters; CNN Lab trains at most {limit}. The "
                "biggest layer is {layer} with {layer_params}: {advice}"
            ).format(
                params=f"{analysis.total_params:,}",
                limit=f"{MAX_PARAMETERS:,}",
                layer=_layer_name(biggest),
                layer_params=f"{biggest.params:,}",
                advice=_smaller_weights(biggest),
            )
        )
    per_image = ACTIVATION_COPIES * analysis.activation_bytes
    budget = Budget(
        parameters=analysis.total_params,
        trainable_parameters=analysis.trainable_params,
        batch_size=batch_size,
        activation_bytes=per_image * batch_size,
        weight_bytes=BYTES_PER_VALUE * analysis.total_params,
        optimizer_bytes=BYTES_PER_VALUE * OPTIMIZER_VALUES_PER_WEIGHT * analysis.trainable_params,
        limit_bytes=limit_bytes,
        limit_source=source,
    )
    if budget.total_bytes <= limit_bytes:
        return budget
    fixed = budget.weight_bytes + budget.optimizer_bytes
    limit_text = _("the {limit} a job may use ({source})").format(
        limit=format_bytes(limit_bytes), source=source
    )
    if fixed > limit_bytes:
        biggest = max(layers, key=lambda row: row.params)
        raise ValueError(
            _(
                "The weights and optimizer state of {params} parameters need {memory}, more "
                "than {limit}. The biggest layer is {layer} with {layer_params}: {advice}"
            ).format(
                params=f"{analysis.total_params:,}",
                memory=format_bytes(fixed),
                limit=limit_text,
                layer=_layer_name(biggest),
                layer_params=f"{biggest.params:,}",
                advice=_smaller_weights(biggest),
            )
        )
    biggest = max(layers, key=lambda row: row.activation_bytes)
    fitting = (limit_bytes - fixed) // per_image
    if fitting >= 1:
        batch_hint = _("a batch of at most {count} fits").format(count=f"{fitting:,}")
    else:
        batch_hint = _("not even a batch of one fits, so the layers must shrink")
    raise ValueError(
        _(
            "Training with batches of {batch} needs about {memory}, more than {limit}. The "
            "biggest layer is {layer}: its {shape} output takes {layer_memory} per batch (with "
            "its gradient). {advice} Or use a smaller batch ({batch_hint})."
        ).format(
            batch=f"{batch_size:,}",
            memory=format_bytes(budget.total_bytes),
            limit=limit_text,
            layer=_layer_name(biggest),
            shape=_shape_text(biggest.output_shape),
            layer_memory=format_bytes(ACTIVATION_COPIES * biggest.activation_bytes * batch_size),
            advice=_smaller_activations(biggest),
            batch_hint=batch_hint,
        )
    )


def memory_limit() -> tuple[int, str]:
    """The bytes one job may use, and where that figure comes from, in words.

    `CNNLAB_MAX_JOB_MEMORY` when set: bytes, or a number with K, M, G or T (powers of 1024),
    e.g. "2G", "512M", "1.5GiB". Otherwise `DEFAULT_SHARE` of the memory available now, read
    from MemAvailable in /proc/meminfo or from the free pages the system reports, or
    `FALLBACK_LIMIT` where neither can be read. A bad value of the variable raises ValueError.
    """
    text = os.environ.get(MEMORY_VARIABLE, "").strip()
    if text:
        return parse_memory(text), MEMORY_VARIABLE
    available = available_memory()
    if available is None:
        return FALLBACK_LIMIT, _("a fixed default, as the free memory cannot be read")
    share = _("{share} of the {memory} free now").format(
        share=f"{DEFAULT_SHARE:.0%}", memory=format_bytes(available)
    )
    return max(int(available * DEFAULT_SHARE), 1), share


def parse_memory(text: str) -> int:
    """Bytes from "2G", "512M", "1.5GiB", "64k" or "1073741824" (units are powers of 1024)."""
    match = _MEMORY_TEXT.fullmatch(str(text).strip())
    value = float(match.group(1)) * _UNITS[match.group(2).upper()] if match else 0
    if value < 1 or value > 2**60:
        raise ValueError(
            _(
                "{variable} is {value}; set it to the bytes one training job may use, as a "
                "whole number or with K, M, G or T (powers of 1024), e.g. 2G or 512M."
            ).format(variable=MEMORY_VARIABLE, value=repr(text))
        )
    return int(value)


def available_memory() -> int | None:
    """Bytes the system can give out now without swapping, or None when it does not say."""
    try:
        for line in MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None


def _is_whole(value: object) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def _layer_name(row: LayerRow) -> str:
    """'layer 2 (Conv2D: 16384 filters 1×1, ...)', or 'layer 3, branch 1, layer 2 (...)'."""
    head, *inner = row.path.split(".")
    where = _("layer {number}").format(number=head)
    for branch, position in zip(inner[::2], inner[1::2], strict=False):
        where += _(", branch {branch}, layer {number}").format(
            branch=branch.removeprefix("b"), number=position
        )
    return f"{where} ({row.kind}: {row.settings})" if row.settings else f"{where} ({row.kind})"


def _smaller_weights(row: LayerRow) -> str:
    if row.kind == "Dense":
        return _(
            "give it fewer units, or feed it a smaller vector than {length} (pooling or a "
            "strided convolution before Flatten, or GlobalAveragePooling2D instead of Flatten)."
        ).format(length=f"{row.input_shape[0]:,}")
    if row.kind == "DepthwiseConv2D":
        return _("give it a smaller kernel or depth multiplier.")
    if row.kind in CONVOLUTIONS:
        return _("give it fewer filters or a smaller kernel.")
    return _("make it, or the layer before it, smaller.")


def _smaller_activations(row: LayerRow) -> str:
    if row.kind in ("UpSampling2D", "Conv2DTranspose"):
        return _(
            "It enlarges its {shape} input: upsample by a smaller factor, later in the "
            "network, or after a layer with fewer channels."
        ).format(shape=_shape_text(row.input_shape))
    if row.kind in CONVOLUTIONS:
        if row.kind == "DepthwiseConv2D":
            message = _(
                "Give it a smaller depth multiplier, a stride of 2, or put a pooling layer "
                "(MaxPooling2D) before it to shrink its {shape} input."
            )
        else:
            message = _(
                "Give it fewer filters, a stride of 2, or put a pooling layer (MaxPooling2D) "
                "before it to shrink its {shape} input."
            )
        return message.format(shape=_shape_text(row.input_shape))
    if row.kind == "Dense":
        return _("Give it fewer units.")
    if row.kind == "Input":
        return _("Add a pooling layer or a strided convolution early to shrink the images.")
    return _(
        "Its size follows the layers before it: give those fewer filters, or add a pooling "
        "layer (MaxPooling2D) earlier."
    )


def _shape_text(shape: tuple[int, ...]) -> str:
    if len(shape) == 1:
        return _("vector of {length}").format(length=f"{shape[0]:,}")
    return "×".join(f"{n:,}" for n in shape)
