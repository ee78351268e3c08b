"""``PreflightView``: the preflight checklist under the SWR path, and what it offers in one click.

It renders the :class:`~mai_widgets.kernel.controller.RegistrationController`'s ``checks`` (one sentence a
line, ✓ / ⚠ / ✗ with CSS classes ``mai-check-pass|warn|fail``), and acts through the controller
only: "Use AARCH64" sets the arch field, a suggestion sets the path, "Register anyway" accepts the
warnings and registers.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as widgets

from ..auth.config import translation_for
from ..i18n import N_, Translation, translation
from ..kernel.controller import RegistrationController
from ..services.preflight import Check
from .status import SharedLooks

__all__ = ["MARKS", "PreflightView", "checklist_html", "sentence"]

MARKS = {"pass": "✓", "warn": "⚠", "fail": "✗"}
_WAITING = N_("Checking the image in SWR…")


def checklist_html(checks: list[Check], tr: Translation | None = None) -> str:
    """The checks as lines of HTML, one sentence each, marked by outcome (in ``tr``'s language;
    English when None)."""
    _tr = tr if tr is not None else translation()
    return "".join(
        f"<div class='mai-check mai-check-{c.outcome}' data-check='{html.escape(c.name)}'>"
        f"<span class='mai-check-mark'>{MARKS[c.outcome]}</span> {html.escape(_tr.text(c.message))}</div>"
        for c in checks
    )


def sentence(text: str) -> str:
    """A sentence without its full stop (English or Chinese), to join it with others."""
    return text.rstrip(".。")


def _button(description: str, cls: str, style: str = "") -> widgets.Button:
    button = widgets.Button(description=description, button_style=style, _dom_classes=(cls,))
    button.layout.display = "none"
    button.layout.width = "auto"
    return button


class _Parts:
    """What the checklist offers: its one-click actions and the "Register anyway" question."""

    def __init__(self, _tr: Translation) -> None:
        self.use_arch = _button("", "mai-preflight-use-arch", "warning")
        self.use_suggestion = _button("", "mai-preflight-use-suggestion")
        self.open_registered = _button(_tr("Open in the Images tab"), "mai-preflight-open-image")
        self.question = widgets.HTML(_dom_classes=("mai-preflight-question",))
        self.confirm = widgets.Button(
            description=_tr("Register anyway"),
            button_style="warning",
            _dom_classes=("mai-preflight-confirm",),
        )
        self.cancel = widgets.Button(description=_tr("Cancel"), _dom_classes=("mai-preflight-cancel",))
        self.confirm_box = widgets.VBox(
            [self.question, widgets.HBox([self.confirm, self.cancel])],
            layout=widgets.Layout(display="none"),
            _dom_classes=("mai-preflight-confirm-box",),
        )
        self.actions = widgets.HBox(
            [self.use_arch, self.use_suggestion, self.open_registered],
            layout=widgets.Layout(flex_flow="row wrap", grid_gap="4px"),
        )


class PreflightView(widgets.VBox):  # type: ignore[misc]  # ipywidgets is untyped
    """The checklist, its one-click actions, and the "Register anyway" question."""

    def __init__(
        self,
        controller: RegistrationController,
        *,
        looks: SharedLooks | None = None,
    ) -> None:
        """``looks``: a form's shared Layout and Style models, and its language."""
        self.controller = controller
        if looks is None:
            looks = SharedLooks(translation_for(controller.config))
        self._tr = looks.tr
        self.open_image: Callable[[str], None] | None = None  # set by a Workbench: show it in Images
        self.on_cancel: Callable[[], None] | None = None  # set by a RegisterPanel: focus back to Register
        self.list = looks.html(classes=("mai-preflight-list",))
        # The buttons and the question are made when a check first has something to offer
        # (_parts): a new form has no checks, and every widget slows the panel's opening.
        self._built: _Parts | None = None
        super().__init__([self.list], layout=looks.layout(), _dom_classes=("mai-preflight",))
        self._matching_arch = ""
        self._suggestion = ""
        self._image_id = ""
        controller.observe(self._changed, names=["checks", "preflight_state"])
        self._view_closed = False
        self._render()

    def _parts(self) -> _Parts:
        if self._built is None:
            parts = self._built = _Parts(self._tr)
            parts.use_arch.on_click(lambda _: self._use_arch())
            parts.use_suggestion.on_click(lambda _: self._use_suggestion())
            parts.open_registered.on_click(lambda _: self._open_registered())
            parts.confirm.on_click(lambda _: self.register_anyway())
            parts.cancel.on_click(lambda _: self._cancelled())
            self.children = [self.list, parts.actions, parts.confirm_box]
        return self._built

    @property
    def use_arch(self) -> widgets.Button:
        return self._parts().use_arch

    @property
    def use_suggestion(self) -> widgets.Button:
        return self._parts().use_suggestion

    @property
    def open_registered(self) -> widgets.Button:
        return self._parts().open_registered

    @property
    def question(self) -> widgets.HTML:
        return self._parts().question

    @property
    def confirm(self) -> widgets.Button:
        return self._parts().confirm

    @property
    def cancel(self) -> widgets.Button:
        return self._parts().cancel

    @property
    def confirm_box(self) -> widgets.VBox:
        return self._parts().confirm_box

    # -- rendering -------------------------------------------------------------------------

    def _changed(self, _: Mapping[str, Any]) -> None:
        self._render()

    def _render(self) -> None:
        c = self.controller
        if c.preflight_state in ("waiting", "running"):
            waiting = html.escape(self._tr.text(_WAITING))
            self.list.value = f"<div class='mai-check mai-check-waiting'>{waiting}</div>"
        else:
            self.list.value = checklist_html(list(c.checks), self._tr)
        by_name = {check.name: check for check in c.checks}
        arch = by_name.get("architecture")
        self._matching_arch = str(arch.data.get("matching_arch", "")) if arch is not None else ""
        exists = by_name.get("exists")
        suggestions = list(exists.data.get("suggestions", ())) if exists is not None else []
        self._suggestion = str(suggestions[0]) if suggestions else ""
        registered = by_name.get("registered")
        self._image_id = str(registered.data.get("image_id", "")) if registered is not None else ""
        if self._built is None and not (self._matching_arch or self._suggestion or self._image_id):
            return  # nothing to offer, nothing to hide: no buttons needed yet
        self._show(
            self.use_arch, bool(self._matching_arch), self._tr("Use {value}", value=self._matching_arch)
        )
        self._show(
            self.use_suggestion,
            bool(self._suggestion),
            self._tr("Use {value}", value=self._suggestion.rsplit("/", 1)[-1]),
        )
        self._show(self.open_registered, bool(self._image_id) and self.open_image is not None)
        if not c.needs_confirmation():
            self.hide_question()

    @staticmethod
    def _show(button: widgets.Button, shown: bool, description: str | None = None) -> None:
        if description is not None and shown:
            button.description = description
        button.layout.display = "" if shown else "none"

    # -- actions ---------------------------------------------------------------------------

    def _use_arch(self) -> None:
        if self._matching_arch:
            self.controller.set_field("arch", self._matching_arch)

    def _use_suggestion(self) -> None:
        if self._suggestion:
            self.controller.set_field("swr_path", self._suggestion)

    def _open_registered(self) -> None:
        if self._image_id and self.open_image is not None:
            self.open_image(self._image_id)

    def ask(self) -> None:
        """Register was pressed while checks warn: ask once, naming the warnings."""
        _tr = self._tr
        said = [sentence(_tr.text(w.message)) for w in self.controller.preflight_warnings()]
        warnings = html.escape(_tr("{sentences}.", sentences=_tr("; ").join(said)))
        question = html.escape(_tr("Register anyway?"))
        self.question.value = f"<span class='mai-check-warn'>⚠ {warnings}</span> {question}"
        self.confirm_box.layout.display = ""
        self.confirm.focus()  # the answer is the next thing to do

    def _cancelled(self) -> None:
        self.hide_question()
        if self.on_cancel is not None:
            self.on_cancel()

    def hide_question(self) -> None:
        if self._built is not None:
            self._built.confirm_box.layout.display = "none"

    def register_anyway(self) -> bool:
        self.controller.accept_warnings()
        self.hide_question()
        return self.controller.submit()

    def close(self) -> None:
        if getattr(self, "_view_closed", True):  # closed already, or never fully built
            return
        self._view_closed = True
        self.controller.unobserve(self._changed, names=["checks", "preflight_state"])
        super().close()
