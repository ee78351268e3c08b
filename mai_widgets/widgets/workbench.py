"""``Workbench``: the side panel's two tabs, "Register" (RegisterPanel) and "Images" (ImageBrowser).

The form comes first: the Images tab's browser (its client, its widgets and its first page) is
made when the tab is first opened, or when code asks for ``browser``; until then the tab holds
an empty box. After that, every image the Register tab registers refreshes it (a new image) or
updates its row (a known one).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
from traitlets import Dict, Unicode

from ..errors import MaiWidgetsError
from ..wire.contract import ImageRecord, ImageStatus
from .panel import RegisterPanel

if TYPE_CHECKING:
    from ..auth.config import MaiConfig
    from ..services.images import ImageClient
    from .browser import ImageBrowser

__all__ = ["IMAGES_TAB", "REGISTER_TAB", "TAB_TITLES", "Workbench", "settled_notice"]

REGISTER_TAB = 0
IMAGES_TAB = 1
TAB_TITLES = ("Register", "Images")
# JupyterLab cuts notification messages at 140 characters (JUPYTER-NOTES.md).
_NOTICE_MAX = 140


def settled_notice(record: ImageRecord) -> dict[str, str]:
    """What the side panel's host says when a followed image settles: text, kind and image id."""
    label = f"{record.name}:{record.tag}" if record.name and record.tag else (record.swr_path or record.id)
    status = str(record.status)
    if record.status == ImageStatus.ACTIVE:
        text, kind = f"{label} is ACTIVE", "success"
    else:
        reason = f": {record.status_message}" if record.status_message else ""
        text, kind = f"{label} {status}{reason}", "error" if record.status != ImageStatus.DELETED else "info"
    if len(text) > _NOTICE_MAX:
        text = text[: _NOTICE_MAX - 1] + "…"
    return {"image_id": record.id, "status": status, "text": text, "kind": kind}


class Workbench(widgets.Tab):  # type: ignore[misc]  # ipywidgets is untyped
    """Register an image, and browse, follow and clean up the images registered."""

    # The kernel's one side-panel workbench (see ``shared``).
    _shared: Workbench | None = None

    # For the TypeScript host (the side panel): the last image that settled, as a notification
    # ({"image_id", "status", "text", "kind", "seq"}); the host shows it even when collapsed.
    notice = Dict().tag(sync=True)
    # Set by the host when the notification's action is clicked: open the Images tab on it.
    open_image = Unicode("").tag(sync=True)

    @classmethod
    def shared(cls) -> Workbench:
        """The kernel's side-panel workbench: the one already made, unless it was closed.

        A page reload reconnects the side panel to the same kernel and runs its code again;
        showing the same widget then brings back the registration in progress (or its last
        result) and the Images tab as they were, not a blank form.
        """
        existing = Workbench._shared
        if existing is None or existing._workbench_closed:
            existing = Workbench._shared = cls()
        return existing

    def __init__(
        self,
        client: ImageClient | None = None,
        config: MaiConfig | None = None,
        *,
        type: str = "DEDICATED",  # the API's name
        **initial_fields: Any,
    ) -> None:
        self.register_panel = RegisterPanel(client, config, **initial_fields)
        self._client = client
        self._config = config
        self._type = type
        self._browser: ImageBrowser | None = None
        self._pending_tab = widgets.Box(_dom_classes=("mai-images-pending",))
        self._last_registered: str | None = None
        self.register_panel.preflight_view.open_image = self.show_image
        super().__init__(
            children=[self.register_panel, self._pending_tab],
            titles=TAB_TITLES,
            selected_index=REGISTER_TAB,
            _dom_classes=("mai-workbench",),
        )
        self._notified: set[tuple[str, str]] = set()
        self.observe(self._tab_changed, names="selected_index")
        self.observe(self._open_requested, names="open_image")
        self.register_panel.controller.observe(self._registered, names="record")
        self._workbench_closed = False

    @property
    def browser(self) -> ImageBrowser:
        """The Images tab's browser, made on first use (it lists nothing until the tab opens)."""
        if self._browser is None:
            from .browser import ImageBrowser  # imported with the tab: the form comes first

            # One client for both tabs when none was given: the one the register form made.
            client = self._client
            if client is None:
                try:
                    client = self.register_panel.controller.client()
                except MaiWidgetsError:  # settings missing: the browser says which, as the form does
                    client = None
            browser = ImageBrowser(client, type=self._type, config=self._config, autoload=False)
            browser.on_settled.append(self._settled)
            self._browser = browser
            self.children = (self.register_panel, browser)
            self._close_pending_tab()
        return self._browser

    def _close_pending_tab(self) -> None:
        self._pending_tab.layout.close()
        self._pending_tab.close()

    def show_images(self) -> None:
        """Open the Images tab (its first page loads now, if it has not yet)."""
        self.selected_index = IMAGES_TAB

    def show_image(self, image_id: str) -> None:
        """Show one image in the Images tab (preflight's "already registered" and the host's
        notification action both ask for it)."""
        self.show_images()
        self.browser.select(image_id)

    def _tab_changed(self, change: Mapping[str, Any]) -> None:
        if change["new"] == IMAGES_TAB and not self.browser.loaded:
            self.browser.refresh()

    def _registered(self, change: Mapping[str, Any]) -> None:
        record, old = change["new"], change["old"]
        if isinstance(record, ImageRecord):
            if record.settles(old):
                self._settled(record)
            if self._browser is not None:  # else it lists the image when it is first opened
                self._browser.registered(record)

    def _settled(self, record: ImageRecord) -> None:
        """A followed image reached a terminal status: tell the host, once per image and status."""
        key = (record.id, str(record.status))
        if key in self._notified:
            return
        self._notified.add(key)
        self.notice = {**settled_notice(record), "seq": str(len(self._notified))}

    def _open_requested(self, change: Mapping[str, Any]) -> None:
        image_id = change["new"]
        if image_id:
            self.show_image(image_id)
            self.open_image = ""  # the same image can be asked for again

    def close(self) -> None:
        """Close both tabs: every worker and poll loop stops (HTTP in flight is cut)."""
        if getattr(self, "_workbench_closed", True):
            return
        self._workbench_closed = True
        self.register_panel.controller.unobserve(self._registered, names="record")
        if self._browser is not None:
            self._browser.close()
        self._close_pending_tab()
        self.register_panel.close()
        super().close()
