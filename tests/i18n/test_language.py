"""Which language mai-widgets speaks, and how a text made below the widgets is translated."""

from __future__ import annotations

import copy
import pickle

import pytest
from traitlets import TraitError

from mai_widgets.auth.config import MaiConfig, load_config, translation_for
from mai_widgets.i18n import N_, Msg, choose_language, normalize_language, translation

NO_LOCALE: dict[str, str] = {}


@pytest.mark.parametrize(
    ("tag", "language"),
    [
        ("zh_CN", "zh_CN"),
        ("zh-CN", "zh_CN"),
        ("zh_CN.UTF-8", "zh_CN"),
        ("zh", "zh_CN"),
        ("zh-Hans", "zh_CN"),
        ("zh-Hans-CN", "zh_CN"),
        ("zh_SG", "zh_CN"),
        ("en", "en"),
        ("en_US.UTF-8", "en"),
        ("C.UTF-8", "en"),
        ("POSIX", "en"),
        ("zh_TW", None),
        ("zh-Hant", None),
        ("fr_FR", None),
        ("", None),
        ("../../etc", None),
    ],
)
def test_a_language_tag_names_a_catalogue_or_none(tag: str, language: str | None) -> None:
    assert normalize_language(tag) == language


def test_the_order_explicit_then_configured_then_host_then_locale() -> None:
    env = {"LANG": "zh_CN.UTF-8"}
    assert choose_language(environ=env) == "zh_CN"
    assert choose_language(host="en", environ=env) == "en"
    assert choose_language(configured="zh_CN", host="en", environ=env) == "zh_CN"
    assert choose_language("en", configured="zh_CN", host="zh_CN", environ=env) == "en"
    # MAI_WIDGETS_LANGUAGE stands for the configured language when no configuration is given
    assert choose_language(host="en", environ={**env, "MAI_WIDGETS_LANGUAGE": "zh-CN"}) == "zh_CN"
    # an unknown configured or host language falls through to the next source
    assert choose_language(configured="fr", host="zh_CN", environ=NO_LOCALE) == "zh_CN"
    assert choose_language(environ=NO_LOCALE) == "en"


def test_the_locale_variables_in_gettexts_order() -> None:
    assert choose_language(environ={"LANGUAGE": "fr:zh_CN", "LANG": "en_US.UTF-8"}) == "zh_CN"
    assert choose_language(environ={"LC_ALL": "zh_CN.UTF-8", "LANG": "en_US.UTF-8"}) == "zh_CN"
    assert choose_language(environ={"LC_MESSAGES": "C", "LANG": "zh_CN.UTF-8"}) == "en"
    # the first variable set decides, as gettext does: an unknown language there means English
    assert choose_language(environ={"LANGUAGE": "fr", "LANG": "zh_CN.UTF-8"}) == "en"


def test_an_explicit_language_without_a_catalogue_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"^language: 'fr' is not one of en, zh_CN$"):
        choose_language("fr")


def test_the_setting_reads_the_environment_and_refuses_unknown_languages() -> None:
    assert load_config(env={"MAI_WIDGETS_LANGUAGE": "zh-CN"}, config_dirs=[]).language == "zh_CN"
    assert load_config(env={}, config_dirs=[]).language == ""
    with pytest.raises(TraitError, match="language must be one of en, zh_CN"):
        MaiConfig(language="klingon")


def test_translation_for_prefers_the_configuration_to_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAI_WIDGETS_LANGUAGE", raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.delenv("LANGUAGE", raising=False)
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    assert translation_for(MaiConfig()).language == "en"
    assert translation_for(MaiConfig(), host="zh-CN").language == "zh_CN"
    assert translation_for(MaiConfig(language="en"), host="zh-CN").language == "en"
    assert translation_for(MaiConfig(language="en"), language="zh_CN", host="en").language == "zh_CN"
    monkeypatch.setenv("MAI_WIDGETS_LANGUAGE", "zh_CN")
    assert translation_for(host="en").language == "zh_CN"  # no config given: the environment's


def test_a_msg_is_english_as_a_str_and_translated_where_shown() -> None:
    zh = translation("zh_CN")
    text = Msg("Kernel start failed")
    assert text == "Kernel start failed" and isinstance(text, str)
    assert zh.text(text) == zh("Kernel start failed") != "Kernel start failed"
    # params are filled after translating; a Msg param is translated too
    nested = Msg("The form could not be loaded: %1: %2")
    assert zh.text(nested) == zh("The form could not be loaded: %1: %2")
    # a text nobody marked (a service's own message) passes through unchanged
    assert zh.text("ModelArts.6404 image not found") == "ModelArts.6404 image not found"
    assert translation("en").text(text) == "Kernel start failed"


def test_a_msg_keeps_its_params_through_copies_and_pickles() -> None:
    hint = Msg("check {setting} and DNS", setting="MAI_WIDGETS_ENDPOINT")
    assert hint == "check MAI_WIDGETS_ENDPOINT and DNS"
    for again in (copy.deepcopy(hint), pickle.loads(pickle.dumps(hint))):  # noqa: S301
        assert isinstance(again, Msg)
        assert (again.msgid, dict(again.params)) == (
            "check {setting} and DNS",
            {"setting": "MAI_WIDGETS_ENDPOINT"},
        )


def test_n_marks_without_translating() -> None:
    assert N_("Aborted") == "Aborted"
    assert translation("zh_CN").text(N_("Aborted")) != "Aborted"
