"""What a training job's thread does: build and compile the model, then run Keras's train step
a few batches per compiled call (`cnnlib.training.steps`, each call about 0.1 s), so that
between two calls it can pause (holding no CPU and giving its running slot to the next job),
stop, take a new learning rate, momentum, weight decay or batch size, call a probe for live
visualisations, and notice a NaN or diverging loss; every batch's loss and accuracy still
reach the history. At each epoch's end, validate (and test, if asked); at the end, measure the
test set.

Each function takes the `TrainingJob` it works for and updates its state under the job's lock;
`train(job)` is the entry point, called from the job's thread. Images arrive as uint8 and are
scaled to [0, 1] one batch at a time, so a data set is never held as float32 in full.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import keras
import numpy as np

from cnnlib.augment import augment_batch
from cnnlib.i18n import _
from cnnlib.metrics import PredictionStopped, classification_report, predict_in_chunks, to_float
from cnnlib.training.history import MovingAverage, smoothing_window
from cnnlib.training.settings import (
    NOT_DECAYED,
    TYPICAL_LEARNING_RATES,
    make_optimizer,
    schedule_factor,
)
from cnnlib.training.steps import CallSizer, MultiStep

# A loss this many times that of guessing at random (ln of the number of classes), batch after
# batch, means training is diverging even when the loss stays finite: a too-large learning
# rate often throws the weights to where softmax saturates and the loss sits in the
# thousands rather than becoming NaN.
DIVERGED_FACTOR = 4.0
DIVERGED_BATCHES = 10
# Seconds between two computations of the weight-decay loss (it changes slowly).
DECAY_LOSS_INTERVAL = 0.5


def decayed_variables(model: keras.Model) -> list:
    return [
        variable
        for variable in model.trainable_variables
        if not any(name in variable.name for name in NOT_DECAYED)
    ]


@dataclass
class _Loop:
    """What the training loop carries from one epoch to the next."""

    order_rng: np.random.Generator
    augment_rng: np.random.Generator
    train_function: MultiStep
    decayed: list
    loss_smooth: MovingAverage
    accuracy_smooth: MovingAverage
    sizer: CallSizer  # how many batches each compiled call runs
    next_probe: float = 0.0
    next_decay_loss: float = 0.0
    diverging_batches: int = 0  # consecutive batches whose loss is far above chance level
    # Prepares the next batch (gather, augment, scale) while the current one trains.
    preparer: ThreadPoolExecutor | None = None


@dataclass
class _Stack:
    """Batches of one size, stacked for one compiled call."""

    size: int  # images per batch
    x: np.ndarray  # (batches, size, ...) uint8, as stored
    inputs: np.ndarray  # the same as float32 in [0, 1], as trained on
    y: np.ndarray  # (batches, size) labels


def _build(job) -> keras.Model:
    settings = job.settings
    # Seeds the weights, dropout masks and Keras's own random state; batch order and
    # augmentation use generators of their own.
    keras.utils.set_random_seed(settings.seed)
    if job._initial_model is not None:
        model = job._initial_model
    else:
        model = job._model_factory(job._precision)
        job._data.check_model(model)
    optimizer = make_optimizer(settings.optimizer, settings.learning_rate, settings.weight_decay)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    optimizer.build(model.trainable_variables)
    if settings.optimizer == "sgd":
        optimizer.momentum = job._momentum
    return model


def train(job) -> None:
    settings = job.settings
    model = _build(job)
    with job._lock:
        job._model = model
    window = smoothing_window(job._batches_per_epoch)
    loop = _Loop(
        order_rng=np.random.default_rng(settings.seed),
        augment_rng=np.random.default_rng([settings.seed, 1]),
        train_function=MultiStep(model),
        decayed=decayed_variables(model),
        loss_smooth=MovingAverage(window),
        accuracy_smooth=MovingAverage(window),
        preparer=ThreadPoolExecutor(1, thread_name_prefix="batch preparation"),
        sizer=CallSizer(),
    )
    test_probabilities = None
    completed = False
    try:
        for epoch in range(1, settings.epochs + 1):
            outcome = _train_epoch(job, model, epoch, loop)
            if outcome == "failed":
                return
            if outcome == "stopped":
                break
            try:
                test_probabilities = _end_epoch(job, model, epoch, *outcome)
            except PredictionStopped:
                break
        else:
            completed = True
    finally:
        loop.preparer.shutdown(wait=True)
    if not completed:
        # Evaluate the weights as they are now, not an earlier epoch's; even without a
        # running slot (a paused job gave its slot away), as one test pass is short.
        test_probabilities = None
        with job._lock:
            job._stopped_early = True
        job._set_state("stopping")
    if not job._released:
        if test_probabilities is None:
            test_probabilities = _predict(job, model, job._data.x_test)
        data = job._data
        report = classification_report(test_probabilities, data.y_test, data.class_names)
        with job._lock:
            job.test_probabilities = test_probabilities
            job._test = report
    job._set_state("finished")


def _train_epoch(job, model: keras.Model, epoch: int, loop: _Loop):
    """One pass over the training set, a few batches per compiled call.

    Returns "stopped", "failed", or (mean loss, mean accuracy, seconds trained) when done.
    """
    data, settings = job._data, job.settings
    augment = settings.augment_shift > 0 or settings.augment_flip
    count = len(data.x_train)
    order = loop.order_rng.permutation(count)
    model.reset_metrics()
    position = batch = 0
    mean_loss = mean_accuracy = 0.0
    with job._lock:
        job._epoch, job._batch = epoch, 0
        job._batches_per_epoch = math.ceil(count / job._batch_size)
    seconds = 0.0
    started = previous_end = time.perf_counter()

    def prepare(start: int, size: int, batches: int) -> _Stack:
        """`batches` batches of `size` from `start` (the last batch of an epoch alone)."""
        x_batches, y_batches = [], []
        for index in range(batches):
            indices = order[start + index * size : start + (index + 1) * size]
            x_batch = data.x_train[indices]
            if augment:
                x_batch = augment_batch(
                    x_batch, loop.augment_rng, settings.augment_shift, settings.augment_flip
                )
            x_batches.append(x_batch)
            y_batches.append(data.y_train[indices])
        x_stack = np.stack(x_batches)
        return _Stack(size, x_stack, to_float(x_stack), np.stack(y_batches))

    def plan(start: int) -> tuple[int, int]:
        """(batch size, batches) of the call that starts at `start`."""
        size = job._batch_size
        full = (count - start) // size
        if full == 0:
            return count - start, 1  # the epoch's last, smaller batch
        return size, min(full, loop.sizer.batches())

    # The stack being prepared in the background for the next call. Batches are prepared
    # strictly one after another, so the random draws come in the same order as one batch
    # per call would make them, and a seed gives the same run.
    ahead = None
    while position < count:
        if job._attention:
            retrace, resumed_at = _between_batches(job, model)
            if retrace:
                loop.train_function = MultiStep(model)
            if job._stop_requested:
                return "stopped"
            if resumed_at is not None:
                seconds += previous_end - started
                started = previous_end = resumed_at
        size, batches = plan(position)
        if ahead is not None and (ahead[0], ahead[1]) == (position, size):
            stack = ahead[2].result()
        else:
            if ahead is not None:
                ahead[2].result()  # prepared for a batch size no longer wanted
                loop.sizer.forget()
            stack = prepare(position, size, batches)
        ahead = None
        end = position + stack.size * len(stack.y)
        if end < count:
            next_size, next_batches = plan(end)
            ahead = (end, next_size, loop.preparer.submit(prepare, end, next_size, next_batches))
        inputs = stack.inputs
        tracing = loop.train_function.will_trace()
        step_started = time.perf_counter()
        rates = _scheduled_rates(job, len(stack.y), stack.size)
        running_losses, running_accuracies = loop.train_function(inputs, stack.y, rates)
        step_ended = time.perf_counter()
        if not tracing:
            loop.sizer.record(step_ended - step_started, len(stack.y))
        for running_loss, running_accuracy in zip(running_losses, running_accuracies, strict=True):
            batch_loss, batch_accuracy = float(running_loss), float(running_accuracy)
            batch += 1
            if not math.isfinite(batch_loss):
                _fail_on_loss(job, batch_loss, epoch, batch)
                return "failed"
            seen = position + size
            # Keras keeps running means over the epoch; a batch's own value is the change
            # in their sums (clipped: float32 sums leave a rounding error of about 1e-7).
            batch_loss, mean_loss = (
                max(0.0, (batch_loss * seen - mean_loss * position) / size),
                batch_loss,
            )
            batch_accuracy, mean_accuracy = (
                min(1.0, max(0.0, (batch_accuracy * seen - mean_accuracy * position) / size)),
                batch_accuracy,
            )
            position = seen
            if batch_loss > DIVERGED_FACTOR * math.log(max(2, len(job._data.class_names))):
                loop.diverging_batches += 1
                if loop.diverging_batches >= DIVERGED_BATCHES:
                    _fail_on_loss(job, batch_loss, epoch, batch)
                    return "failed"
            else:
                loop.diverging_batches = 0
            smooth = (loop.loss_smooth.add(batch_loss), loop.accuracy_smooth.add(batch_accuracy))
            with job._lock:
                job._batch = batch
                job._step += 1
                job._examples_seen += size
                left = math.ceil((count - position) / job._batch_size)
                job._batches_per_epoch = batch + left
                job._history.add(job._step, batch_loss, batch_accuracy, smooth)
        examples = size * len(stack.y)
        if not tracing:
            with job._lock:
                job._ms_per_example.add(1000 * (step_ended - step_started) / examples)
                # From the end of the last call, so preparing batches and probing count.
                job._samples_per_s.add(examples / (step_ended - previous_end))
        previous_end = step_ended
        if job._probe is not None and step_ended >= loop.next_probe:
            _run_probe(job, model, inputs[-1], stack.x[-1], stack.y[-1], epoch, batch)
            loop.next_probe = time.perf_counter() + job._probe_interval
        if job._weight_decay > 0 and step_ended >= loop.next_decay_loss:
            _update_decay_loss(job, loop.decayed)
            loop.next_decay_loss = step_ended + DECAY_LOSS_INTERVAL
    return mean_loss, mean_accuracy, seconds + time.perf_counter() - started


def _end_epoch(
    job, model: keras.Model, epoch: int, loss: float, accuracy: float, seconds: float
) -> np.ndarray | None:
    """Validate (and test, if asked) at an epoch's end; returns the test probabilities."""
    data = job._data
    started = time.perf_counter()
    entry = {
        "epoch": epoch,
        "loss": loss,
        "accuracy": accuracy,
        "val_loss": None,
        "val_accuracy": None,
        "test_accuracy": None,
        "seconds": None,
    }
    if data.x_val is not None:
        report = classification_report(
            _predict(job, model, data.x_val, interruptible=True), data.y_val, data.class_names
        )
        entry["val_loss"], entry["val_accuracy"] = report["loss"], report["accuracy"]
    test_probabilities = None
    if job.settings.test_each_epoch:
        test_probabilities = _predict(job, model, data.x_test, interruptible=True)
        predicted = test_probabilities.argmax(axis=1)
        entry["test_accuracy"] = float((predicted == data.y_test).mean())
    entry["seconds"] = seconds + time.perf_counter() - started
    with job._lock:
        job._epoch_history.append(entry)
    return test_probabilities


