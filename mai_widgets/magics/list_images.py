"""``%list_images``: the image browser in a cell, and the listed records as the cell's value.

``%list_images [--name TEXT] [--type DEDICATED|BUILD_IN|ALL] [--status STATUS ...]`` shows an
:class:`~mai_widgets.widgets.browser.ImageBrowser` and returns the records it shows once its first
page has loaded (the first 200, status filter applied): "Load more" in the browser, or
``ImageClient().list(...)`` in a script, reaches the rest. A bad argument is one line
(:class:`IPython.core.error.UsageError`), never a traceback.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.display import display as _display

from ..errors import MaiWidgetsError
from ..i18n import Translation
from ..wire.contract import ImageRecord, ImageStatus
from .register import words

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

    from ..services.images import ImageClient
    from ..widgets.browser import ImageBrowser

__all__ = ["ListImagesMagics", "load_list_images"]

display: Callable[..., None] = _display  # IPython's display is untyped
# How long the magic waits for the first page before returning what it has (the browser goes on).
FIRST_PAGE_SECONDS = 60.0
_TYPES = ("DEDICATED", "BUILD_IN", "ALL")
_STATUSES = tuple(s.value for s in ImageStatus if s is not ImageStatus.DELETED)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"%list_images: {message}")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        # --help: argparse printed the usage already; end the magic without a SystemExit
        raise UsageError(message.strip() if message else "%list_images: see %list_images?")


def _upper(text: str) -> str:
    return text.strip().upper()


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="%list_images", add_help=True, allow_abbrev=False, description=__doc__)
    parser.add_argument("--name", default="", help="part of the image name (the API's fuzzy match)")
    parser.add_argument(
        "--type",
        type=_upper,
        choices=_TYPES,
        default="DEDICATED",
        help="DEDICATED (your images, the default), BUILD_IN (presets) or ALL",
    )
    parser.add_argument(
        "--status",
        type=_upper,
        choices=_STATUSES,
        nargs="+",
        default=[],
        help="keep only these statuses (applied to the loaded images)",
    )
    return parser


def parse_list_images(line: str, tr: Translation | None = None) -> argparse.Namespace:
    """The magic's arguments; :class:`UsageError` (one line) when they are wrong."""
    try:
        split = shlex.split(line, posix=True)
    except ValueError as error:
        _tr = tr or words()
        problem = _tr("cannot split the arguments ({error}): check the quotes", error=error)
        raise UsageError(f"%list_images: {problem}") from None
    return _parser().parse_args(split)


@magics_class
class ListImagesMagics(Magics):
    """``%list_images``."""

    def __init__(self, shell: InteractiveShell, client: ImageClient | None = None) -> None:
        super().__init__(shell)
        self.client = client  # tests pass one; users get one from the environment
        self.last_browser: ImageBrowser | None = None

    @line_magic
    def list_images(self, line: str = "") -> list[ImageRecord] | None:
        """Show your ModelArts images and return the records shown.

        %list_images [--name TEXT] [--type DEDICATED|BUILD_IN|ALL] [--status STATUS ...]
        """
        _tr = words(self.client.config if self.client is not None else None)
        args = parse_list_images(line, _tr)
        from ..widgets.browser import ImageBrowser

        try:
            browser = ImageBrowser(
                self.client, type=args.type, name=args.name, status=args.status or None, language=_tr.language
            )
        except MaiWidgetsError as error:
            raise UsageError(f"%list_images: {error.one_line(_tr)}") from None
        self.last_browser = browser
        display(browser)
        browser.wait_idle(FIRST_PAGE_SECONDS)
        if browser.error is not None:
            return None  # the browser shows the error, code and hint
        return browser.visible_records


def load_list_images(ipython: InteractiveShell) -> None:
    """Register ``%list_images`` (loading twice is harmless)."""
    if "ListImagesMagics" in ipython.magics_manager.registry:
        return
    ipython.register_magics(ListImagesMagics(ipython))
