"""Links that share a setup (`cnnlib.share`): what a page writes reads back as the same network
and settings, and damaged, tampered or oversized links are refused with a message."""

import base64
import dataclasses
import json
import zlib
from urllib.parse import parse_qsl

import pytest

from cnnlib import layers as L
from cnnlib import share
from cnnlib.i18n import language
from cnnlib.layers import MAX_SPEC_BYTES, Network
from cnnlib.registry import REGISTRY

EDITED = Network(
    "my net",
    (
        L.Input((28, 28, 1)),
        L.Conv2D(8, (5, 5), padding="same"),
        L.MaxPooling2D((2, 2)),
        L.Parallel(branches=((L.Conv2D(4, (1, 1)),), ()), merge="concat"),
        L.Flatten(),
        L.Dropout(0.3),
        L.Dense(10, activation="softmax"),
    ),
)


def through_url(params: dict[str, str]) -> dict[str, str]:
    """What a browser hands back after the parameters went through a real link."""
    return dict(parse_qsl(share.query_string(params), keep_blank_values=True))


def test_registry_network_is_named_by_its_key():
    params = share.explorer_params(REGISTRY["lenet5"].network, "lenet5")
    assert params == {"net": "lenet5"}
    network, key = share.read_explorer(through_url(params))
    assert key == "lenet5" and network == REGISTRY["lenet5"].network


def test_edited_network_round_trips_packed():
    edited = dataclasses.replace(REGISTRY["lenet5"].network, name="LeNet, edited")
    params = share.explorer_params(edited, "lenet5")  # no longer the registry's
    assert params["net"].startswith("z.")
    assert share.read_explorer(through_url(params)) == (edited, None)
    assert share.read_explorer(through_url(share.explorer_params(EDITED, None))) == (EDITED, None)


def test_no_parameters_no_setup():
    assert share.read_explorer({}) is None
    assert share.read_trainer({}) is None
    assert share.link_params({"lang": "ko"}) == {}


def test_trainer_link_round_trips():
    link = share.TrainerLink(
        architecture="mnist_two_conv",
        dropout=(0.3, 0.45, 0.1),
        dataset="mnist",
        images=5000,
        settings={
            "optimizer": "sgd",
            "learning_rate": 0.0125,
            "schedule": "cosine",
            "batch_size": 64,
            "epochs": 7,
            "momentum": 0.8,
            "weight_decay": 1e-5,
            "validation_split": 0.0,
            "augment_shift": 2,
            "augment_flip": True,
            "seed": 3,
            "precision": "float32",
        },
    )
    params = share.trainer_params(link)
    text = share.query_string(params)
    # Readable: words and numbers, the registry key by name.
    assert "net=mnist_two_conv" in text and "lr=0.0125" in text and "optimizer=sgd" in text
    assert "dropout=0.3,0.45,0.1" in text and "decay=1e-05" in text
    assert share.read_trainer(through_url(params)) == link


@pytest.mark.parametrize("name", ["shapes", "shared-shapes", "도형-모음", "my_set_2"])
def test_a_stored_sets_name_goes_through_a_link(name):
    # Any folder name `own_data.safe_name` gives: letters of any script, digits, '-' and '_'.
    from cnnlib.own_data import safe_name

    assert safe_name(name.replace("-", " ")) == name
    link = share.TrainerLink(dataset=name, settings={"epochs": 2})
    assert share.read_trainer(through_url(share.trainer_params(link))) == link


def test_trainer_link_with_own_network():
    link = share.TrainerLink(network=EDITED, settings={"epochs": 2})
    assert share.read_trainer(through_url(share.trainer_params(link))) == link


@pytest.mark.parametrize(
    "params",
    [
        {"net": "no_such_network"},
        {"net": "z.not-base64-$$$"},
        {"net": "z." + base64.urlsafe_b64encode(b"plain text, not deflated").decode()},
        {"net": "lenet5", "lr": "fast"},
        {"net": "lenet5", "lr": "-1"},
        {"lr": "1e400"},
        {"lr": "100"},  # above the trainer's bound
        {"batch": "0"},
        {"epochs": "2.5"},
        {"optimizer": "adamw"},
        {"schedule": "step"},
        {"precision": "float8"},
        {"flip": "yes"},
        {"dropout": "0.5", "net": "lenet5"},  # LeNet-5 has no Dropout
        {"net": "mnist_two_conv", "dropout": "0.5,0.5,0.95"},  # above the sliders' 0.9
        {"dataset": "../../etc"},
        {"dataset": "own/../../etc"},
        {"dataset": "shapes.npz"},
        {"dataset": "x" * 65},
    ],
)
def test_tampered_links_are_refused(params):
    with pytest.raises(share.LinkError):
        share.read_trainer(params)


def pack(payload: bytes) -> str:
    return "z." + base64.urlsafe_b64encode(zlib.compress(payload, 9)).decode().rstrip("=")


def test_a_packed_network_goes_through_the_json_import_checks():
    # Valid JSON, but a layer beyond the import's bounds, and one whose shapes do not fit.
    huge = EDITED.to_dict()
    huge["layers"][1]["filters"] = 10**6
    with pytest.raises(share.LinkError, match="1,000,000"):
        share.read_explorer({"net": pack(json.dumps(huge).encode())})
    too_small = Network("tiny", (L.Input((3, 3, 1)), L.Conv2D(4, (5, 5))))
    with pytest.raises(share.LinkError, match="5×5 kernel does not fit"):
        share.read_explorer({"net": share.pack_network(too_small)})


def test_oversized_links_are_refused():
    # A zip bomb: a small link that unpacks beyond the size of a network file.
    bomb = pack(b" " * (MAX_SPEC_BYTES + 10))
    assert len(bomb) < share.MAX_QUERY_CHARS
    with pytest.raises(share.LinkError, match="524,288"):
        share.read_explorer({"net": bomb})
    with pytest.raises(share.LinkError, match="characters long"):
        share.read_trainer({"net": "z." + "A" * share.MAX_QUERY_CHARS})
    with pytest.raises(share.LinkError, match="characters long"):
        share.read_explorer({"net": "lenet5", "images": "1" * share.MAX_QUERY_CHARS})


def test_refusals_speak_the_page_language():
    with language("ko"), pytest.raises(share.LinkError) as refused:
        share.read_explorer({"net": "no_such_network"})
    assert "no_such_network" in str(refused.value)
    assert any("\uac00" <= char <= "\ud7a3" for char in str(refused.value))


def test_the_import_checks_speak_korean_inside_a_refusal():
    huge = EDITED.to_dict()
    huge["layers"][1]["filters"] = 10**6
    with language("ko"), pytest.raises(share.LinkError) as refused:
        share.read_explorer({"net": pack(json.dumps(huge).encode())})
    # The link's own words and the layer check's words, both in Korean.
    assert "링크에 담긴 네트워크" in str(refused.value)
    assert "계층 1 (Conv2D): filters 1,000,000" in str(refused.value)


def test_a_shape_that_does_not_fit_is_refused_in_korean():
    too_small = Network("tiny", (L.Input((3, 3, 1)), L.Conv2D(4, (5, 5))))
    with language("ko"), pytest.raises(share.LinkError) as refused:
        share.read_explorer({"net": share.pack_network(too_small)})
    assert "계층 1 (Conv2D): 5×5 커널은(는) 'valid' 패딩으로는 3×3×1 입력에" in str(refused.value)
