"""Dataset profiles: what the one trainer needs to know about a dataset to train on it.

A profile is a page's configuration, as each of ConvNetJS's demos is a short configuration
block over one shared script: the dataset's images and classes, the networks offered for it
(registry keys, the first is the default), the training settings a run starts from, which
augmentations make sense, the training-set sizes offered and whether the live layer view
runs. MNIST and CIFAR-10 are built in; an imported dataset becomes a profile of its own
(`from_stored`), with a network chosen for its image size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cnnlib.datasets import CIFAR10_CLASS_NAMES, MNIST_CLASS_NAMES
from cnnlib.layers import Network


@dataclass(frozen=True)
class DatasetProfile:
    name: str  # the dataset's key for `cnnlib.datasets.load`: "mnist", "cifar10", ...
    label: str  # shown to the user
    input_shape: tuple[int, int, int]  # one image: height, width, channels
    class_names: tuple[str, ...]  # one per output unit, in output order
    networks: tuple[str, ...]  # registry keys offered for it; the first is the default
    settings: dict[str, Any] = field(default_factory=dict)  # TrainSettings a run starts from
    flip: bool = False  # whether mirrored images still show their class (photos: yes)
    train_sizes: tuple[int, ...] = (500, 1_000, 2_000, 5_000, 10_000, 20_000)  # plus "all"
    default_train_size: int | None = None  # training images a first run uses; None = all
    live_view: bool = False  # probe layers and stream test images while training
    network: Network | None = None  # a network of its own, offered before `networks`; or None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def train_size_choices(self, available: int) -> list[int]:
        """The training-set sizes offered for a dataset with `available` training images."""
        return [size for size in self.train_sizes if size < available] + [available]


MNIST = DatasetProfile(
    name="mnist",
    label="MNIST",
    input_shape=(28, 28, 1),
    class_names=tuple(MNIST_CLASS_NAMES),
    networks=("mnist_one_conv", "mnist_two_conv", "exercise", "convnetjs_mnist"),
    # A quick first run: 3 epochs of 10,000 images with Adam, as the lecture trains.
    settings={"epochs": 3, "batch_size": 128, "optimizer": "adam", "learning_rate": 1e-3},
    flip=False,  # a mirrored 2 is not a 2
    default_train_size=10_000,
)

CIFAR10 = DatasetProfile(
    name="cifar10",
    label="CIFAR-10",
    input_shape=(32, 32, 3),
    class_names=tuple(CIFAR10_CLASS_NAMES),
    networks=("convnetjs_cifar10",),
    # ConvNetJS's demo: SGD with momentum, a little weight decay, shifts and flips.
    settings={
        "epochs": 10,
        "batch_size": 128,
        "optimizer": "sgd",
        "learning_rate": 0.01,
        "momentum": 0.9,
        "weight_decay": 1e-4,
        "augment_shift": 2,
        "augment_flip": True,
        "test_each_epoch": True,
    },
    flip=True,
    live_view=True,
)

PROFILES = {profile.name: profile for profile in (MNIST, CIFAR10)}


def get(name: str) -> DatasetProfile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(
            f"CNN Lab has no dataset named {name!r}; choose one of {', '.join(PROFILES)}."
        ) from None


def with_live_view(profile: DatasetProfile) -> DatasetProfile:
    """The same profile with the live layer view on and ConvNetJS's own network first: the
    CIFAR-10 page trains any dataset the way ConvNetJS's demo does."""
    from dataclasses import replace

    first = sorted(profile.networks, key=lambda key: not key.startswith("convnetjs"))
    return replace(profile, live_view=True, networks=tuple(first))


# Training images offered for an imported set, which is often small; plus "all".
STORED_TRAIN_SIZES = (100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000)


def from_stored(info: Any) -> DatasetProfile:
    """The profile of a stored set (a `cnnlib.own_data.StoredInfo`): its own images and
    classes, `own_data.default_network` for them first, then every registry network that
    reads the same images into as many classes, and the live layer view on."""
    from cnnlib.own_data import default_network
    from cnnlib.registry import REGISTRY

    shape = tuple(int(side) for side in info.input_shape)
    classes = tuple(info.class_names)
    fitting = tuple(
        key
        for key, entry in REGISTRY.items()
        if tuple(entry.network.input_shape) == shape and entry.num_classes == len(classes)
    )
    return DatasetProfile(
        name=info.dataset_name,
        label=info.title,
        input_shape=shape,
        class_names=classes,
        networks=fitting,
        network=default_network(shape, len(classes)),
        # Adam as the lecture trains, in smaller batches: an imported set is often a few
        # hundred images, and each epoch should still take several steps.
        settings={
            "epochs": 10,
            "batch_size": 32,
            "optimizer": "adam",
            "learning_rate": 1e-3,
            "test_each_epoch": True,
        },
        flip=True,  # offered, off by default: only the student knows if mirrored images fit
        train_sizes=STORED_TRAIN_SIZES,
        live_view=True,
    )
