"""``SaveNotebookView``: the Workbench's "Save notebook" tab, in stock ipywidgets.

Save a RUNNING notebook instance (the one this kernel runs in, when it can be told) as an image.
The view holds no logic: every field writes into a
:class:`~mai_widgets.kernel.save.SaveController`, and everything shown (field messages, why Save is
disabled, the instance's and the image's live states) is rendered from its traits. The ending
image record is a :class:`~mai_widgets.widgets.status.StatusView`. Layout and colours come from the
register form's CSS classes (labextension/style/base.css); no widget holds a credential.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from functools import reduce
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
from ipywidgets.widgets.widget_description import DescriptionStyle
from ipywidgets.widgets.widget_string import TextStyle

from ..auth.config import translation_for
from ..errors import MaiWidgetsError
from ..i18n import N_, Translation
from ..kernel.controller import RegistrationController
from ..kernel.save import SAVE_FIELD_LABELS, SaveController, not_kept_text
from ..wire.contract import ImageRecord, ImageStatus
from ..wire.format import image_label
from ..wire.notebooks import NotebookRecord, NotebookStatus
from .status import (
    STATUS_COLOURS,
    SharedLooks,
    StatusView,
    badge_html,
    breakable_html,
    error_html,
    field_message_html,
)

if TYPE_CHECKING:
    from ..auth.config import MaiConfig
    from ..services.images import ImageClient

__all__ = ["SAVE_TITLE", "SaveNotebookView"]

SAVE_TITLE = N_("Save notebook")
# Badge looks of the instance's states (the image's are status.STATUS_COLOURS).
_NOTEBOOK_COLOURS: dict[str, str] = {
    NotebookStatus.SNAPSHOTTING.value: "mai-badge-creating",
    NotebookStatus.RUNNING.value: "mai-badge-active",
}
_CONTROL_TRAITS = ["problems", "missing", "busy", "closed", "endpoint", "load_state", "state"]
_PROGRESS_TRAITS = ["notebook", "record", "state", "error", "polls", "outcome"]


def _joined(_tr: Translation, pattern: str, items: Sequence[str]) -> str:
    """``items`` joined pairwise by ``pattern`` (a msgid with {first} and {second}), in ``_tr``'s
    language."""
    return reduce(lambda first, second: _tr(pattern, first=first, second=second), items) if items else ""


_LIST_TRAITS = [
    "notebooks",
    "organizations",
    "this_notebook_id",
    "load_state",
    "load_error",
    "organizations_error",
]


def _bold(html_text: str) -> str:
    return f"<b>{html_text}</b>"


def _muted(html_text: str) -> str:
    return f"<small class='mai-muted'>{html_text}</small>"


class SaveNotebookView(widgets.VBox):  # type: ignore[misc]  # ipywidgets is untyped
    """Save a notebook instance as an image: pick it, name the image, Save, and watch both states."""

    def __init__(
        self,
        client: ImageClient | Callable[[], ImageClient] | None = None,
        config: MaiConfig | None = None,
        controller: SaveController | None = None,
        *,
        autoload: bool = True,
        language: str | None = None,
        **initial_fields: Any,
    ) -> None:
        if controller is None:
            controller = SaveController(client, config=config, **initial_fields)
        self.controller = controller
        self._syncing = False
        self._touched: set[str] = {k for k, v in initial_fields.items() if v not in (None, "")}
        self._attempted = False
        self._history: dict[str, list[str]] = {"notebook": [], "image": []}
        looks = self._looks = SharedLooks(translation_for(config, language=language))
        self._tr = looks.tr
        text_style = looks.style(TextStyle)

        _tr = self._tr
        title = _tr("Save this notebook as an image")
        self.title = looks.html(f"<h3>{html.escape(title)}</h3>", classes=("mai-title",))
        self.listing = looks.html(classes=("mai-save-listing",))
        self.instance = widgets.Dropdown(
            options=[],
            value=None,
            description=_tr("Instance"),
            style=looks.style(DescriptionStyle),
            layout=looks.layout(),
            _dom_classes=("mai-save-instance",),
        )
        self.organization = widgets.Combobox(
            options=[],
            description=_tr("Organization"),
            placeholder=_tr("an SWR organization you can write"),
            ensure_option=False,
            continuous_update=True,
            style=text_style,
            layout=looks.layout(),
            _dom_classes=("mai-save-organization",),
        )
        self.name = widgets.Text(
            description=_tr("Name"),
            placeholder=_tr("lower-case letters, digits, '-', '_', '.'"),
            continuous_update=True,
            style=text_style,
            layout=looks.layout(),
            _dom_classes=("mai-save-name",),
        )
        self.tag = widgets.Text(
            description=_tr("Tag"),
            placeholder=_tr("a date-and-time tag, by default"),
            continuous_update=True,
            style=text_style,
            layout=looks.layout(),
            _dom_classes=("mai-save-tag",),
        )
        self.description = widgets.Textarea(
            description=_tr("Description"),
            placeholder=_tr("optional, at most {count} characters", count=512),
            continuous_update=True,
            style=text_style,
            layout=looks.layout(height="5em"),
            _dom_classes=("mai-save-description",),
        )
        self.inputs: dict[str, widgets.Widget] = {
            "notebook_id": self.instance,
            "namespace": self.organization,
            "name": self.name,
            "tag": self.tag,
            "description": self.description,
        }
        self.field_errors: dict[str, widgets.HTML] = {}
        rows: list[widgets.Widget] = []
        for field, widget in self.inputs.items():
            message = looks.html(classes=("mai-field-error", f"mai-field-error-{field.replace('_', '-')}"))
            self.field_errors[field] = message
            extra = [self.listing] if field == "notebook_id" else []
            rows.append(
                widgets.VBox(
                    [widget, *extra, message], layout=looks.layout(), _dom_classes=("mai-field-row",)
                )
            )
        self.not_kept = looks.html(
            f"<span class='mai-message mai-message-warn'>{html.escape(_tr.text(not_kept_text()))}</span>",
            classes=("mai-save-not-kept",),
        )
        self.save_button = widgets.Button(
            description=_tr("Save"), button_style="primary", icon="save", _dom_classes=("mai-save-button",)
        )
        self.reason = looks.html(classes=("mai-save-reason",))
        self.notebook_state = looks.html(classes=("mai-save-notebook-state",))
        self.image_state = looks.html(classes=("mai-save-image-state",))
        # Following stopped or timed out while ModelArts still saves: what goes on, in words.
        self.unfinished = looks.html(classes=("mai-save-unfinished",))
        self.error_box = looks.html(classes=("mai-save-error",))
        self.result = widgets.VBox([], _dom_classes=("mai-save-result",))
        self.status_view: StatusView | None = None  # the image's record, once a save has ended
        super().__init__(
            [
                self.title,
                *rows,
                self.not_kept,
                widgets.HBox([self.save_button], layout=looks.layout(), _dom_classes=("mai-actions",)),
                self.reason,
                self.notebook_state,
                self.image_state,
                self.unfinished,
                self.error_box,
                self.result,
            ],
            _dom_classes=("mai-save-notebook", "mai-form"),  # mai-form: the look it shares with Register
        )
        self._view_closed = False
        for field, widget in self.inputs.items():
            widget.observe(self._input_handler(field), names="value")
        self.save_button.on_click(lambda _: self.save())
        controller.observe(self._fields_changed, names="fields")
        controller.observe(self._lists_changed, names=_LIST_TRAITS)
        controller.observe(self._controls_changed, names=_CONTROL_TRAITS)
        controller.observe(self._progress_changed, names=_PROGRESS_TRAITS)
        self._render_lists()
        self._render_fields()
        self._render_controls()
        self._render_progress()
        if autoload:
            controller.load()

    # -- widgets -> controller -------------------------------------------------------------

    def _input_handler(self, field: str) -> Any:
        def changed(_: Mapping[str, Any]) -> None:
            if self._syncing:
                return
            self._touched.add(field)
            self.controller.set_field(field, self.inputs[field].value)

        return changed

    def save(self) -> bool:
        """What a click on Save does: save, unless something blocks it (then say what). False
        when nothing was sent, as for a second click while a save is in flight."""
        if not self._attempted:
            self._attempted = True
            self._render_controls()
        if self.controller.blockers():
            return False
        return self.controller.submit()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until listing and the save in flight (with its follow) have ended (scripts, tests)."""
        return self.controller.wait_loaded(timeout) and self.controller.wait_settled(timeout)

    # -- controller -> widgets -------------------------------------------------------------

    def _fields_changed(self, _: Mapping[str, Any]) -> None:
        self._render_fields()

    def _lists_changed(self, _: Mapping[str, Any]) -> None:
        self._render_lists()
        self._render_fields()

    def _controls_changed(self, _: Mapping[str, Any]) -> None:
        self._render_controls()

    def _progress_changed(self, change: Mapping[str, Any]) -> None:
        if change["name"] == "state" and change["new"] == "saving":
            self._history = {"notebook": [], "image": []}
        self._render_progress()

    def _instance_label(self, record: NotebookRecord) -> str:
        # the list is of RUNNING instances: only another state is named, so "this one" shows when narrow
        label = record.name or record.id if record.is_running else record.label
        if record.id == self.controller.this_notebook_id:
            return self._tr("{instance} · this one", instance=label)
        return label

    def _render_lists(self) -> None:
        c = self.controller
        self._syncing = True
        try:
            self.instance.options = [(self._instance_label(n), n.id) for n in c.notebooks]
            self.organization.options = list(c.organizations)
        finally:
            self._syncing = False
        _tr = self._tr
        if c.load_state == "loading":
            said = _tr("Listing your RUNNING instances…")
            self.listing.value = f"<span class='mai-muted'>{html.escape(said)}</span>"
        elif c.load_state == "failed" and c.load_error is not None:
            self.listing.value = error_html(c.load_error, self._tr)
        elif c.load_state == "loaded" and not c.notebooks:
            said = _tr(
                "No RUNNING instance: start one in the ModelArts console (Notebook), "
                "then open this tab again."
            )
            self.listing.value = f"<span class='mai-message mai-message-warn'>{html.escape(said)}</span>"
        elif c.load_state == "loaded" and not c.this_notebook_id:
            said = _tr(
                "Which instance this kernel runs in cannot be told: pick it (or set MAI_WIDGETS_NOTEBOOK_ID)."
            )
            self.listing.value = f"<span class='mai-muted'>{html.escape(said)}</span>"
        else:
            # The drop-down may be too narrow to show the whole name: the line says it in full.
            this = next((n for n in c.notebooks if n.id == c.this_notebook_id), None)
            said = (
                _tr("This kernel runs in {instance}.", instance=breakable_html(this.name or this.id))
                if this
                else ""
            )
            self.listing.value = f"<span class='mai-muted'>{said}</span>" if said else ""
        if c.organizations_error is not None:
            trouble = c.organizations_error
            self.organization.placeholder = _tr("type an SWR organization you can write")
            if trouble.hint:
                said = _tr(
                    "Cannot list SWR: {message} ({hint}). You can still type the organization.",
                    message=trouble.message,
                    hint=_tr.text(trouble.hint),
                )
            else:
                said = _tr(
                    "Cannot list SWR: {message}. You can still type the organization.",
                    message=trouble.message,
                )
            self.field_errors["namespace"].value = f"<span class='mai-muted'>{html.escape(said)}</span>"

    def _render_fields(self) -> None:
        values = self.controller.fields
        self._syncing = True
        try:
            for field, widget in self.inputs.items():
                value = str(values.get(field) or "")
                if field == "notebook_id":
                    ids = {v for _, v in self.instance.options}
                    widget.value = value if value in ids else None
                elif widget.value != value:
                    widget.value = value
        finally:
            self._syncing = False
        self._render_controls()

    def _render_controls(self) -> None:
        c = self.controller
        _tr = self._tr
        shown: list[str] = []
        hidden: list[str] = []
        for field, message in self.field_errors.items():
            problems = c.problems.get(field) or []
            label = _tr.text(SAVE_FIELD_LABELS[field])
            # An instance picked for the user that cannot be saved is said at once: nothing to type.
            picked = field == "notebook_id" and bool(c.fields.get(field))
            visible = bool(problems) and (self._attempted or field in self._touched or picked)
            if problems:
                (shown if visible else hidden).append(label)
                message.value = (
                    "".join(field_message_html(label, _tr.text(p), _tr) for p in problems) if visible else ""
                )
            elif field != "namespace" or c.organizations_error is None:
                message.value = ""
        blockers = c.blockers()
        self.save_button.disabled = bool(blockers)
        if blockers:
            # Each field's problems are said next to it; this line only names the fields.
            said = {f"{SAVE_FIELD_LABELS.get(f, f)} {m}" for f, ms in c.problems.items() for m in ms}
            reasons = [_tr.text(b) for b in blockers if b not in said]
            both, then = N_("{first} and {second}"), N_("{first}; {second}")
            if shown:
                reasons.append(_tr("check {fields}", fields=_joined(_tr, both, shown)))
            if hidden:
                reasons.append(_tr("fill in {fields}", fields=_joined(_tr, both, hidden)))
            said_line = _tr("Save is disabled: {reasons}.", reasons=_joined(_tr, then, reasons))
            self.reason.value = f"<span class='mai-message mai-message-warn'>{html.escape(said_line)}</span>"
        else:
            ready = (
                _tr("Ready: Save sends this request to {endpoint}.", endpoint=c.endpoint)
                if c.endpoint
                else _tr("Ready: Save sends this request.")
            )
            self.reason.value = f"<span class='mai-message'>{html.escape(ready)}</span>"
        frozen = c.busy or c.closed
        for widget in self.inputs.values():
            widget.disabled = frozen

    def _render_progress(self) -> None:
        c = self.controller
        if c.state == "editing" or (c.state == "failed" and c.record is None and c.notebook is None):
            self.notebook_state.value = self.image_state.value = ""
        else:
            self.notebook_state.value = self._notebook_line()
            self.image_state.value = self._image_line()
        _tr = self._tr
        unfinished = html.escape(_tr.text(c.unfinished_text()))
        if unfinished and c.record is not None and not c.record.is_terminal:
            button = _tr("Follow again")
            follow_again = f"<b>{html.escape(button)}</b>"
            unfinished += " " + _tr(
                "{follow_again} (below) watches the image again.", follow_again=follow_again
            )
        self.unfinished.value = (
            f"<span class='mai-message mai-message-warn'>{unfinished}</span>" if unfinished else ""
        )
        self.error_box.value = error_html(c.error, self._tr) if c.error is not None else ""
        if c.state == "settled" and c.record is not None:
            self._show_record(c.record)

    def _seen(self, kind: str, status: str) -> str:
        history = self._history[kind]
        if not history or history[-1] != status:
            history.append(status)
        return " → ".join(history)

    def _notebook_line(self) -> str:
        c = self.controller
        record = c.notebook or c.instance(str(c.fields.get("notebook_id") or ""))
        _tr = self._tr
        name = html.escape(record.name or record.id if record is not None else _tr("the instance"))
        if c.state == "saving" or c.notebook is None:
            return _tr("Instance {name}: saving it…", name=_bold(name))
        record = c.notebook
        status = str(record.status)
        path = html.escape(self._seen("notebook", status))
        badge = badge_html(status, _NOTEBOOK_COLOURS.get(status, "mai-badge-unknown"))
        if status == NotebookStatus.SNAPSHOTTING.value:
            path = _tr("{path} (unavailable while it saves)", path=path)
        elif status == NotebookStatus.RUNNING.value and len(self._history["notebook"]) > 1:
            path = _tr("{path} (available again)", path=path)
        return _tr("Instance {name}: {badge} {path}", name=_bold(name), badge=badge, path=_muted(path))

    def _image_line(self) -> str:
        c = self.controller
        record = c.record
        _tr = self._tr
        if record is None:
            return html.escape(_tr("Image: being created…")) if c.state == "saving" else ""
        status = str(record.status)
        path = html.escape(self._seen("image", status))
        badge = badge_html(status, STATUS_COLOURS.get(status, "mai-badge-unknown"))
        if c.polls and c.state == "following":
            path = _tr.plural("{path}, {n} status read", "{path}, {n} status reads", c.polls, path=path)
        return _tr(
            "Image {name}: {badge} {path}",
            name=_bold(html.escape(image_label(record))),
            badge=badge,
            path=_muted(path),
        )

    def _show_record(self, record: ImageRecord) -> None:
        """The image's record as the Register tab shows its result (a StatusView)."""
        c = self.controller
        if self.status_view is None:
            try:
                status_controller = RegistrationController(c.client())
            except MaiWidgetsError:  # the record is still named in the lines above
                return
            self.status_view = StatusView(status_controller, looks=self._looks)
            self.result.children = (self.status_view,)
        self.status_view.controller.show(record, c.outcome or "settled", started_at=c.started_at)

    @property
    def succeeded(self) -> bool:
        """The last save made an ACTIVE image."""
        record = self.controller.record
        return (
            self.controller.state == "settled" and record is not None and record.status == ImageStatus.ACTIVE
        )

    # -- closing ---------------------------------------------------------------------------

    def close(self) -> None:
        """Stop listing, saving and following (HTTP in flight is cut) and close every widget."""
        if getattr(self, "_view_closed", True):
            return
        self._view_closed = True
        c = self.controller
        c.unobserve(self._fields_changed, names="fields")
        c.unobserve(self._lists_changed, names=_LIST_TRAITS)
        c.unobserve(self._controls_changed, names=_CONTROL_TRAITS)
        c.unobserve(self._progress_changed, names=_PROGRESS_TRAITS)
        c.close()
        if self.status_view is not None:
            self.status_view.controller.close()
            self.status_view.close()
        for child in self.children:
            if child is self.result:
                continue
            for grandchild in getattr(child, "children", ()):
                grandchild.close()
            child.close()
        self.result.close()
        self._looks.close()
        super().close()
