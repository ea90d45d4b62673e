"""Each student's own models: with logins, every user's library is a folder of its own that
nobody else can list, load, overwrite or delete; without logins the library is shared, as
before, and the models panel says so when several browsers are connected.

The rule is tested on `cnnlib.library` directly with two users, then through the models
panel with Streamlit's AppTest and mocked logged-in users (`AppTest.user`).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import layers
from streamlit.testing.v1 import AppTest

from cnnlib.library import ModelLibrary, ModelRecord, owner_folder

ALICE = "https://id.example|alice-subject"
BOB = "https://id.example|bob-subject"
DIGITS = [str(digit) for digit in range(10)]


def digit_record(name: str, accuracy: float, seed: int = 0) -> ModelRecord:
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [keras.Input((28, 28, 1)), layers.Flatten(), layers.Dense(10, activation="softmax")]
    )
    return ModelRecord(
        name=name,
        model=model,
        dataset="mnist",
        input_shape=(28, 28, 1),
        class_names=DIGITS,
        test_accuracy=accuracy,
    )


def names(library: ModelLibrary) -> list[str]:
    return [entry["name"] for entry in library.list()]


def test_each_user_reaches_only_their_own_models(tmp_path):
    alice = ModelLibrary.for_user(ALICE, tmp_path)
    bob = ModelLibrary.for_user(BOB, tmp_path)
    shared = ModelLibrary(tmp_path)
    alice.save(digit_record("digits", 0.5))
    assert names(alice) == ["digits"]
    assert names(bob) == [] and names(shared) == []
    with pytest.raises(ValueError, match="no model named 'digits'"):
        bob.load("digits")
    with pytest.raises(ValueError, match="no model named 'digits'"):
        bob.delete("digits")
    # Bob's model of the same name is his own: saving it needs no overwrite and leaves
    # Alice's alone, and so do overwriting and deleting it.
    bob.save(digit_record("digits", 0.9))
    bob.save(digit_record("digits", 0.7), overwrite=True)
    assert alice.load("digits").test_accuracy == 0.5
    assert bob.load("digits").test_accuracy == 0.7
    bob.delete("digits")
    assert names(bob) == [] and names(alice) == ["digits"]
    # A later session of Alice's (a new library object) finds her model.
    assert names(ModelLibrary.for_user(ALICE, tmp_path)) == ["digits"]


def test_a_users_folder_is_a_hash_inside_the_model_folder(tmp_path):
    users = tmp_path / "models" / "users"
    alice = ModelLibrary.for_user(ALICE, tmp_path)
    assert alice.folder.parent == users
    assert alice.folder.name == owner_folder(ALICE) == owner_folder(ALICE)
    assert len(alice.folder.name) == 32 and int(alice.folder.name, 16) >= 0
    assert "alice" not in str(alice.folder)
    assert owner_folder(ALICE) != owner_folder(BOB)
    # An identity that looks like a path still names a folder of its own.
    sneaky = ModelLibrary.for_user("../../models", tmp_path)
    assert sneaky.folder.parent == users
    for bad in ("", "   ", None, 42):
        with pytest.raises(ValueError, match="owner"):
            ModelLibrary.for_user(bad, tmp_path)
    # Names cannot leave the folder either.
    for name in (f"../{owner_folder(BOB)}/digits", "../../digits", ".hidden"):
        with pytest.raises(ValueError, match="model name"):
            alice.save(digit_record(name, 0.5))
    assert not users.exists() or all(p.is_dir() for p in users.iterdir())


# The models panel, through AppTest.


def panel_app():
    from views import _state
    from views._models import model_panel

    _state.init()
    model_panel("mnist", "mnist", (28, 28, 1), 10)


@pytest.fixture
def home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("CNNLAB_HOME", str(home))
    monkeypatch.setenv("CNNLAB_OFFLINE", "1")
    return home


def open_panel(user: dict | None = None) -> AppTest:
    at = AppTest.from_function(panel_app, default_timeout=60)
    if user is not None:
        at.user = user
    at.run()
    assert not at.exception, at.exception
    return at


def logged_in(subject: str, email: str) -> dict:
    return {"is_logged_in": True, "iss": "https://id.example", "sub": subject, "email": email}


def save_from_panel(at: AppTest, record: ModelRecord) -> None:
    from views import _state

    at.session_state[_state.MODELS] = {record.name: record}
    at.run()
    at.text_input(key="mnist_w_save_name").set_value(record.name)
    at.button(key="mnist_save").click()
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]


def library_choices(at: AppTest) -> list[str]:
    """The names the panel offers from the library (its labels add the accuracy)."""
    found = [box for box in at.selectbox if box.key == "mnist_w_library_model"]
    return [option.split(" · ")[0] for option in found[0].options] if found else []


def test_two_logged_in_students_see_only_their_own_library(home):
    alice = logged_in("alice-subject", "alice@example.com")
    bob = logged_in("bob-subject", "bob@example.com")
    save_from_panel(open_panel(alice), digit_record("alice digits", 0.5))
    assert [p.name for p in (home / "models").glob("*.keras")] == []
    assert names(ModelLibrary.for_user(ALICE, home)) == ["alice digits"]

    at = open_panel(bob)
    assert library_choices(at) == []
    assert any("no MNIST model yet" in info.value for info in at.info)
    save_from_panel(at, digit_record("bob digits", 0.9, seed=1))
    assert library_choices(at) == ["bob digits"]

    # Alice, in a new session, finds hers alone and loads it with its weights.
    again = open_panel(alice)
    assert library_choices(again) == ["alice digits"]
    again.button(key="mnist_load").click()
    again.run()
    from views import _state

    loaded = again.session_state[_state.MODELS]["alice digits"]
    assert loaded.test_accuracy == 0.5
    expected = digit_record("alice digits", 0.5).model.get_weights()
    for got, want in zip(loaded.model.get_weights(), expected, strict=True):
        np.testing.assert_array_equal(got, want)


def test_a_visitor_who_is_not_logged_in_is_offered_the_login_and_shares_nothing(home):
    at = open_panel({"is_logged_in": False})
    assert any("Log in to keep models of your own" in info.value for info in at.info)
    assert at.button(key="user_login").label == "Log in"
    save_from_panel(at, digit_record("guest digits", 0.4))
    # Kept for this browser session only: neither the shared library nor a student sees it.
    assert library_choices(at) == ["guest digits"]
    assert names(ModelLibrary(home)) == []
    assert library_choices(open_panel(logged_in("alice-subject", "alice@example.com"))) == []


def test_without_logins_the_panel_says_the_library_is_shared(home, monkeypatch):
    from views import _user

    monkeypatch.setattr(_user, "connected_sessions", lambda: 3)
    at = open_panel()
    warnings = [w.value for w in at.warning]
    assert any("no logins" in w and "3 browsers" in w for w in warnings), warnings
    save_from_panel(at, digit_record("shared digits", 0.6))
    assert names(ModelLibrary(home)) == ["shared digits"]

    monkeypatch.setattr(_user, "connected_sessions", lambda: 1)
    alone = open_panel()
    assert not [w for w in alone.warning if "no logins" in w.value]
    assert library_choices(alone) == ["shared digits"]