def _predict(job, model: keras.Model, images: np.ndarray, interruptible: bool = False):
    """Softmax outputs for uint8 images, a chunk at a time; an interruptible prediction
    raises `PredictionStopped` when the job is asked to stop."""
    should_stop = (lambda: job._stop_requested) if interruptible else None
    return predict_in_chunks(model, images, should_stop=should_stop)


def _between_batches(job, model: keras.Model) -> tuple[bool, float | None]:
    """Apply new controls, and wait here while paused.

    Returns (the train step must be retraced, the time training resumed or None).
    """
    with job._lock:
        job._attention = False
        pending, job._pending = job._pending, {}
    retrace = _apply(job, model, pending)
    if not job._pause_requested or job._stop_requested:
        return retrace, None
    # Paused: give the slot to the next job and sleep until resumed or stopped. Controls
    # changed meanwhile are applied at once, so the optimizer shows them while paused.
    job._scheduler.release(job)
    job._holding_slot = False
    job._set_state("paused")
    while True:
        with job._lock:
            while not job._attention:
                job._condition.wait()
            job._attention = False
            pending, job._pending = job._pending, {}
            carry_on = not job._pause_requested or job._stop_requested
        retrace |= _apply(job, model, pending)
        if carry_on:
            break
    if job._stop_requested:
        return retrace, None
    job._set_state("queued")
    job._holding_slot = job._scheduler.acquire(job, lambda: job._stop_requested)
    if not job._holding_slot:
        return retrace, None
    job._set_state("running")
    return retrace, time.perf_counter()


