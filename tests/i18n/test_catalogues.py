"""The catalogue is complete and fresh: every marked text has a zh_CN translation, no entry
outlives its text, and the compiled files are what gettext and JupyterLab read."""

from __future__ import annotations

import gettext
import json
import shutil
from pathlib import Path

import pytest
from babel.messages.pofile import read_po, write_po
from jupyterlab_server.translation_utils import get_installed_packages_locale

from mai_widgets.i18n import DOMAIN, LOCALE_DIR
from mai_widgets.i18n.catalogues import SOURCE_ROOT, check, compile_catalogues, extract, po_path


def test_every_marked_text_has_a_current_zh_cn_translation() -> None:
    assert check("zh_CN") == []


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of the sources and the catalogue, to change one of them."""
    root = tmp_path / "checkout"
    shutil.copytree(
        SOURCE_ROOT / "mai_widgets",
        root / "mai_widgets",
        ignore=shutil.ignore_patterns("labextension", "__pycache__"),
    )
    shutil.copytree(SOURCE_ROOT / "labextension" / "src", root / "labextension" / "src")
    return root


def _po(root: Path) -> Path:
    return root / po_path("zh_CN").relative_to(SOURCE_ROOT)


def test_a_new_text_without_translation_is_reported_with_its_file(checkout: Path) -> None:
    view = checkout / "mai_widgets" / "widgets" / "panel.py"
    view.write_text(view.read_text() + '\n\ndef _shown(_tr):\n    return _tr("A text nobody translated")\n')
    assert check("zh_CN", root=checkout, po=_po(checkout)) == [
        "missing: 'A text nobody translated' (mai_widgets/widgets/panel.py)"
    ]


def test_a_stale_an_untranslated_and_a_broken_entry_are_reported(checkout: Path) -> None:
    path = _po(checkout)
    with path.open("rb") as file:
        catalog = read_po(file, locale="zh_CN")
    ids = [m.id for m in catalog if m.id and isinstance(m.id, str)]
    with_placeholder = next(i for i in ids if "%1" in i or "{" in i)
    plain = next(i for i in ids if "%" not in i and "{" not in i)
    catalog.add("A text the code no longer has", "旧的")
    catalog[plain].string = ""
    catalog[with_placeholder].string = "没有占位符"
    with path.open("wb") as file:
        write_po(file, catalog)
    problems = check("zh_CN", root=checkout, po=path)
    assert "stale: 'A text the code no longer has' is no longer in the code" in problems
    assert f"untranslated: {plain!r}" in problems
    assert f"placeholders differ: {with_placeholder!r} -> '没有占位符'" in problems
    assert len(problems) == 3


def test_the_compiled_catalogues_are_what_gettext_and_jupyterlab_read(tmp_path: Path) -> None:
    for language_dir in LOCALE_DIR.iterdir():
        if (language_dir / "LC_MESSAGES").is_dir():
            shutil.copytree(
                language_dir, tmp_path / language_dir.name, ignore=shutil.ignore_patterns("*.mo", "*.json")
            )
    compile_catalogues(tmp_path)
    template = extract()
    python_only = next(m.id for m in template if m.id and all(p.endswith(".py") for p, _ in m.locations))
    panel_text = next(m.id for m in template if m.id and any(p.endswith(".ts") for p, _ in m.locations))
    words = gettext.translation(DOMAIN, str(tmp_path), languages=["zh_CN"])
    assert words.gettext(python_only) != python_only
    served = json.loads((tmp_path / "zh_CN" / "LC_MESSAGES" / f"{DOMAIN}.json").read_text(encoding="utf-8"))
    assert served[""]["language"] == "zh-CN" and served[""]["domain"] == DOMAIN
    assert served[panel_text] == [words.gettext(panel_text)]
    assert python_only not in served  # the side panel is sent its own texts only


def test_jupyterlab_finds_the_side_panels_catalogue_through_the_entry_point() -> None:
    found, errors = get_installed_packages_locale("zh_CN")
    assert not errors.strip()
    assert found[DOMAIN][""]["domain"] == DOMAIN
