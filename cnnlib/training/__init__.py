"""Training jobs: a Keras model trained in a background thread that pages watch and steer.

- `settings`: `TrainSettings`, the bounds of every choice, and the one optimizer factory;
- `state`: `JobState`, with the questions pages ask (`.active`, `.ended`);
- `job`: `TrainingJob`, the thread, its controls and its plain-data `snapshot()`;
- `loop`: what the thread does, batch by batch; `steps`: several batches per compiled call;
- `data` and `history`: the arrays a job trains on, and what it remembers of its run.

Which run a page started, on which data, and the record it becomes is `cnnlib.runs`'. Data
augmentation is `cnnlib.augment`, scores `cnnlib.metrics`, the choice of precision
`cnnlib.precision`; drawing, Streamlit and model building are not here.
"""

from typing import Any

# Names are looked up when first used, so that `cnnlib.training.state` or `.settings` can be
# imported (by pages that never train) without loading TensorFlow through the job.
_EXPORTS = {
    "OPTIMIZERS": "cnnlib.training.settings",
    "SCHEDULES": "cnnlib.training.settings",
    "TrainSettings": "cnnlib.training.settings",
    "JobState": "cnnlib.training.state",
    "TrainingJob": "cnnlib.training.job",
    "PRECISIONS": "cnnlib.precision",
    "resolve_precision": "cnnlib.precision",
    "JobScheduler": "cnnlib.scheduler",
    "configure": "cnnlib.scheduler",
    "default_scheduler": "cnnlib.scheduler",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'cnnlib.training' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name]), name)
