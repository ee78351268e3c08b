"""Which language mai-widgets speaks to a person, and its words in that language.

Plain gettext: the catalogue is ``mai_widgets/locale/<lang>/LC_MESSAGES/mai_widgets.po`` in the
source, compiled to ``.mo`` (Python) and ``.json`` (the side panel's TypeScript, JupyterLab's
format) when the package is built (:mod:`mai_widgets.i18n.catalogues`).

What is translated: every text a person reads in the widgets, the magics' output, the console
script and the errors' hints. What stays English, because it is searched for or pasted into a
support ticket: error codes, wire names, enum values, paths, request ids, and the messages of
exceptions raised to Python code.

Marking, for the extractor (``catalogues.KEYWORDS``):

- ``_tr("Register {name}", name=x)``: a :class:`Translation` called with a literal; the
  ``{name}`` placeholders are filled after translating, so a translation may reorder them;
- ``_tr.plural("{n} image", "{n} images", n)``: the plural;
- ``Msg("check {setting}", setting=s)``: text made below the widgets (a hint, a field's problem)
  that is English as a ``str`` and translated where it is shown (``Translation.text``);
- ``N_("...")``: marks a literal kept in a table, translated where it is shown.
"""

from __future__ import annotations

import gettext
import os
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_LANGUAGE",
    "DOMAIN",
    "LANGUAGES",
    "LANGUAGE_ENV",
    "LOCALE_DIR",
    "N_",
    "Msg",
    "Translation",
    "choose_language",
    "normalize_language",
    "translation",
]

DOMAIN = "mai_widgets"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DEFAULT_LANGUAGE = "en"
# The languages with a catalogue, besides English (the source language).
LANGUAGES: tuple[str, ...] = ("en", "zh_CN")
LANGUAGE_ENV = "MAI_WIDGETS_LANGUAGE"
# gettext's order for the process's own language.
_LOCALE_ENV = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")
_TAG_RE = re.compile(r"^([A-Za-z]{2,3})(?:[-_]([A-Za-z]{4}))?(?:[-_]([A-Za-z]{2}|\d{3}))?(?:[.@].*)?$")


def normalize_language(value: str) -> str | None:
    """The supported language a tag names (``zh-CN``, ``zh_CN.UTF-8``, ``zh-Hans``, ``en_US``,
    ``C``), or None when mai-widgets has no catalogue for it."""
    value = value.strip()
    if value in ("C", "POSIX") or value.startswith(("C.", "POSIX.")):
        return DEFAULT_LANGUAGE
    match = _TAG_RE.match(value)
    if match is None:
        return None
    language, script, region = (part.lower() if part else "" for part in match.groups())
    if language == "en":
        return "en"
    # Simplified Chinese: zh, zh_CN, zh_SG, zh-Hans-*; Traditional (zh_TW, zh-Hant) has no catalogue.
    if language == "zh" and script in ("", "hans") and region in ("", "cn", "sg"):
        return "zh_CN"
    return None


def choose_language(
    explicit: str | None = None,
    *,
    configured: str | None = None,
    host: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """The language to speak, first found of: ``explicit`` (``language=``), ``configured``
    (``c.MaiConfig.language``; ``MAI_WIDGETS_LANGUAGE`` when None), ``host`` (JupyterLab's
    language, which the side panel hands over), then ``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES``,
    ``LANG``. English when none names a language with a catalogue.

    Raises ``ValueError`` naming ``language`` when ``explicit`` names one without a catalogue.
    """
    env = os.environ if environ is None else environ
    if explicit:
        chosen = normalize_language(explicit)
        if chosen is None:
            raise ValueError(f"language: {explicit!r} is not one of {', '.join(LANGUAGES)}")
        return chosen
    if configured is None:
        configured = env.get(LANGUAGE_ENV, "")
    for value in (configured, host or ""):
        if value and (chosen := normalize_language(value)) is not None:
            return chosen
    for name in _LOCALE_ENV:
        value = env.get(name, "")
        if not value:
            continue
        # gettext reads the first variable set; LANGUAGE may list several, best first
        for candidate in value.split(":"):
            if candidate and (chosen := normalize_language(candidate)) is not None:
                return chosen
        return DEFAULT_LANGUAGE
    return DEFAULT_LANGUAGE


class Msg(str):
    """A text made where no language is known: English as a ``str`` (exceptions raised to Python
    code keep it), and translated where it is shown, by ``Translation.text``."""

    msgid: str
    params: Mapping[str, Any]

    def __new__(cls, msgid: str, /, **params: Any) -> Msg:
        self = super().__new__(cls, msgid.format(**params) if params else msgid)
        self.msgid = msgid
        self.params = params
        return self

    def __reduce__(self) -> tuple[Any, ...]:  # copies and pickles keep the message
        return (_make_msg, (self.msgid, dict(self.params)))


def _make_msg(msgid: str, params: dict[str, Any]) -> Msg:
    return Msg(msgid, **params)


def N_(message: str) -> str:  # gettext's conventional name for "mark only"
    """Mark a literal for the catalogue without translating it here."""
    return message


class Translation:
    """One language's words: call it with a marked literal (``_tr("Register")``)."""

    def __init__(self, language: str, catalogue: gettext.NullTranslations) -> None:
        self.language = language
        self._catalogue = catalogue

    def __repr__(self) -> str:
        return f"Translation({self.language!r})"

    def __call__(self, message: str, /, **params: Any) -> str:
        text = self._catalogue.gettext(message)
        return text.format(**self._shown(params)) if params else text

    def plural(self, singular: str, plural: str, n: int, /, **params: Any) -> str:
        """``{n}`` is always available to the text."""
        return self._catalogue.ngettext(singular, plural, n).format(n=n, **self._shown(params))

    def text(self, value: str) -> str:
        """A :class:`Msg` (or a literal marked with ``N_``) in this language; any other text as
        it is (a service's own message, a name)."""
        if isinstance(value, Msg):
            return self(value.msgid, **value.params)
        return self._catalogue.gettext(value) if value else value

    def _shown(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {key: self.text(value) if isinstance(value, Msg) else value for key, value in params.items()}


@cache
def translation(language: str = DEFAULT_LANGUAGE) -> Translation:
    """The :class:`Translation` for a language :func:`choose_language` returned (cached)."""
    if language == DEFAULT_LANGUAGE:
        return Translation(language, gettext.NullTranslations())
    catalogue = gettext.translation(DOMAIN, str(LOCALE_DIR), languages=[language], fallback=True)
    return Translation(language, catalogue)
