"""Links that share a setup, on the pages: open a link's setup into the widgets, keep the URL
following the page, and show the link to copy.

Each page that makes links has a `_state.LinkState`. A script run first compares the URL's
setup parameters with what the page last read or wrote: different ones are a link just opened,
read by `cnnlib.share` (which refuses bad ones with a message) and put into the widgets' session
keys before the widgets are drawn. At the end of the run the page writes its current setup back
into the URL and shows the whole link with a copy button. A refused link leaves the page at its
defaults and its message stays until the student changes something.
"""

from __future__ import annotations

import dataclasses

import streamlit as st

from cnnlib import share
from cnnlib.i18n import _
from cnnlib.registry import REGISTRY
from cnnlib.runs import network_problem
from cnnlib.share import LinkError, TrainerLink
from views import _state
from views._trainer_network import SHARED, dropout_key, dropout_positions
from views._trainer_settings import BATCH_SIZES

# The session keys of the dataset pickers of pages that offer a choice of dataset.
DATASET_WIDGETS = {"cifar": "cifar_w_dataset", "own": "own_w_dataset"}
# TrainSettings fields -> the trainer's widget names ("<page>_w_<name>").
WIDGETS = {
    "epochs": "epochs",
    "batch_size": "batch_size",
    "optimizer": "optimizer",
    "learning_rate": "learning_rate",
    "schedule": "schedule",
    "momentum": "momentum",
    "weight_decay": "weight_decay",
    "validation_split": "validation",
    "augment_shift": "shift",
    "augment_flip": "flip",
    "seed": "seed",
    "precision": "precision",
}
MAX_MOMENTUM = 0.99  # the momentum slider's end
MAX_SHIFT = 4  # the shift slider's end


def _incoming(page: str) -> dict[str, str] | None:
    """The URL's setup parameters when they are new to this page: a link just opened."""
    state = _state.link(page)
    params = share.link_params(st.query_params)
    if not params or params == state.seen:
        return None
    state.seen = params
    return params


def _note(page: str, note: str, refused: bool = False) -> None:
    """Say what the link just opened did, until the student changes something."""
    state = _state.link(page)
    state.note, state.refused, state.fresh = note, refused, True


def _refuse(page: str, error: Exception) -> None:
    _state.link(page).pending = None
    message = _(
        "This link's setup cannot be opened: {error} The page starts from its defaults instead."
    )
    _note(page, message.format(error=error), refused=True)


def note_slot():
    """Where a page shows what its link did: filled at the end of the run, once the run has
    seen whether the student changed something since."""
    return st.empty()


def _show_note(page: str, slot) -> None:
    state = _state.link(page)
    if state.note and state.refused:
        slot.warning(state.note, icon=":material/link_off:")
    elif state.note:
        slot.info(state.note, icon=":material/link:")


def _publish(page: str, params: dict[str, str], slot, where=st) -> None:
    """Write `params` into the URL, show the link's note in `slot` and the link to copy in
    `where`."""
    state = _state.link(page)
    try:
        share.check_size(params)
    except LinkError as error:
        too_big = str(error)
    else:
        too_big = None
        # The address loses its parameters when the student visits another page.
        if share.link_params(st.query_params) != params:
            for key in share.KEYS:
                if key in st.query_params and key not in params:
                    del st.query_params[key]
            st.query_params.update(params)
        if params != state.seen:
            state.seen = params
            if state.fresh:
                state.fresh = False
            else:
                state.note = None
    _show_note(page, slot)
    with where.expander(_("Share this setup"), icon=":material/link:"):
        if too_big:
            st.info(too_big)
            return
        address = (st.context.url or "") + "?" + share.query_string(params)
        st.code(address, language=None, wrap_lines=True)
        st.caption(
            _(
                "Copy the link with the button beside it. Opening it sets this page up the same "
                "way, in a fresh session too; nothing else of this session goes with it."
            )
        )


# ---------------------------------------------------------------------------------------------
# The explorer


def open_explorer_link() -> None:
    """Load the network of a link just opened into the explorer's editor."""
    from views._explorer_network import replace_network

    params = _incoming("explorer")
    if params is None:
        return
    try:
        found = share.read_explorer(params)
    except LinkError as error:
        _refuse("explorer", error)
        return
    if found is not None:
        network, key = found
        # A registry network is named by its title in the page's language; another keeps its
        # own name, as whoever shared it wrote it.
        name = REGISTRY[key].shown_title() if key in REGISTRY else network.name
        note = _("Opened {network} from a shared link.").format(network=repr(name))
        replace_network(network, key)
        _note("explorer", note)


