"""Links that share a setup: the explorer's network, and a training page's network and
settings, as short readable URL query parameters, and back.

A link names a registry network by its key (`net=mnist_two_conv`); any other network (edited,
or built in the explorer) travels as its JSON, deflated and base64url-encoded after "z."
(`net=z.eNq…`). Settings are plain words and numbers (`optimizer=sgd&lr=0.01&batch=64`).
Reading a link goes through the limits of a JSON network import: the whole query is at most
`MAX_QUERY_CHARS`, an encoded network unpacks to at most `layers.MAX_SPEC_BYTES` and is read by
`Network.from_json` (every layer's bounds) and `arithmetic.analyse` (shapes that fit), and the
settings by `TrainSettings`' own checks. A link that fails any of them raises `LinkError`, with a
translated message that says what is wrong.

Pages hand in `st.query_params` as a plain mapping and write back the dicts made here; which
widget a value goes to is the pages' business. Nothing here imports Streamlit or TensorFlow.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from cnnlib.arithmetic import analyse
from cnnlib.i18n import _
from cnnlib.layers import MAX_SPEC_BYTES, Dropout, Network
from cnnlib.registry import REGISTRY

# A whole link's parameters, names and values: far above any lecture network's link (a few
# hundred characters for an edited LeNet), and below the ~8,000 characters that mail clients,
# chat programs and some proxies still pass whole.
MAX_QUERY_CHARS = 6_000
PACKED = "z."  # the start of a network packed into the link, rather than a registry key
NETWORK = "net"
DROPOUT = "dropout"
DATASET = "dataset"
IMAGES = "images"
# Parameter name -> the TrainSettings field it holds and how its text is read.
SETTINGS = {
    "optimizer": ("optimizer", "word"),
    "lr": ("learning_rate", "number"),
    "schedule": ("schedule", "word"),
    "batch": ("batch_size", "whole"),
    "epochs": ("epochs", "whole"),
    "momentum": ("momentum", "number"),
    "decay": ("weight_decay", "number"),
    "validation": ("validation_split", "switch"),
    "shift": ("augment_shift", "whole"),
    "flip": ("augment_flip", "switch"),
    "seed": ("seed", "whole"),
    "precision": ("precision", "word"),
}
KEYS = (NETWORK, DROPOUT, DATASET, IMAGES, *SETTINGS)  # every parameter a link may hold
VALIDATION_SHARE = 0.1  # the trainer's validation switch holds out this share or none
_WORD = re.compile(r"[a-z0-9_]{1,64}")
# A dataset: a built-in's name or a stored set's folder name (`own_data.safe_name`: letters of
# any script, digits, '-' and '_'), never a path.
_DATASET_NAME = re.compile(r"[\w-]{1,64}")
_WHOLE = re.compile(r"\d{1,12}")
_NUMBER = re.compile(r"\d{0,12}(\.\d{0,17})?(e-?\d{1,3})?", re.IGNORECASE)


class LinkError(ValueError):
    """A link that cannot be opened; its message says why, in the page's language."""


@dataclass(frozen=True)
class TrainerLink:
    """What a training page's link holds; every part is optional."""

    architecture: str | None = None  # registry key of the network
    network: Network | None = None  # a network of its own (edited, or the explorer's)
    dropout: tuple[float, ...] = ()  # rates of the registry network's Dropout layers, top down
    dataset: str | None = None  # the dataset, on a page that offers a choice
    images: int | None = None  # training images, before the validation split
    settings: dict[str, Any] = field(default_factory=dict)  # TrainSettings arguments


def link_params(query: Mapping[str, Any]) -> dict[str, str]:
    """The parameters of `query` that belong to a shared setup (not `lang` and the like)."""
    return {key: str(query[key]) for key in KEYS if key in query}


def query_string(params: Mapping[str, str]) -> str:
    """`params` as the part of a link after "?", in the order given."""
    return urlencode(params, safe=",")


# ---------------------------------------------------------------------------------------------
# Networks


def pack_network(network: Network) -> str:
    """A network as link text: "z." and its compact JSON, deflated, in base64url."""
    text = json.dumps(network.to_dict(), separators=(",", ":"))
    packed = base64.urlsafe_b64encode(zlib.compress(text.encode(), 9)).decode()
    return PACKED + packed.rstrip("=")


def unpack_network(text: str) -> Network:
    """The network packed by `pack_network`, checked as a JSON import is; LinkError if not."""
    body = text[len(PACKED) :]
    try:
        packed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        inflater = zlib.decompressobj()
        data = inflater.decompress(packed, MAX_SPEC_BYTES + 1)
    except (binascii.Error, ValueError, zlib.error):
        raise LinkError(
            _("The network in the link is damaged (it was cut short or changed by hand).")
        ) from None
    if len(data) > MAX_SPEC_BYTES or inflater.unconsumed_tail:
        raise LinkError(
            _("The network in the link unpacks to more than {limit} bytes.").format(
                limit=f"{MAX_SPEC_BYTES:,}"
            )
        )
    try:
        network = Network.from_json(data)
        analyse(network)
    except ValueError as error:
        raise LinkError(
            _("The network in the link cannot be used: {error}").format(error=error)
        ) from None
    return network


