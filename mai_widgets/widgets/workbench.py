"""``Workbench``: the side panel's tabs, "Register" (RegisterPanel), "Images" (ImageBrowser) and
"Save notebook" (SaveNotebookView).

The form comes first: the Images tab's browser (its client, its widgets and its first page) and
the Save tab are made when their tab is first opened (or when code asks for ``browser`` or
``save_view``); until then each tab holds an empty box, so the side panel's cold open pays for
neither. After that, every image the Register tab registers (or the Save tab saves) refreshes the
Images tab (a new image) or updates its row (a known one).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
from traitlets import Dict, Unicode

from ..auth.config import translation_for
from ..errors import MaiWidgetsError
from ..i18n import N_, Translation, translation
from ..kernel.controller import RegistrationController
from ..wire.contract import ImageRecord, ImageStatus
from ..wire.format import image_label
from .panel import RegisterPanel

if TYPE_CHECKING:
    from ..auth.config import MaiConfig
    from ..kernel.save import SaveController
    from ..services.images import ImageClient
    from .browser import ImageBrowser
    from .save_tab import SaveNotebookView
    from .status import StatusView

__all__ = [
    "DETAIL_FOCUS",
    "IMAGES_TAB",
    "REGISTER_TAB",
    "SAVE_TAB",
    "STATUS_FOCUS",
    "TAB_TITLES",
    "Workbench",
    "settled_notice",
    "status_announcement",
    "tab_titles",
]

REGISTER_TAB = 0
IMAGES_TAB = 1
SAVE_TAB = 2
# English, marked: a workbench shows them in its language (``tab_titles``).
TAB_TITLES = (N_("Register"), N_("Images"), N_("Save notebook"))
# JupyterLab cuts notification messages at 140 characters (@jupyterlab/apputils' Notification).
_NOTICE_MAX = 140
# Where the host moves keyboard focus (``announcement["focus"]``): a status sentence, which the
# host makes focusable. The Register and Save tabs' status, and the Images tab's open image.
STATUS_FOCUS = ".mai-register-panel .mai-status-view .mai-status-state"
SAVE_STATUS_FOCUS = ".mai-save-notebook .mai-status-view .mai-status-state"
DETAIL_FOCUS = ".mai-image-detail .mai-status-view .mai-status-state"
# The traits whose changes can change what a status announcement says (never ``polls``).
_ANNOUNCED_TRAITS = ["state", "record", "error", "outcome"]


def tab_titles(_tr: Translation) -> tuple[str, ...]:
    """The tabs' titles in ``tr``'s language."""
    return tuple(_tr.text(title) for title in TAB_TITLES)


def settled_notice(record: ImageRecord, tr: Translation | None = None) -> dict[str, str]:
    """What the side panel's host says when a followed image settles: text, kind and image id.

    ``tr``: the language of the text (the workbench's; English when None). The status, the
    image's name and the service's status message stay as they are."""
    _tr = tr if tr is not None else translation()
    label = image_label(record)
    status = str(record.status)
    if record.status == ImageStatus.ACTIVE:
        text, kind = _tr("{image} is ACTIVE", image=label), "success"
    else:
        if record.status_message:
            text = _tr("{image} {status}: {reason}", image=label, status=status, reason=record.status_message)
        else:
            text = _tr("{image} {status}", image=label, status=status)
        kind = "error" if record.status != ImageStatus.DELETED else "info"
    if len(text) > _NOTICE_MAX:
        text = text[: _NOTICE_MAX - 1] + "…"
    return {"image_id": record.id, "status": status, "text": text, "kind": kind}


def status_announcement(controller: RegistrationController | SaveController, _tr: Translation) -> str:
    """What a screen reader hears when a controller's status changes: one short sentence, the
    same for every poll of the same status ("" while nothing is going on)."""
    record, state, error = controller.record, controller.state, controller.error
    if state == "submitting":
        return _tr("Sending the registration to ModelArts…")
    if record is not None:
        image, status = image_label(record), str(record.status)
        if state == "failed":
            return _tr(
                "Stopped following {image} after an error; it was last {status}.", image=image, status=status
            )
        if not record.is_terminal and controller.outcome in ("stopped", "timeout"):
            return _tr("Stopped following {image}; it was still {status}.", image=image, status=status)
        return _tr("{image} is {status}.", image=image, status=status)
    if state == "failed" and error is not None:
        return _tr("Failed: {code}.", code=error.code)
    return ""


class Workbench(widgets.Tab):  # type: ignore[misc]  # ipywidgets is untyped
    """Register an image, and browse, follow and clean up the images registered."""

    # The kernel's one side-panel workbench (see ``shared``).
    _shared: Workbench | None = None

    # For the TypeScript host (the side panel): the last image that settled, as a notification
    # ({"image_id", "status", "text", "kind", "seq"}); the host shows it even when collapsed.
    notice = Dict().tag(sync=True)
    # Set by the host when the notification's action is clicked: open the Images tab on it.
    open_image = Unicode("").tag(sync=True)
    # For the host's live region and keyboard focus: {"text", "seq", "focus"}. ``text`` is said
    # once per change of a status (a poll that changes nothing says nothing); ``focus`` is a
    # selector inside the panel (``STATUS_FOCUS``...) the host moves focus to, or "".
    announcement = Dict().tag(sync=True)

    @classmethod
    def shared(cls, *, host_language: str | None = None, language: str | None = None) -> Workbench:
        """The kernel's side-panel workbench: the one already made, unless it was closed or
        speaks another language than the one chosen now.

        A page reload reconnects the side panel to the same kernel and runs its code again;
        showing the same widget then brings back the registration in progress (or its last
        result) and the Images tab as they were, not a blank form. ``host_language`` is
        JupyterLab's language, which the side panel hands over: after the user switches it and
        reloads, a new workbench speaks the new one, the form's values carried over.
        ``language`` (explicit) and ``c.MaiConfig.language`` / ``MAI_WIDGETS_LANGUAGE`` win over it.
        """
        language = translation_for(language=language, host=host_language).language
        existing = Workbench._shared
        if existing is not None and not existing._workbench_closed and existing.language != language:
            fields = dict(existing.register_panel.controller.fields)
            existing.close()
            existing = Workbench._shared = cls(language=language, **fields)
        if existing is None or existing._workbench_closed:
            existing = Workbench._shared = cls(language=language)
        return existing

    def __init__(
        self,
        client: ImageClient | None = None,
        config: MaiConfig | None = None,
        *,
        type: str = "DEDICATED",  # the API's name
        language: str | None = None,
        **initial_fields: Any,
    ) -> None:
        self.register_panel = RegisterPanel(client, config, language=language, **initial_fields)
        # one language for every tab: the one the form resolved
        self.language = self.register_panel.language
        self._tr = translation(self.language)
        self._client = client
        self._config = config
        self._type = type
        self._browser: ImageBrowser | None = None
        # Stand in for the Images and Save tabs until each is first opened.
        # The tabs' children never change (a changed list re-renders every tab after the first
        # difference, the one being looked at included): each lazy tab fills its own box.
        looks = self.register_panel.looks  # the form's shared Layout: one model, not three
        self.images_box = widgets.VBox([], layout=looks.layout(), _dom_classes=("mai-images-box",))
        self._save_view: SaveNotebookView | None = None
        self.save_box = widgets.VBox([], layout=looks.layout(), _dom_classes=("mai-save-notebook-box",))
        self._last_registered: str | None = None
        self.register_panel.preflight_view.open_image = self.show_image
        super().__init__(
            children=[self.register_panel, self.images_box, self.save_box],
            titles=tab_titles(self._tr),
            selected_index=REGISTER_TAB,
            layout=looks.layout(),
            _dom_classes=("mai-workbench",),
        )
        self._notified: set[tuple[str, str]] = set()
        # The host's live region: what each status last said, and its state (see _announce).
        self._announced: dict[str, str] = {}
        self._states: dict[str, str] = {}
        self._detail_controller: RegistrationController | None = None
        self.observe(self._tab_changed, names="selected_index")
        self.observe(self._open_requested, names="open_image")
        self.register_panel.controller.observe(self._registered, names="record")
        self.register_panel.controller.observe(self._register_status, names=_ANNOUNCED_TRAITS)
        self._workbench_closed = False

    def _shared_client(self) -> ImageClient | None:
        """The client both lazy tabs use when none was given: the one the register form made."""
        if self._client is not None:
            return self._client
        try:
            return self.register_panel.controller.client()
        except MaiWidgetsError:  # settings missing: each tab says which, as the form does
            return None

    @property
    def browser(self) -> ImageBrowser:
        """The Images tab's browser, made on first use (it lists nothing until the tab opens)."""
        if self._browser is None:
            from .browser import ImageBrowser  # imported with the tab: the form comes first

            browser = ImageBrowser(
                self._shared_client(),
                type=self._type,
                config=self._config,
                autoload=False,
                language=self.language,
            )
            browser.on_settled.append(self._settled)
            browser.on_register.append(self.show_register)  # the empty list's "Register an image"
            browser.on_detail.append(self._detail_shown)
            self._browser = browser
            self.images_box.children = (browser,)
        return self._browser

    def show_register(self) -> None:
        """Open the Register tab."""
        self.selected_index = REGISTER_TAB

    def show_images(self) -> None:
        """Open the Images tab (its first page loads now, if it has not yet)."""
        self.selected_index = IMAGES_TAB

    def show_save(self) -> SaveNotebookView:
        """Open the Save notebook tab (built, and its instances listed, now if not yet)."""
        self.selected_index = SAVE_TAB
        return self.save_view

    @property
    def save_view(self) -> SaveNotebookView:
        """The Save notebook tab's view, built on first use."""
        if self._save_view is None:
            from .save_tab import SaveNotebookView

            client = self._shared_client()
            # settings missing now: the form's client, once it has one
            view = SaveNotebookView(
                client if client is not None else self.register_panel.controller.client,
                self._config,
                language=self.language,
            )
            view.controller.observe(self._saved, names="record")
            view.controller.observe(self._save_status, names=_ANNOUNCED_TRAITS)
            self._save_view = view
            self.save_box.children = (view,)
        return self._save_view

    def show_image(self, image_id: str) -> None:
        """Show one image in the Images tab (preflight's "already registered" and the host's
        notification action both ask for it)."""
        self.show_images()
        self.browser.select(image_id)

    def _tab_changed(self, change: Mapping[str, Any]) -> None:
        if change["new"] == IMAGES_TAB and not self.browser.loaded:
            self.browser.refresh()
        elif change["new"] == SAVE_TAB:
            _ = self.save_view

    def _saved(self, change: Mapping[str, Any]) -> None:
        """A save's image changed: tell the host once it settles, and select it in the Images tab
        (without leaving the Save tab, where its record is shown)."""
        record, old = change["new"], change["old"]
        if not isinstance(record, ImageRecord):
            return
        if record.settles(old):
            self._settled(record)
        if self._browser is not None:  # else it lists the image when it is first opened
            self._browser.registered(record)
        if record.status == ImageStatus.ACTIVE:
            self.browser.select(record.id)

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
        self.notice = {**settled_notice(record, self._tr), "seq": str(len(self._notified))}

    # -- the host's live region and focus --------------------------------------------------

    def _announce(
        self, source: str, controller: RegistrationController | SaveController, focus: str = ""
    ) -> None:
        """Say the status of ``source`` ("register", "save", "detail") when what it says changed;
        ``focus``: where the host moves keyboard focus with it ("": nowhere)."""
        text = status_announcement(controller, self._tr)
        said = "" if text == self._announced.get(source, "") else text
        self._announced[source] = text
        if said or focus:
            seq = str(int(self.announcement.get("seq", "0")) + 1)
            self.announcement = {"text": said, "seq": seq, "focus": focus}

    def _status_changed(
        self,
        source: str,
        controller: RegistrationController | SaveController,
        where: str,
        states: tuple[str, ...] = ("submitting", "settled", "failed"),
    ) -> None:
        # Focus follows a registration or a save: to its status when it is sent and when it ends.
        state = controller.state
        moved = state != self._states.get(source) and state in states
        self._states[source] = state
        self._announce(source, controller, where if moved else "")

    def _register_status(self, _: Mapping[str, Any]) -> None:
        self._status_changed("register", self.register_panel.controller, STATUS_FOCUS)

    def _save_status(self, _: Mapping[str, Any]) -> None:
        if self._save_view is not None:
            self._status_changed("save", self._save_view.controller, SAVE_STATUS_FOCUS, ("settled", "failed"))

    def _detail_shown(self, view: StatusView) -> None:
        """An image was opened in the Images tab: focus goes to its status, said once it is read."""
        if self._detail_controller is not None:
            self._detail_controller.unobserve(self._detail_status, names=_ANNOUNCED_TRAITS)
        self._detail_controller = view.controller
        self._announced.pop("detail", None)
        self._states.pop("detail", None)
        view.controller.observe(self._detail_status, names=_ANNOUNCED_TRAITS)
        self._announce("detail", view.controller, DETAIL_FOCUS)

    def _detail_status(self, _: Mapping[str, Any]) -> None:
        controller = self._detail_controller
        if controller is None:
            return
        record = controller.record
        # Deleted: the question that had focus is gone; focus goes back to the image's status.
        deleted = record is not None and record.status == ImageStatus.DELETED
        focus = DETAIL_FOCUS if deleted and self._states.get("detail") != "deleted" else ""
        self._states["detail"] = "deleted" if deleted else controller.state
        self._announce("detail", controller, focus)

    def _open_requested(self, change: Mapping[str, Any]) -> None:
        image_id = change["new"]
        if image_id:
            self.show_image(image_id)
            self.open_image = ""  # the same image can be asked for again

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        # Shown (in the side panel or a notebook): what the form held back (the metadata
        # service, the checks of a starting path) starts once this cell has sent the form.
        self.register_panel.controller.start_background_soon()
        return super()._repr_mimebundle_(**kwargs)

    def close(self) -> None:
        """Close every tab: every worker and poll loop stops (HTTP in flight is cut)."""
        if getattr(self, "_workbench_closed", True):
            return
        self._workbench_closed = True
        self.register_panel.controller.unobserve(self._registered, names="record")
        self.register_panel.controller.unobserve(self._register_status, names=_ANNOUNCED_TRAITS)
        if self._detail_controller is not None:
            self._detail_controller.unobserve(self._detail_status, names=_ANNOUNCED_TRAITS)
        if self._save_view is not None:
            self._save_view.controller.unobserve(self._saved, names="record")
            self._save_view.controller.unobserve(self._save_status, names=_ANNOUNCED_TRAITS)
            self._save_view.close()
        self.save_box.close()
        if self._browser is not None:
            self._browser.close()
        self.images_box.close()
        self.register_panel.close()
        super().close()
