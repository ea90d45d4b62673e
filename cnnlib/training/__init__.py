"""Training jobs: a Keras model trained in a background thread that pages watch and steer.

- `settings`: `TrainSettings`, the bounds of every choice, and the one optimizer factory;
- `state`: `JobState`, with the questions pages ask (`.active`, `.ended`);
- `job`: `TrainingJob`, the thread, its controls and its plain-data `snapshot()`;
- `loop`: what the thread does, batch by batch;
- `data` and `history`: the arrays a job trains on, and what it remembers of its run.

Which run a page started, on which data, and the record it becomes is `cnnlib.runs`'. Data
augmentation is `cnnlib.augment`, scores `cnnlib.metrics`, the choice of precision
`cnnlib.precision`; drawing, Streamlit and model building are not here.
"""

from cnnlib.precision import PRECISIONS, resolve_precision
from cnnlib.scheduler import JobScheduler, configure, default_scheduler
from cnnlib.training.job import TrainingJob
from cnnlib.training.settings import OPTIMIZERS, TrainSettings
from cnnlib.training.state import JobState

__all__ = [
    "OPTIMIZERS",
    "PRECISIONS",
    "JobScheduler",
    "JobState",
    "TrainSettings",
    "TrainingJob",
    "configure",
    "default_scheduler",
    "resolve_precision",
]
