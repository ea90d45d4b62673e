"""Translations: the language a script run speaks and the gettext catalogs that speak it.

English is the source language: every user-visible string is written in English inside
`_()` (or `ngettext()` for counted things), with named placeholders filled in after
translation (`_("{layer} is too big").format(layer=name)`). Babel extracts the strings into
`locale/cnnlab.pot`; translators work on `locale/<lang>/LC_MESSAGES/cnnlab.po`, compiled to the
`cnnlab.mo` read here with the standard `gettext` module. `N_()` marks a string for extraction
where it is defined (a table of page descriptions, a dataset's class names) and leaves it
English; whoever shows it translates it with `_()`. Text kept in an object that every session
shares (a cached dataset's source) or that is stored (an imported set's metadata) stays English
too, as `cnnlib.datasets.Phrase`s (a marked template and its values), and is translated where
it is shown (`shown_source()`), as the registry's `shown_*` methods do for its entries. So a
cache that sessions share (`st.cache_resource`, `functools.lru_cache`) holds no translated text,
or has the language, `current()`, in its key.

The language is held in a context variable, so each thread (each Streamlit script run) has its
own and two sessions in two languages never mix. A thread where nothing set it (a Streamlit
fragment rerun on a fresh thread) asks the fallback source that the UI installed, and failing
that speaks English. Numbers need nothing per language: Korean, like English, groups digits in
thousands with commas and writes a decimal point. This module knows nothing of Streamlit.
"""

from __future__ import annotations

import gettext
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path

DOMAIN = "cnnlab"  # the catalogs' file name: locale/<lang>/LC_MESSAGES/cnnlab.mo
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
LANGUAGES = {"ko": "한국어", "en": "English"}  # code → the language's name in itself
DEFAULT = "en"  # the source strings' language, spoken when nothing asks for another

_language: ContextVar[str | None] = ContextVar("cnnlab_language", default=None)
_fallback: Callable[[], str | None] | None = None


def normalize(tag: object) -> str | None:
    """The supported language a browser or URL tag names ("ko-KR", "ko_KR", "KO" → "ko"), or
    None for an empty, unknown or malformed tag."""
    if not isinstance(tag, str):
        return None
    code = tag.strip().replace("_", "-").split("-")[0].lower()
    return code if code in LANGUAGES else None


def choose(url: object = None, chosen: object = None, browser: object = None) -> str:
    """The language of a script run: the URL's `?lang=` wins, then the session's own choice,
    then the browser's language, then English."""
    for tag in (url, chosen, browser):
        code = normalize(tag)
        if code is not None:
            return code
    return DEFAULT


def set_language(code: str) -> None:
    """Speak `code` in this thread (this script run) from now on."""
    if code not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}; got {code!r}.")
    _language.set(code)


@contextmanager
def language(code: str) -> Iterator[None]:
    """Speak `code` inside the `with` block only (tests, a figure drawn in another language)."""
    if code not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}; got {code!r}.")
    token = _language.set(code)
    try:
        yield
    finally:
        _language.reset(token)


def set_fallback(source: Callable[[], str | None] | None) -> None:
    """Where a thread with no language set finds one: the UI's reader of the session's
    choice. It returns a language code, or None where it has no session to ask."""
    global _fallback
    _fallback = source


def current() -> str:
    """The language this thread speaks."""
    code = _language.get()
    if code is None and _fallback is not None:
        code = _fallback()
    return code if code in LANGUAGES else DEFAULT


@cache
def translations(code: str) -> gettext.NullTranslations:
    """The compiled catalog of `code`, read once per process; English needs none."""
    if code == DEFAULT:
        return gettext.NullTranslations()
    try:
        return gettext.translation(DOMAIN, LOCALE_DIR, languages=[code])
    except FileNotFoundError as error:
        raise FileNotFoundError(
            f"The {LANGUAGES.get(code, code)} catalog {DOMAIN}.mo is missing under "
            f"{LOCALE_DIR}/{code}/LC_MESSAGES: compile it with "
            f"`pybabel compile -d locale -D {DOMAIN}` (see the README's Languages section)."
        ) from error


def _(message: str) -> str:
    """`message` in the current language."""
    return translations(current()).gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """The form of a counted message that `count` takes in the current language (Korean has
    one form; English two). Fill its `{count}` placeholder after the call."""
    return translations(current()).ngettext(singular, plural, count)


def N_(message: str) -> str:
    """Mark `message` for extraction and leave it untranslated; translate it where shown."""
    return message