def _apply(job, model: keras.Model, pending: dict) -> bool:
    """Hand new hyperparameters to the optimizer; True if the train step must be retraced.

    The learning rate lives in a variable the compiled step reads, so assigning it is
    enough. Keras keeps momentum and weight decay as Python numbers that are baked into
    the step when it is traced, so changing them needs a fresh trace.
    """
    optimizer = model.optimizer
    retrace = False
    if pending:
        with job._lock:
            for setting, value in pending.items():
                job._changes.add(setting, value, job._step, job._epoch, job._batch)
    if "learning_rate" in pending:
        _schedule_rate(job, model)
    if "momentum" in pending and job.settings.optimizer == "sgd":
        if optimizer.momentum != pending["momentum"]:
            optimizer.momentum = pending["momentum"]
            retrace = True
    if "weight_decay" in pending:
        decay = pending["weight_decay"] or None
        if optimizer.weight_decay != decay:
            optimizer.weight_decay = decay
            retrace = True
        if decay is None:
            with job._lock:
                job._weight_decay_loss = 0.0
    return retrace


def _scheduled_rates(job, batches: int, size: int) -> list[float]:
    """The learning rate of each of the next `batches` steps: the chosen rate times the
    schedule's factor for how far the run will have come at that step."""
    total, seen, base = job._examples_total, job._examples_seen, job._learning_rate
    schedule = job.settings.schedule
    rates = [base * schedule_factor(schedule, (seen + i * size) / total) for i in range(batches)]
    with job._lock:
        job._rate_now = rates[-1]
    return rates