def explorer_link(slot, where) -> None:
    """Write the explorer's network into the URL and show the link in `where`, a container
    placed near the top: the network is known only once the editor has run."""
    network = st.session_state[_state.EXPLORER_NETWORK]
    params = share.explorer_params(network, st.session_state[_state.EXPLORER_SOURCE])
    _publish("explorer", params, slot, where)


# ---------------------------------------------------------------------------------------------
# The training pages


def open_trainer_link(page: str, datasets: list[str] | tuple[str, ...] = ()) -> None:
    """Read a link just opened on a training page and set its dataset picker, before the
    picker is drawn; the rest waits for `apply_trainer_link`, which knows the dataset."""
    params = _incoming(page)
    if params is None:
        return
    try:
        link = share.read_trainer(params)
        if link is not None and link.dataset is not None and link.dataset not in datasets:
            raise LinkError(
                _("The link names a dataset this page does not have: {name}.").format(
                    name=repr(link.dataset)
                )
            )
    except LinkError as error:
        _refuse(page, error)
        return
    if link is not None and link.dataset is not None:
        st.session_state[DATASET_WIDGETS[page]] = link.dataset
    _state.link(page).pending = link


def apply_trainer_link(page: str, profile, dataset) -> None:
    """Give the trainer's widgets the network and settings of a link just opened."""
    open_trainer_link(page)
    state = _state.link(page)
    link, state.pending = state.pending, None
    if link is None:
        return
    try:
        values = _widget_values(page, profile, dataset, link)
    except LinkError as error:
        _refuse(page, error)
        return
    if link.network is not None:
        _state.trainer(page).shared = link.network
    st.session_state.update(values)
    _note(page, _("This page's network and settings come from a shared link."))


def _widget_values(page: str, profile, dataset, link: TrainerLink) -> dict:
    """The trainer's session keys and the values the link gives them; LinkError where a value
    is not one this page offers."""
    values = {}
    network_key = f"{page}_w_network_{profile.name}"
    if link.architecture is not None:
        if link.architecture not in profile.networks:
            raise LinkError(
                _("The network {name} is not offered for {dataset} on this page.").format(
                    name=REGISTRY[link.architecture].shown_title(), dataset=profile.label
                )
            )
        values[network_key] = link.architecture
        network = REGISTRY[link.architecture].network
        rates = link.dropout or [network.layers[i].rate for i in dropout_positions(network)]
        for position, rate in zip(dropout_positions(network), rates, strict=True):
            values[dropout_key(page, link.architecture, position)] = float(rate)
    elif link.network is not None:
        problem = network_problem(link.network, profile)
        if problem:
            raise LinkError(problem)
        values[network_key] = SHARED
        for position in dropout_positions(link.network):
            rate = float(link.network.layers[position].rate)
            values[dropout_key(page, SHARED, position)] = min(rate, 0.9)
    settings = dict(link.settings)
    checks = {
        "batch_size": lambda n: n in BATCH_SIZES,
        "momentum": lambda m: m <= MAX_MOMENTUM,
        "augment_shift": lambda n: n <= MAX_SHIFT,
        "augment_flip": lambda flip: profile.flip or not flip,
    }
    for setting, value in settings.items():
        if setting in checks and not checks[setting](value):
            raise LinkError(
                _("The link's {name} is {value}, which this page does not offer.").format(
                    name=setting, value=repr(value)
                )
            )
        if setting == "validation_split":
            value = value > 0
        values[f"{page}_w_{WIDGETS[setting]}"] = value
    if link.images is not None:
        sizes = profile.train_size_choices(len(dataset.y_train))
        if link.images not in sizes:
            raise LinkError(
                _("The link asks for {count} training images; this dataset offers {sizes}.").format(
                    count=f"{link.images:,}", sizes=", ".join(f"{n:,}" for n in sizes)
                )
            )
        values[f"{page}_w_train_size_{profile.name}"] = link.images
    return values


def trainer_link(page: str, profile, choice, slot) -> None:
    """Write the trainer's network and settings into the URL and show the link."""
    network = choice.network
    link = TrainerLink(
        dataset=st.session_state.get(DATASET_WIDGETS[page]) if page in DATASET_WIDGETS else None,
        images=choice.train_images,
        settings={
            setting: choice.values[setting] for setting in WIDGETS if setting in choice.values
        },
    )
    if not profile.flip:
        link.settings.pop("augment_flip", None)
    if choice.architecture is not None and network is not None:
        registry_network = REGISTRY[choice.architecture].network
        positions = dropout_positions(network)
        rates = tuple(float(network.layers[i].rate) for i in positions)
        default = tuple(float(registry_network.layers[i].rate) for i in positions)
        dropout = () if rates == default else rates
        link = dataclasses.replace(link, architecture=choice.architecture, dropout=dropout)
    elif network is not None:
        link = dataclasses.replace(link, network=network)
    _publish(page, share.trainer_params(link), slot)
