"""The dashboard's pages in the order a student should visit them: file, title, icon and what
each teaches. `app.py` builds the navigation from it and the home page describes it, so adding a
page is one entry here."""

from __future__ import annotations

from dataclasses import dataclass

from cnnlib.i18n import N_


@dataclass(frozen=True)
class PageEntry:
    path: str  # page script, relative to the app's folder
    title: str  # shown in the navigation (English, translated where shown, like the texts below)
    icon: str  # a Material icon name
    teaches: str  # one or two sentences for the home page
    lecture: str  # the lecture sections it follows


PAGES = (
    PageEntry(
        "views/explorer.py",
        N_("Architecture explorer"),
        ":material/schema:",
        N_(
            "How a CNN is put together: convolution, channels, filters, stride, padding and "
            "pooling, worked out layer by layer with the formulas. Build any network, see every "
            "shape, parameter and operation, and check the lecture's numbers. Nothing trains here."
        ),
        N_("Sections 2 and 4: convolution to fully connected layers; the case studies"),
    ),
    PageEntry(
        "views/mnist.py",
        N_("MNIST digits"),
        ":material/draw:",
        N_(
            "Train the lecture's Keras models on handwritten digits, live, and try to reach the "
            "exercise's 99.3%. Then draw a digit and watch the network read it, feature map by "
            "feature map."
        ),
        N_("Sections 5.2 and 5.3: MNIST classifiers and the exercise"),
    ),
    PageEntry(
        "views/cifar10.py",
        N_("CIFAR-10 live"),
        ":material/photo_library:",
        N_(
            "ConvNetJS's live training demo on colour images, rebuilt on Keras: steer the learning "
            "rate, momentum and batch size while it trains and watch the activations and filters "
            "change."
        ),
        N_("Section 5.4: ConvNetJS demo, training on CIFAR-10"),
    ),
    PageEntry(
        "views/ensemble.py",
        N_("Ensembles"),
        ":material/groups:",
        N_(
            "Combine several trained models into one better answer, see when and why it beats its "
            "members, and why it must be measured on the test set."
        ),
        N_("Section 5.5: ensembles"),
    ),
    PageEntry(
        "views/own_data.py",
        N_("Your own data"),
        ":material/upload_file:",
        N_(
            "Bring your own pictures: a zip of one folder per class, or a .npz. See what the "
            "upload holds before anything trains, import it at the size you choose, train any "
            "network on it with the same live trainer, then ask the model why it read an image "
            "as it did."
        ),
        N_("Sections 5.2 to 5.4 applied to your own images"),
    ),
)
