"""``Workbench``: the side panel's two tabs, "Register" (RegisterPanel) and "Images" (ImageBrowser).

The Images tab loads its first page when it is first opened, not before; after that, every
image the Register tab registers refreshes it (a new image) or updates its row (a known one).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from .browser import ImageBrowser
from .contract import ImageRecord
from .errors import MaiWidgetsError
from .panel import RegisterPanel

if TYPE_CHECKING:
    from .client import ImageClient
    from .config import MaiConfig

__all__ = ["IMAGES_TAB", "REGISTER_TAB", "TAB_TITLES", "Workbench"]

REGISTER_TAB = 0
IMAGES_TAB = 1
TAB_TITLES = ("Register", "Images")


class Workbench(widgets.Tab):  # type: ignore[misc]  # ipywidgets is untyped
    """Register an image, and browse, follow and clean up the images registered."""

    # The kernel's one side-panel workbench (see ``shared``).
    _shared: Workbench | None = None

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
        # One client for both tabs when none was given: the one the register form made.
        browser_client = client
        if browser_client is None:
            try:
                browser_client = self.register_panel.controller.client()
            except MaiWidgetsError:  # settings missing: the browser says which, as the form does
                browser_client = None
        self.browser = ImageBrowser(browser_client, type=type, config=config, autoload=False)
        self._last_registered: str | None = None
        super().__init__(
            children=[self.register_panel, self.browser],
            titles=TAB_TITLES,
            selected_index=REGISTER_TAB,
            _dom_classes=("mai-workbench",),
        )
        self.observe(self._tab_changed, names="selected_index")
        self.register_panel.controller.observe(self._registered, names="record")
        self._workbench_closed = False

    def show_images(self) -> None:
        """Open the Images tab (its first page loads now, if it has not yet)."""
        self.selected_index = IMAGES_TAB

    def _tab_changed(self, change: Mapping[str, Any]) -> None:
        if change["new"] == IMAGES_TAB and not self.browser.loaded:
            self.browser.refresh()

    def _registered(self, change: Mapping[str, Any]) -> None:
        record = change["new"]
        if isinstance(record, ImageRecord):
            self.browser.registered(record)

    def close(self) -> None:
        """Close both tabs: every worker and poll loop stops (HTTP in flight is cut)."""
        if getattr(self, "_workbench_closed", True):
            return
        self._workbench_closed = True
        self.register_panel.controller.unobserve(self._registered, names="record")
        self.browser.close()
        self.register_panel.close()
        super().close()