def network_param(network: Network, source: str | None) -> str:
    """`source`, the registry key the network came from, while it is unchanged; else the
    network packed."""
    if source in REGISTRY and REGISTRY[source].network == network:
        return source
    return pack_network(network)


def read_network(text: str) -> tuple[Network, str | None]:
    """The network a `net` parameter names, and its registry key (None for a packed one)."""
    if text.startswith(PACKED):
        return unpack_network(text), None
    if text in REGISTRY:
        return REGISTRY[text].network, text
    raise LinkError(
        _("The link names a network CNN Lab does not have: {name}.").format(name=repr(text[:64]))
    )


# ---------------------------------------------------------------------------------------------
# Whole links


def check_size(params: Mapping[str, str]) -> None:
    """Refuse a link whose setup parameters are longer than `MAX_QUERY_CHARS`."""
    size = sum(len(key) + len(value) + 2 for key, value in params.items())
    if size > MAX_QUERY_CHARS:
        raise LinkError(
            _(
                "The link is {size} characters long; a shared setup is at most {limit}. For a "
                "network this large, share its JSON file instead."
            ).format(size=f"{size:,}", limit=f"{MAX_QUERY_CHARS:,}")
        )


def explorer_params(network: Network, source: str | None) -> dict[str, str]:
    """The explorer's link parameters: its network."""
    return {NETWORK: network_param(network, source)}


def read_explorer(params: Mapping[str, str]) -> tuple[Network, str | None] | None:
    """The network an explorer link holds and its registry key; None when it holds none."""
    check_size(params)
    if NETWORK not in params:
        return None
    return read_network(params[NETWORK])


def trainer_params(link: TrainerLink) -> dict[str, str]:
    """A training page's link parameters, network first, then the settings in a fixed order."""
    params: dict[str, str] = {}
    if link.dataset is not None:
        params[DATASET] = link.dataset
    if link.architecture is not None:
        params[NETWORK] = link.architecture
        if link.dropout:
            params[DROPOUT] = ",".join(_number_text(rate) for rate in link.dropout)
    elif link.network is not None:
        params[NETWORK] = pack_network(link.network)
    for name, (setting, kind) in SETTINGS.items():
        if setting not in link.settings:
            continue
        value = link.settings[setting]
        if kind == "switch":
            params[name] = "1" if value else "0"
        elif kind == "number":
            params[name] = _number_text(value)
        else:
            params[name] = str(value)
    if link.images is not None:
        params[IMAGES] = str(link.images)
    return params


def read_trainer(params: Mapping[str, str]) -> TrainerLink | None:
    """The setup a training page's link holds; None when it holds none. The settings pass
    `TrainSettings`' checks; whether the network and the number of images suit the page's
    dataset is the page's to check."""
    from cnnlib.training.settings import TrainSettings

    check_size(params)
    if not params:
        return None
    architecture, network, dropout = None, None, ()
    if NETWORK in params:
        network, architecture = read_network(params[NETWORK])
        if architecture is not None:
            network = None
            dropout = _dropout(params.get(DROPOUT), REGISTRY[architecture].network)
    settings = {
        setting: _setting(name, params[name], kind)
        for name, (setting, kind) in SETTINGS.items()
        if name in params
    }
    try:
        TrainSettings(**settings)
    except ValueError as error:
        raise LinkError(
            _("A setting in the link cannot be used: {error}").format(error=error)
        ) from None
    dataset = params.get(DATASET)
    if dataset is not None and not _DATASET_NAME.fullmatch(dataset):
        raise LinkError(
            _("The link names a dataset CNN Lab does not have: {name}.").format(
                name=repr(dataset[:64])
            )
        )
    images = _setting(IMAGES, params[IMAGES], "whole") if IMAGES in params else None
    return TrainerLink(architecture, network, dropout, dataset, images, settings)


def _number_text(value: float) -> str:
    """The shortest text that reads back as the same number: 0.001, 1e-05, 0.25."""
    return repr(float(value))


def _setting(name: str, text: str, kind: str) -> Any:
    if kind == "word" and _WORD.fullmatch(text):
        return text
    if kind == "whole" and _WHOLE.fullmatch(text):
        return int(text)
    if kind == "switch" and text in ("0", "1"):
        value = text == "1"
        return (VALIDATION_SHARE if value else 0.0) if name == "validation" else value
    if kind == "number" and text and _NUMBER.fullmatch(text):
        try:
            return float(text)
        except ValueError:
            pass
    raise LinkError(
        _("The link's {name} is {value}, which is not a setting CNN Lab can use.").format(
            name=name, value=repr(text[:64])
        )
    )


def _dropout(text: str | None, network: Network) -> tuple[float, ...]:
    """Dropout rates from "0.25,0.5": one per Dropout layer of `network`, each from 0 to 0.9."""
    if text is None:
        return ()
    count = sum(isinstance(layer, Dropout) for layer in network.layers)
    rates = tuple(_setting(DROPOUT, part, "number") for part in text.split(","))
    if len(rates) != count or not all(0 <= rate <= 0.9 for rate in rates):
        raise LinkError(
            _(
                "The link gives {given} dropout rates for a network with {count} Dropout "
                "layers; each rate is from 0 to 0.9."
            ).format(given=len(rates), count=count)
        )
    return rates
