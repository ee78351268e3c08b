"""The catalogues' tooling, with Babel: extract the marked texts, update each language's ``.po``,
check it, and compile it to ``.mo`` (Python's gettext) and ``.json`` (JupyterLab's format, the
side panel's TypeScript; JupyterLab finds it through the ``jupyterlab.locale`` entry point).

    python -m mai_widgets.i18n.catalogues update    # new texts in, gone texts out of every .po
    python -m mai_widgets.i18n.catalogues check     # non-zero when an entry is missing or stale
    python -m mai_widgets.i18n.catalogues compile   # what the package build runs

A developer tool and the build's step: nothing at run time imports it.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from . import DOMAIN, LANGUAGES, LOCALE_DIR

__all__ = [
    "JS_KEYWORDS",
    "PY_KEYWORDS",
    "SOURCE_ROOT",
    "check",
    "compile_catalogues",
    "extract",
    "main",
    "po_path",
    "update",
]

PACKAGE_DIR = LOCALE_DIR.parent
SOURCE_ROOT = PACKAGE_DIR.parent
# labextension/src in a checkout (absent from an installed wheel: its JSON is already compiled)
TS_DIR = SOURCE_ROOT / "labextension" / "src"
PY_KEYWORDS: dict[str, object] = {"_tr": None, "plural": (1, 2), "Msg": None, "N_": None}
JS_KEYWORDS: dict[str, object] = {"__": None, "_n": (1, 2), "_p": ((1, "c"), 2)}
# What the emulator, the tooling and the tests say is for developers: English only.
_SKIPPED = ("emulator", "i18n", "labextension", "locale")
# Python's {name} (filled after translating) and JupyterLab's %1
_PLACEHOLDER_RE = re.compile(r"\{(\w*)[^{}]*\}|(%\d)")
_PLURAL_FORMS = {"zh_CN": "nplurals=1; plural=0;"}


def _sources(root: Path) -> Iterator[tuple[str, Path]]:
    package = root / PACKAGE_DIR.name
    for path in sorted(package.rglob("*.py")):
        if not set(path.relative_to(package).parts[:-1]) & set(_SKIPPED):
            yield "python", path
    ts_dir = root / TS_DIR.relative_to(SOURCE_ROOT)
    if ts_dir.is_dir():
        for path in sorted(ts_dir.glob("*.ts")):
            yield "javascript", path


def extract(root: Path = SOURCE_ROOT) -> Catalog:
    """Every marked text of the Python package and the side panel's TypeScript under ``root``
    (a checkout)."""
    template = Catalog(domain=DOMAIN, project="mai-widgets", fuzzy=False)
    for method, path in _sources(root):
        keywords = PY_KEYWORDS if method == "python" else JS_KEYWORDS
        where = path.relative_to(root).as_posix()
        for lineno, message, comments, context in extract_from_file(
            method, str(path), keywords=keywords, comment_tags=("TRANSLATORS:",)  # type: ignore[arg-type]
        ):
            template.add(message, None, [(where, lineno)], auto_comments=comments, context=context)
    return template


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def _read(language: str, path: Path | None = None) -> Catalog:
    with (path or po_path(language)).open("rb") as file:
        return read_po(file, locale=language, domain=DOMAIN)


def _write(catalog: Catalog, path: Path) -> None:
    out = io.BytesIO()
    write_po(out, catalog, width=100, ignore_obsolete=True, include_lineno=False, sort_output=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(out.getvalue())


def _translated_languages() -> list[str]:
    return [language for language in LANGUAGES if language != "en"]


def update() -> None:
    """Add the new texts to every language's ``.po`` (untranslated) and drop the ones gone."""
    template = extract()
    for language in _translated_languages():
        path = po_path(language)
        if path.exists():
            catalog = _read(language)
        else:
            catalog = Catalog(locale=language, domain=DOMAIN, project="mai-widgets")
        catalog.update(template, no_fuzzy_matching=True, update_header_comment=False)
        _write(catalog, path)


def _ids(catalog: Catalog) -> set[tuple[str, str | None]]:
    return {(_key(message), message.context) for message in catalog if message.id}


def _key(message: Message) -> str:
    return message.id if isinstance(message.id, str) else message.id[0]


def _placeholders(text: str) -> set[str]:
    return {name or number for name, number in _PLACEHOLDER_RE.findall(text) if name or number}


def check(language: str, *, root: Path = SOURCE_ROOT, po: Path | None = None) -> list[str]:
    """What is wrong with one language's ``.po``: a text with no translation (or a fuzzy one), an
    entry whose text is gone from the code, a translation whose ``{placeholders}`` differ."""
    template, catalog = extract(root), _read(language, po)
    problems = []
    wanted, have = _ids(template), _ids(catalog)
    for msgid, context in sorted(wanted - have, key=str):
        where = template.get(msgid, context)
        place = where.locations[0][0] if where is not None and where.locations else "?"
        problems.append(f"missing: {msgid!r} ({place})")
    for msgid, _context in sorted(have - wanted, key=str):
        problems.append(f"stale: {msgid!r} is no longer in the code")
    for message in catalog:
        if not message.id or (_key(message), message.context) not in wanted:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string or ())
        if not all(strings) or message.fuzzy:
            problems.append(f"untranslated: {ids[0]!r}")
            continue
        expected = set().union(*(_placeholders(text) for text in ids))
        for text in strings:
            if _placeholders(text) != expected:
                problems.append(f"placeholders differ: {ids[0]!r} -> {text!r}")
    return problems


def _json(catalog: Catalog, language: str) -> dict[str, object]:
    """JupyterLab's format, the side panel's texts only: ``{"": header, msgid: [msgstr, ...]}``."""
    data: dict[str, object] = {
        "": {
            "domain": DOMAIN,
            "language": language.replace("_", "-"),
            "plural_forms": _PLURAL_FORMS.get(language, "nplurals=2; plural=(n != 1);"),
            "version": "mai-widgets",
        }
    }
    for message in catalog:
        if not message.id or not any(path.endswith(".ts") for path, _ in message.locations):
            continue
        strings = [message.string] if isinstance(message.string, str) else list(message.string or ())
        if not all(strings) or message.fuzzy:
            continue
        key = _key(message)
        data[f"{message.context}\x04{key}" if message.context else key] = strings
    return data


def compile_catalogues(target: Path = LOCALE_DIR) -> list[Path]:
    """Write each language's ``.mo`` and ``.json`` beside its ``.po`` (under ``target``)."""
    written = []
    for language in _translated_languages():
        catalog = _read(language)
        out = target / language / "LC_MESSAGES"
        out.mkdir(parents=True, exist_ok=True)
        with (out / f"{DOMAIN}.mo").open("wb") as file:
            write_mo(file, catalog)
        (out / f"{DOMAIN}.json").write_text(
            json.dumps(_json(catalog, language), ensure_ascii=False, indent=0, sort_keys=True) + "\n",
            encoding="utf-8",
        )
        written += [out / f"{DOMAIN}.mo", out / f"{DOMAIN}.json"]
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mai_widgets.i18n.catalogues")
    parser.add_argument("action", choices=("update", "check", "compile"))
    action = parser.parse_args(argv).action
    if action == "update":
        update()
    elif action == "compile":
        for path in compile_catalogues():
            print(path.relative_to(SOURCE_ROOT))
    else:
        problems = [f"{language}: {line}" for language in _translated_languages() for line in check(language)]
        print("\n".join(problems) or "every text has a translation")
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