def _schedule_rate(job, model: keras.Model) -> None:
    """Give the optimizer the rate the next step will use (the steps set it themselves;
    this shows a change at once, while the job is paused too). The rate lives in a
    variable the compiled step reads: no retrace."""
    model.optimizer.learning_rate = _scheduled_rates(job, 1, 1)[0]


def _run_probe(job, model, inputs, x_batch, y_batch, epoch: int, batch: int) -> None:
    info = {
        "x": inputs,
        "x_uint8": x_batch,
        "y": y_batch,
        "step": job._step,
        "epoch": epoch,
        "batch": batch,
    }
    started = time.perf_counter()
    try:
        result, error = job._probe(model, info), None
    except Exception as failure:  # noqa: BLE001 - a broken picture must not stop training
        result, error = job._probe_result, f"{type(failure).__name__}: {failure}"
    seconds = time.perf_counter() - started
    with job._lock:
        job._probe_result = result
        job._probe_error = error
        job._probe_ms.add(1000 * seconds)
        job._probe_seconds_total += seconds


def _update_decay_loss(job, variables: list) -> None:
    # ConvNetJS's weight-decay loss: decay / 2 times the sum of squared kernel weights.
    total = sum(float(np.square(np.asarray(v.numpy(), dtype=np.float64)).sum()) for v in variables)
    with job._lock:
        job._weight_decay_loss = 0.5 * job._weight_decay * total


def _fail_on_loss(job, loss: float, epoch: int, batch: int) -> None:
    optimizer = job.settings.optimizer
    rate = job._learning_rate
    suggestion = min(rate / 10, TYPICAL_LEARNING_RATES[optimizer])
    if math.isfinite(loss):
        chance = math.log(max(2, len(job._data.class_names)))
        what = _(
            "The loss diverged: {loss} at epoch {epoch}, batch {batch}, after {batches} "
            "batches far above the {chance} of guessing at random"
        ).format(
            loss=f"{loss:,.4g}",
            epoch=epoch,
            batch=batch,
            batches=DIVERGED_BATCHES,
            chance=f"{chance:.2f}",
        )
    elif math.isnan(loss):
        what = _("The loss became NaN at epoch {epoch}, batch {batch}").format(
            epoch=epoch, batch=batch
        )
    else:
        what = _("The loss became infinite at epoch {epoch}, batch {batch}").format(
            epoch=epoch, batch=batch
        )
    with job._lock:
        job._error = _(
            "{what}: the learning rate {rate} is too high for {optimizer}. Lower it (try "
            "{suggestion}) and start again."
        ).format(what=what, rate=f"{rate:g}", optimizer=optimizer, suggestion=f"{suggestion:g}")
    job._set_state("failed")
