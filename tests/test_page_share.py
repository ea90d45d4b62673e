"""Links that share a setup, on the pages through AppTest: a page opened with a link's query
parameters shows that network and those settings, the URL follows the page, and a tampered or
oversized link shows a message and the page's defaults instead of a traceback."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from streamlit.testing.v1 import AppTest

from cnnlib import layers as L
from cnnlib import share
from cnnlib.registry import REGISTRY
from views import _state
from views._trainer_network import dropout_positions

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def open_with(page: str, **params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def shared_link(at: AppTest) -> str:
    """The link the page offers to copy."""
    links = [code.value for code in at.code if "?" in code.value and "net=" in code.value]
    assert len(links) == 1, [code.value[:80] for code in at.code]
    return links[0]


def url(at: AppTest) -> dict[str, str]:
    """The query parameters the page left in the address."""
    return {
        key: value if isinstance(value, str) else value[-1]
        for key, value in at.query_params.items()
    }


def warnings(at: AppTest) -> list[str]:
    return [w.value for w in at.warning]


def test_explorer_opens_a_registry_network_from_its_key():
    at = open_with("views/explorer.py", net="lenet5")
    assert at.session_state[_state.EXPLORER_NETWORK] == REGISTRY["lenet5"].network
    assert [i.value for i in at.info] == ["Opened 'LeNet-5' from a shared link."]
    assert shared_link(at).endswith("?net=lenet5")
    assert not warnings(at)


def test_explorer_opens_an_edited_network_and_follows_edits():
    edited = dataclasses.replace(
        REGISTRY["lenet5"].network,
        name="LeNet wider",
        layers=(*REGISTRY["lenet5"].network.layers[:-1], L.Dense(10, activation="softmax")),
    )
    edited = dataclasses.replace(
        edited, layers=(edited.layers[0], L.Conv2D(12, (5, 5)), *edited.layers[2:])
    )
    packed = share.pack_network(edited)
    at = open_with("views/explorer.py", net=packed)
    assert at.session_state[_state.EXPLORER_NETWORK] == edited
    assert url(at)["net"] == packed
    # Loading another network writes it into the URL and the link.
    at.selectbox(key="explorer_w_start").set_value("alexnet")
    at.button(key="explorer_load").click().run()
    assert url(at)["net"] == "alexnet"
    assert shared_link(at).endswith("?net=alexnet")


def test_explorer_refuses_a_tampered_link_and_keeps_its_default():
    good = share.pack_network(REGISTRY["lenet5"].network)
    at = open_with("views/explorer.py", net=good[:-12] + "x" + good[-11:])
    (message,) = warnings(at)
    assert "cannot be opened" in message and "defaults" in message
    assert at.session_state[_state.EXPLORER_NETWORK] == REGISTRY["mnist_two_conv"].network
    assert url(at)["net"] == "mnist_two_conv"
    # The message stays while nothing changes, and goes with the first change.
    at.run()
    assert warnings(at) == [message]
    at.selectbox(key="explorer_w_start").set_value("lenet5")
    at.button(key="explorer_load").click().run()
    assert not warnings(at)


def test_explorer_refuses_an_oversized_link_in_korean():
    at = open_with("views/explorer.py", lang="ko", net="z." + "A" * share.MAX_QUERY_CHARS)
    (message,) = warnings(at)
    assert "6,000" in message and any("\uac00" <= c <= "\ud7a3" for c in message)
    assert at.session_state[_state.EXPLORER_NETWORK] == REGISTRY["mnist_two_conv"].network


TRAINER_LINK = {
    "net": "mnist_two_conv",
    "dropout": "0.3,0.45,0.1",
    "optimizer": "sgd",
    "lr": "0.05",
    "schedule": "cosine",
    "batch": "64",
    "epochs": "2",
    "momentum": "0.8",
    "decay": "1e-05",
    "validation": "0",
    "shift": "1",
    "seed": "7",
    "precision": "mixed_bfloat16",
    "images": "500",
}


def test_mnist_page_opens_a_links_settings(small_home):
    at = open_with("views/mnist.py", **TRAINER_LINK)
    assert not warnings(at)
    assert at.selectbox(key="mnist_w_network_mnist").value == "mnist_two_conv"
    assert at.selectbox(key="mnist_w_optimizer").value == "sgd"
    assert at.number_input(key="mnist_w_learning_rate").value == 0.05
    assert at.selectbox(key="mnist_w_schedule").value == "cosine"
    assert at.select_slider(key="mnist_w_batch_size").value == 64
    assert at.number_input(key="mnist_w_epochs").value == 2
    assert at.slider(key="mnist_w_momentum").value == 0.8
    assert at.number_input(key="mnist_w_weight_decay").value == 1e-5
    assert at.checkbox(key="mnist_w_validation").value is False
    assert at.slider(key="mnist_w_shift").value == 1
    assert at.number_input(key="mnist_w_seed").value == 7
    assert at.selectbox(key="mnist_w_precision").value == "mixed_bfloat16"
    assert at.select_slider(key="mnist_w_train_size_mnist").value == 500
    positions = dropout_positions(REGISTRY["mnist_two_conv"].network)
    rates = [at.slider(key=f"mnist_w_dropout_mnist_two_conv_{i}").value for i in positions]
    assert rates == [0.3, 0.45, 0.1]
    # The page writes the same setup back: the link it offers is the one opened.
    assert url(at) == TRAINER_LINK
    assert shared_link(at).endswith("?" + share.query_string(TRAINER_LINK))


def test_cifar_page_opens_a_links_dataset_and_own_network(small_home):
    network = dataclasses.replace(REGISTRY["convnetjs_mnist"].network, name="shared digits")
    network = dataclasses.replace(
        network, layers=(*network.layers[:1], L.Conv2D(4, (3, 3))) + network.layers[2:]
    )
    at = open_with("views/cifar10.py", dataset="mnist", net=share.pack_network(network), epochs="4")
    assert not warnings(at)
    assert at.segmented_control(key="cifar_w_dataset").value == "mnist"
    picker = at.selectbox(key="cifar_w_network_mnist")
    assert picker.value == "shared" and "shared digits" in picker.format_func("shared")
    assert at.session_state[_state.CIFAR].shared == network
    assert at.number_input(key="cifar_w_epochs").value == 4


def test_trainer_refuses_a_tampered_link_with_its_defaults(small_home):
    at = open_with("views/mnist.py", **{**TRAINER_LINK, "batch": "100"})
    (message,) = warnings(at)
    assert "batch_size" in message and "100" in message
    assert at.select_slider(key="mnist_w_batch_size").value == 128
    assert at.selectbox(key="mnist_w_optimizer").value == "adam"
    assert at.number_input(key="mnist_w_epochs").value == 3
    assert url(at)["batch"] == "128"


def test_trainer_refuses_a_network_the_dataset_cannot_take(small_home):
    at = open_with("views/mnist.py", net="convnetjs_cifar10", epochs="5")
    (message,) = warnings(at)
    assert "not offered" in message
    assert at.selectbox(key="mnist_w_network_mnist").value == "mnist_one_conv"
    assert at.number_input(key="mnist_w_epochs").value == 3
