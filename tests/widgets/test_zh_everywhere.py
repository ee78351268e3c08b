"""No English left where a person reads: the whole workbench in zh_CN, driven through its states
(a failed attempt, preflight's warning, a registration to ACTIVE, the SWR picker, the Images tab
with an image open and its delete question, the Save tab), and every text of every widget under
it (labels, buttons, options, placeholders, tooltips, HTML) searched for two English words in a
row. Data (table cells, code, paths, names, the service's own words) and the terms kept in English
(enum values, codes, product names) are not texts to translate."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import ipywidgets as widgets
import pytest
from widget_support import make_client

from mai_widgets import Workbench
from mai_widgets.emulator import DEFAULTS, EmulatorProcess
from mai_widgets.emulator.defaults import DEMO_SWR_IMAGES
from mai_widgets.wire.contract import ImageStatus

WAIT = 30.0
# Kept in English on purpose (README, "Languages"): product names and the units and terms the
# Chinese console writes in Latin letters too.
KEPT = {
    "ModelArts", "SWR", "JupyterLab", "Notebook", "Python", "AK", "SK", "ID", "HTTP", "HTTPS", "UTC",
    "URL", "IAM", "API", "Ascend", "GPU", "CPU", "DNS", "TLS", "JSON", "YAML", "ipywidgets", "SSH",
}
# Two Latin words in a row (a word: letters only, so ids, paths, versions and names are not words).
ENGLISH_RUN = re.compile(r"(?<![\w./:-])([A-Za-z]{2,})(?:\s+|,\s*)([A-Za-z]{2,})(?![\w./:-])")
# Data shown as it is: table cells, code, generated requests, links, the service's own words
# (quoted), and a quoted literal (the error a wrong architecture gives: 'exec format error').
DATA = re.compile(r"<(td|code|pre|a|q)\b[^>]*>.*?</\1>|'[^'<>]*'", re.S)
TAGS = re.compile(r"<[^>]+>")


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    with EmulatorProcess(tmp_path_factory.mktemp("zh-everywhere"), init_seconds=0.2, creating_seconds=0.3) as p:
        yield p


def _texts(widget: Any, seen: set[int]) -> Iterator[tuple[str, str]]:
    """(where, text) for every text a person reads in ``widget`` and the widgets under it."""
    if id(widget) in seen or not isinstance(widget, widgets.Widget):
        return
    seen.add(id(widget))
    name = f"{type(widget).__name__}{list(getattr(widget, '_dom_classes', ()))}"
    for trait in ("description", "tooltip", "placeholder"):
        value = getattr(widget, trait, None)
        if isinstance(value, str) and value:
            yield f"{name}.{trait}", value
    if isinstance(widget, (widgets.HTML, widgets.HTMLMath, widgets.Label)) and widget.value:
        yield f"{name}.value", widget.value
    if isinstance(widget, widgets.widgets.widget_selection._Selection):
        for label in widget._options_labels:
            yield f"{name}.option", label
    if isinstance(widget, widgets.Tab):
        for title in widget.titles:
            yield f"{name}.title", title
    for child in getattr(widget, "children", ()):
        yield from _texts(child, seen)


def english_left(root: Any) -> list[str]:
    found = []
    for where, text in _texts(root, set()):
        quoted = text.replace("<wbr>", "").replace("&#x27;", "'")
        readable = html.unescape(TAGS.sub(" ", DATA.sub(" ", quoted)))
        for match in ENGLISH_RUN.finditer(readable):
            words = match.groups()
            if not all(word in KEPT or word.isupper() for word in words):
                found.append(f"{where}: {match.group(0)!r} in {readable.strip()[:120]!r}")
    return found


def test_no_english_sentence_is_left_in_the_chinese_workbench(emu: EmulatorProcess) -> None:
    bench = Workbench(make_client(emu), language="zh_CN")
    try:
        panel = bench.register_panel
        findings = english_left(bench)  # a new form
        panel.register_button.click()  # an attempt with nothing typed: every field's message
        findings += english_left(bench)

        # preflight's warning and its question, then a registration to ACTIVE
        panel.swr_path.value = f"{DEFAULTS.registry}/mai-demo/mindspore-ascend:2.3.0-aarch64"
        assert panel.controller.wait_preflight(WAIT)
        panel.register_button.click()
        findings += english_left(bench)
        panel.preflight_view.cancel.click()
        panel.swr_path.value = DEMO_SWR_IMAGES[0]
        assert panel.controller.wait_preflight(WAIT)
        panel.preview_button.click()
        panel.register_button.click()
        assert panel.controller.wait_settled(WAIT)
        record = panel.controller.record
        assert record is not None and record.status == ImageStatus.ACTIVE
        panel.status_view.refresh()
        findings += english_left(bench)

        # the SWR picker, opened
        panel.swr_picker.browse.value = True
        findings += english_left(bench)

        # the Images tab with the image open and its delete question asked
        bench.show_image(record.id)
        browser = bench.browser
        assert browser.wait_idle(WAIT)
        detail = browser.select(record.id)
        assert detail is not None and detail.actions is not None
        detail.actions.ask_delete()
        findings += english_left(bench)

        # the Save notebook tab
        assert bench.show_save().wait_idle(WAIT)
        findings += english_left(bench)
    finally:
        bench.close()
    assert not findings, "\n".join(findings)
