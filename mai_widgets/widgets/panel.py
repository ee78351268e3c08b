"""``RegisterPanel``: the register form, built from stock ipywidgets 8 controls only.

The panel holds no logic of its own: every widget writes its value into the
:class:`~mai_widgets.kernel.controller.RegistrationController`, and everything the user sees
(field messages, why Register is disabled, the status) is rendered from the controller's
traits. No widget ever holds a credential: the panel only knows the configuration, which
has none, and the generated code refers to environment variables.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
from ipywidgets.widgets.widget_bool import CheckboxStyle
from ipywidgets.widgets.widget_button import ButtonStyle
from ipywidgets.widgets.widget_description import DescriptionStyle
from ipywidgets.widgets.widget_selection import ToggleButtonsStyle
from ipywidgets.widgets.widget_string import TextStyle

from ..auth.config import translation_for
from ..errors import MaiWidgetsError, ValidationError
from ..i18n import N_, Msg
from ..kernel.controller import FIELD_LABELS, RegistrationController, and_list
from ..wire.contract import FORM_FIELDS, field_spec
from .preflight_view import PreflightView, sentence
from .status import SharedLooks, StatusView, error_html, field_message_html
from .swr_picker import SwrPathCombobox

if TYPE_CHECKING:
    from ..auth.config import MaiConfig
    from ..services.codegen import Preview
    from ..services.images import ImageClient
    from ..services.swr import SwrClient

__all__ = ["RegisterPanel"]

# Widths, label placement and colours live in labextension/style/base.raw.css (container queries:
# labels above their fields in a narrow side bar, on the left when wide), not in Python.
# The form's choices and labels come from the register field table.
_CHOICE_FIELDS: dict[str, tuple[str, ...]] = {
    s.name: s.choices for s in FORM_FIELDS if s.enum and not s.multiple
}
_MULTI_FIELDS: dict[str, tuple[str, ...]] = {s.name: s.choices for s in FORM_FIELDS if s.enum and s.multiple}
FIELD_NAMES = frozenset(s.name for s in FORM_FIELDS)
# What a choice means, shown after the (English) value in another language: "PRIVATE（私有）".
_CHOICE_MEANINGS: dict[str, str] = {
    "COMMON": N_("common"),
    "INFERENCE": N_("inference"),
    "TRAIN": N_("training"),
    "DEV": N_("development"),
    "UNKNOWN": N_("unknown"),
    "CUSTOMIZE": N_("custom"),
    "IMAGE_SAVE": N_("saved from a notebook"),
    "PRIVATE": N_("private"),
    "PUBLIC": N_("public"),
}


# The controller's traits that change what the buttons, the reason line and the endpoint show.
_CONTROL_TRAITS = [
    "problems",
    "missing",
    "state",
    "busy",
    "closed",
    "endpoint",
    "credentials_source",
    "checks",
    "preflight_state",
    "register_waiting",
]


def _label(name: str) -> str:
    """A field's label, English (a Msg: ``_tr.text`` says it in the form's language)."""
    return field_spec(name).label


def _pre(text: str) -> str:
    return f"<pre class='mai-pre'>{html.escape(text)}</pre>"


def _slug(label: str) -> str:
    return label.lower().replace(" ", "-")


class _MultiChoice(widgets.HBox):  # type: ignore[misc]  # ipywidgets is untyped
    """A labelled row of checkboxes: several values of one list field can be picked."""

    def __init__(
        self, label: str, choices: tuple[str, ...], selected: object, looks: SharedLooks, *, slug: str
    ) -> None:
        chosen = set(selected) if isinstance(selected, (list, tuple)) else set()
        self.boxes = {
            choice: widgets.Checkbox(
                value=choice in chosen,
                description=choice,
                indent=False,
                layout=looks.layout(),
                style=looks.style(CheckboxStyle),
            )
            for choice in choices
        }
        caption = looks.label(label, classes=("mai-field-label",))
        super().__init__(
            [caption, *self.boxes.values()],
            layout=looks.layout(),
            _dom_classes=("mai-multi-choice", f"mai-{slug}"),
        )

    @property
    def value(self) -> list[str]:
        return [choice for choice, box in self.boxes.items() if box.value]

    @value.setter
    def value(self, values: object) -> None:
        chosen = set(values) if isinstance(values, (list, tuple)) else set()
        for choice, box in self.boxes.items():
            box.value = choice in chosen

    def observe_value(self, handler: Any) -> None:
        for box in self.boxes.values():
            box.observe(handler, names="value")

    def set_disabled(self, disabled: bool) -> None:
        for box in self.boxes.values():
            box.disabled = disabled


class _FieldMessages(Mapping[str, widgets.HTML]):
    """The fields' message widgets, each made on first use (a new form says nothing)."""

    def __init__(self, make: Callable[[str], widgets.HTML]) -> None:
        self._make = make
        self._made: dict[str, widgets.HTML] = {}

    def made(self, name: str) -> bool:
        return name in self._made

    def __getitem__(self, name: str) -> widgets.HTML:
        if name not in self._made:
            if name not in FIELD_NAMES:
                raise KeyError(name)
            self._made[name] = self._make(name)
        return self._made[name]

    def __iter__(self) -> Iterator[str]:
        return (s.name for s in FORM_FIELDS)

    def __len__(self) -> int:
        return len(FORM_FIELDS)


class _Preview:
    """The request preview: the HTTP request, the Python SDK code and curl, in tabs."""

    def __init__(self, looks: SharedLooks) -> None:
        self.http = looks.html()
        self.python = looks.html()
        self.curl = looks.html()
        _tr = looks.tr
        self.tabs = widgets.Tab(
            children=[self.http, self.python, self.curl],
            titles=(_tr("HTTP request"), _tr("Python SDK"), "curl"),
        )
        self.box = widgets.VBox(
            [self.tabs], layout=widgets.Layout(display="none"), _dom_classes=("mai-preview",)
        )


class _AgainOffer:
    """ "Already registered", and that registration failed: registering again needs it deleted."""

    def __init__(self, looks: SharedLooks) -> None:
        _tr = looks.tr
        self.message = looks.html(classes=("mai-register-again-offer-message",))
        self.button = widgets.Button(
            description=_tr("Delete and register again"),
            button_style="warning",
            icon="redo",
            _dom_classes=("mai-register-again-offer-button",),
        )
        self.box = widgets.VBox(
            [self.message, self.button],
            layout=widgets.Layout(display="none"),
            _dom_classes=("mai-register-again-offer",),
        )


class RegisterPanel(widgets.VBox):  # type: ignore[misc]  # ipywidgets is untyped
    """Register an SWR image with ModelArts: the form, its preview and the live status."""

    def __init__(
        self,
        client: ImageClient | None = None,
        config: MaiConfig | None = None,
        controller: RegistrationController | None = None,
        *,
        preflight: bool = True,
        language: str | None = None,
        **initial_fields: Any,
    ) -> None:
        """``language``: ``en`` or ``zh_CN``; None: ``MaiConfig.language``, then the locale's."""
        if controller is None:
            # Held: the metadata service and the first checks start once the form is shown.
            controller = RegistrationController(
                client, config=config, preflight=preflight, hold_background=True, **initial_fields
            )
        elif initial_fields:
            controller.update_fields(**initial_fields)
        self.controller = controller
        self._syncing = False
        values = controller.fields
        # One Layout or Style model per look, shared by the widgets whose look never changes: each
        # model is one more message for the kernel and the browser while the form opens.
        looks = self.looks = SharedLooks(translation_for(controller.config, language=language))
        self._tr = looks.tr
        text_style = looks.style(TextStyle)
        # A field's message shows once the user changed it (or code gave it a value), or after
        # an attempt to register: never on an empty new form.
        self._touched: set[str] = {name for name in initial_fields if name in FIELD_NAMES}
        self._attempted = False

        _tr = self._tr
        title = html.escape(_tr("Register a custom image with ModelArts"))
        self.title = looks.html(f"<h3>{title}</h3>", classes=("mai-title",))
        # Made with what the render below would set: a change right after creation is one more
        # message per widget while the form opens.
        self.endpoint_line = looks.html(self._endpoint_html(), classes=("mai-endpoint",))

        self.swr_path = widgets.Text(
            value=str(values.get("swr_path") or ""),
            description=_tr.text(_label("swr_path")),
            placeholder=_tr.text(field_spec("swr_path").help),
            continuous_update=True,
            style=text_style,
            layout=looks.layout(),
            _dom_classes=("mai-swr-path",),
        )
        # Typed as before, or picked from SWR's lists; the text field stays the form's field.
        self.swr_picker = SwrPathCombobox(self.swr_path, self._swr_client, looks=looks)
        self.arch = self._dropdown("arch", values, "mai-arch")
        # the CSS class keeps the English label's slug (mai-resource-categories, mai-services)
        self.resource_category = _MultiChoice(
            _tr.text(_label("resource_category")),
            _MULTI_FIELDS["resource_category"],
            values.get("resource_category"),
            looks,
            slug=_slug(_label("resource_category")),
        )
        self.services = _MultiChoice(
            _tr.text(_label("services")),
            _MULTI_FIELDS["services"],
            values.get("services"),
            looks,
            slug=_slug(_label("services")),
        )
        self.service_type = self._dropdown("service_type", values)
        self.origin = self._dropdown("origin", values)
        self.visibility = widgets.ToggleButtons(
            options=self._options("visibility"),
            value=self._choice("visibility", values),
            description=_tr.text(_label("visibility")),
            style=looks.style(ToggleButtonsStyle),
            layout=looks.layout(),
            _dom_classes=("mai-visibility",),
        )
        self.workspace_id = widgets.Text(
            value=str(values.get("workspace_id") or ""),
            description=_tr.text(_label("workspace_id")),
            continuous_update=True,
            style=text_style,
            layout=looks.layout(),
        )
        self.description = widgets.Textarea(
            value=str(values.get("description") or ""),
            description=_tr.text(_label("description")),
            placeholder=_tr("optional, {help}", help=_tr.text(field_spec("description").help)),
            continuous_update=True,
            style=text_style,
            layout=looks.layout(height="5em"),
        )
        self.description_counter = looks.label(self._counter_text(), classes=("mai-description-counter",))

        self.inputs: dict[str, widgets.Widget] = {
            "swr_path": self.swr_path,
            "arch": self.arch,
            "resource_category": self.resource_category,
            "services": self.services,
            "service_type": self.service_type,
            "origin": self.origin,
            "visibility": self.visibility,
            "workspace_id": self.workspace_id,
            "description": self.description,
        }
        self._rows: dict[str, widgets.VBox] = {}
        rows: list[widgets.Widget] = []
        for name, widget in self.inputs.items():
            extra = [self.description_counter] if name == "description" else []
            # The CSS puts the counter and the message under the field, aligned with its input.
            shown = self.swr_picker if name == "swr_path" else widget
            row = widgets.VBox([shown, *extra], layout=looks.layout(), _dom_classes=("mai-field-row",))
            self._rows[name] = row
            rows.append(row)
        # Each field's message widget is made when it first has something to say.
        self.field_errors = _FieldMessages(self._field_message)

        # The preflight checklist sits under the SWR path it is about.
        self.preflight_view = PreflightView(controller, looks=looks)
        rows.insert(1, self.preflight_view)

        blockers = controller.blockers()
        self.register_button = widgets.Button(
            description=_tr("Register"),
            disabled=bool(blockers),
            button_style="primary",
            icon="upload",
            layout=looks.layout(),
            style=looks.style(ButtonStyle),
            _dom_classes=("mai-register-button",),
        )
        self.preflight_view.on_cancel = self.register_button.focus  # "Cancel" answers the question
        self.preview_button = widgets.Button(
            description=_tr("Preview request"),
            icon="eye",
            layout=looks.layout(),
            style=looks.style(ButtonStyle),
            _dom_classes=("mai-preview-button",),
        )
        self.reason = looks.html(self._reason_html(blockers), classes=("mai-register-reason",))
        self.preview_text = ""
        # Made when first needed, as each widget slows the panel's opening: the request preview
        # (Preview request), the status (a registration starts) and "delete and register again"
        # (a failed duplicate). Their attributes make them on first use all the same.
        self._preview: _Preview | None = None
        self._preview_open = False
        self._status_view: StatusView | None = None
        self._again: _AgainOffer | None = None
        self._form = [
            self.title,
            self.endpoint_line,
            *rows,
            widgets.HBox(
                [self.register_button, self.preview_button],
                layout=looks.layout(),
                _dom_classes=("mai-actions",),
            ),
            self.reason,
        ]
        super().__init__(
            self._form,
            layout=looks.layout(),
            # Stable classes for browser tests, given at construction (each add_class is one more message).
            # mai-form: the look it shares with the Save tab (labextension/style/base.raw.css).
            _dom_classes=("mai-register-panel", "mai-form"),
        )
        self._panel_closed = False

        for name, widget in self.inputs.items():
            handler = self._input_handler(name)
            if isinstance(widget, _MultiChoice):
                widget.observe_value(handler)
            else:
                widget.observe(handler, names="value")
        self.register_button.on_click(self._register_clicked)
        controller.observe(self._offer_changed, names=["record", "busy", "state"])
        self.preview_button.on_click(self._preview_clicked)
        controller.observe(self._fields_changed, names="fields")
        controller.observe(
            self._controls_changed,
            names=_CONTROL_TRAITS,
        )
        self._render_fields()
        self._render_controls()
        if controller.state != "editing":  # a page reload: its registration is shown again
            _ = self.status_view

    # -- parts made on first use -----------------------------------------------------------

    def _arrange(self) -> None:
        """The form, then whichever of the offer, the status and the preview exist."""
        extra = [
            # Right under Register, so its result shows where the user just clicked.
            self._again.box if self._again is not None else None,
            self._status_view,
            self._preview.box if self._preview is not None else None,
        ]
        self.children = (*self._form, *(w for w in extra if w is not None))

    def _part_looks(self) -> SharedLooks:
        # Asked for after close: the panel's shared looks are closed, so the part gets its own,
        # closed with it (by _close_tree).
        return SharedLooks(self._tr) if self._panel_closed else self.looks

    def _field_message(self, name: str) -> widgets.HTML:
        message = self._part_looks().html(
            classes=("mai-field-error", f"mai-field-error-{name.replace('_', '-')}")
        )
        if self._panel_closed:
            _close_tree(message)
        else:
            row = self._rows[name]
            row.children = (*row.children, message)
        return message

    @property
    def status_view(self) -> StatusView:
        """The registration's status, made when a registration starts (or on first use)."""
        if self._status_view is None:
            self._status_view = StatusView(self.controller, looks=self._part_looks())
            self._place(self._status_view)
        return self._status_view

    def _place(self, box: widgets.Widget) -> None:
        """A part just made: shown under the form, or closed at once when the panel is closed."""
        if self._panel_closed:
            _close_tree(box)
        else:
            self._arrange()

    def _preview_parts(self) -> _Preview:
        if self._preview is None:
            self._preview = _Preview(self._part_looks())
            self._place(self._preview.box)
        return self._preview

    @property
    def preview_http(self) -> widgets.HTML:
        return self._preview_parts().http

    @property
    def preview_python(self) -> widgets.HTML:
        return self._preview_parts().python

    @property
    def preview_curl(self) -> widgets.HTML:
        return self._preview_parts().curl

    @property
    def preview_tabs(self) -> widgets.Tab:
        return self._preview_parts().tabs

    @property
    def preview_box(self) -> widgets.VBox:
        return self._preview_parts().box

    def _again_parts(self) -> _AgainOffer:
        if self._again is None:
            self._again = _AgainOffer(self._part_looks())
            self._again.button.on_click(self._again_clicked)
            self._place(self._again.box)
        return self._again

    @property
    def again_message(self) -> widgets.HTML:
        return self._again_parts().message

    @property
    def again_button(self) -> widgets.Button:
        return self._again_parts().button

    @property
    def again_box(self) -> widgets.VBox:
        return self._again_parts().box

    # -- construction helpers --------------------------------------------------------------

    @staticmethod
    def _choice(name: str, values: Mapping[str, Any]) -> str:
        options = _CHOICE_FIELDS[name]
        value = values.get(name)
        # A wrong initial value keeps the first option in the widget; the controller still holds it
        # and reports it next to the field until the user picks a value.
        return str(value).upper() if isinstance(value, str) and value.upper() in options else options[0]

    @property
    def language(self) -> str:
        """The language the form speaks (``en`` or ``zh_CN``)."""
        return self._tr.language

    def _options(self, name: str) -> list[str] | list[tuple[str, str]]:
        """A choice field's options: the enum values; in another language than English, each
        labelled with what it means (the value, which the request sends, stays as it is)."""
        choices = _CHOICE_FIELDS[name]
        if self._tr.language == "en":
            return list(choices)
        return [
            (self._tr("{value} ({meaning})", value=c, meaning=self._tr.text(_CHOICE_MEANINGS[c])), c)
            if c in _CHOICE_MEANINGS
            else (c, c)
            for c in choices
        ]

    def _dropdown(self, name: str, values: Mapping[str, Any], *classes: str) -> widgets.Dropdown:
        return widgets.Dropdown(
            _dom_classes=classes,
            options=self._options(name),
            value=self._choice(name, values),
            description=self._tr.text(_label(name)),
            style=self.looks.style(DescriptionStyle),
            layout=self.looks.layout(),
        )

    def _swr_client(self) -> SwrClient:
        """The SWR client of the picker: the session's, sharing the form's sign-in and SWR login."""
        from ..services.swr import SwrClient

        return self.controller.client().shared.client(SwrClient)

    # -- widgets -> controller -------------------------------------------------------------

    def _input_handler(self, name: str) -> Any:
        def changed(_: Mapping[str, Any]) -> None:
            if self._syncing:
                return
            widget = self.inputs[name]
            self._touched.add(name)
            self.controller.set_field(name, widget.value)

        return changed

    def _register_clicked(self, _: widgets.Button) -> None:
        if not self._attempted:
            self._attempted = True
            self._render_controls()
        c = self.controller
        if c.blockers():
            self.focus_first_problem()
            return  # a click on a disabled button (from code, or sent before the browser saw it)
        if c.preflight_state in ("waiting", "running"):
            # A paste and a quick click: the checks still come first (_checks_ended goes on).
            c.register_waiting = True
            c.run_preflight_now()
            return
        self._register_checked()

    def _register_checked(self) -> None:
        c = self.controller
        if c.blockers():
            self.focus_first_problem()
            return  # a check failed while Register waited for it
        if c.needs_confirmation():
            self.preflight_view.ask()  # a check warns: "Register anyway" registers
            return
        c.submit()

    def focus_first_problem(self) -> str | None:
        """After a failed attempt, move keyboard focus to the first field with a problem (the SWR
        path when a check of it failed); its name, or None when no field is to blame."""
        c = self.controller
        names = [name for name in self.inputs if name in c.problems]
        if not names and c.preflight_failures():
            names = ["swr_path"]
        if not names:
            return None
        widget = self.inputs[names[0]]
        (next(iter(widget.boxes.values())) if isinstance(widget, _MultiChoice) else widget).focus()
        return names[0]

    def _checks_ended(self) -> None:
        c = self.controller
        if c.register_waiting and c.preflight_state == "done":
            c.register_waiting = False
            self._register_checked()

    def _preview_clicked(self, _: widgets.Button) -> None:
        self._preview_open = not self._preview_open
        self.preview_box.layout.display = "" if self._preview_open else "none"
        _tr = self._tr
        self.preview_button.description = (
            _tr("Hide preview") if self._preview_open else _tr("Preview request")
        )
        self._render_preview()

    # -- delete and register again ---------------------------------------------------------

    def _failed_duplicate(self) -> bool:
        record = self.controller.record
        return record is not None and record.already_registered and self.controller.replaceable()

    def _offer_changed(self, _: Mapping[str, Any]) -> None:
        c = self.controller
        if self._failed_duplicate():
            record = c.record
            assert record is not None
            _tr = self._tr
            trouble = error_html(c.error, _tr) if c.error is not None else ""  # a delete that failed
            status = html.escape(str(record.status))
            record_id = f"<code>{html.escape(record.id)}</code>"
            if record.status_message:
                question = _tr(
                    "This SWR image is already registered, and that registration ended {status}: "
                    "{reason}. Delete the failed record (id {id}) and register it again?",
                    status=status,
                    reason=html.escape(record.status_message),
                    id=record_id,
                )
            else:
                question = _tr(
                    "This SWR image is already registered, and that registration ended {status}. "
                    "Delete the failed record (id {id}) and register it again?",
                    status=status,
                    id=record_id,
                )
            self.again_message.value = question + trouble
            self.again_button.disabled = False
            self.again_box.layout.display = ""
        elif c.busy and self._again is not None:
            self._again.box.layout.display = "none"

    def _again_clicked(self, _: widgets.Button) -> None:
        self.delete_and_register_again()

    def delete_and_register_again(self) -> bool:
        """Replace the failed record the last answer named: the controller deletes it and
        registers the form again (one at a time: a second click does nothing)."""
        if not self._failed_duplicate():
            return False
        return self.controller.replace_failed()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until a "Delete and register again" has ended (scripts and tests)."""
        return self.controller.wait_settled(timeout)

    # -- controller -> widgets -------------------------------------------------------------

    def _fields_changed(self, _: Mapping[str, Any]) -> None:
        self._render_fields()

    def _controls_changed(self, change: Mapping[str, Any]) -> None:
        if change["name"] == "state" and change["new"] != "editing":
            _ = self.status_view  # a registration started: its status is shown from now on
        self._render_controls()
        self._checks_ended()

    def _render_fields(self) -> None:
        """Show the controller's fields (they may also be set from code) and their messages."""
        values = self.controller.fields
        self._syncing = True
        try:
            for name, widget in self.inputs.items():
                value = values.get(name)
                if isinstance(widget, _MultiChoice):
                    widget.value = value
                elif name in _CHOICE_FIELDS:
                    if isinstance(value, str) and value.upper() in _CHOICE_FIELDS[name]:
                        widget.value = value.upper()
                elif isinstance(value, str):
                    widget.value = value
        finally:
            self._syncing = False
        self.description_counter.value = self._counter_text()
        self._render_controls()
        if self._preview_open:
            self._render_preview()

    def _counter_text(self) -> str:
        description = self.controller.fields.get("description")
        length = len(description) if isinstance(description, str) else 0
        return f"{length} / {field_spec('description').max_length}"

    def _shown_problem(self, name: str) -> bool:
        """Whether a field's problem is said next to it (touched, or after an attempt)."""
        return name in self.controller.problems and (self._attempted or name in self._touched)

    def _reason_html(self, blockers: list[str]) -> str:
        """The line under the buttons: why Register is disabled (``blockers``), or where it sends."""
        c = self.controller
        _tr = self._tr
        if not blockers:
            ready = html.escape(_tr("Ready: Register sends this request to {endpoint}.", endpoint=c.endpoint))
            return f"<span class='mai-message'>{ready}</span>"
        # Each field's problem is said once, next to its field; this line only names the fields.
        said = {f"{FIELD_LABELS.get(n, n)} {m}" for n, m in c.problems.items()}
        reasons: list[str] = [b for b in blockers if b not in said]
        named = [name for name in self.inputs if name in c.problems]
        shown = [_label(name) for name in named if self._shown_problem(name)]
        hidden = [_label(name) for name in named if not self._shown_problem(name)]
        if shown:
            reasons.append(Msg("check {fields}", fields=and_list(shown)))
        if hidden:
            reasons.append(Msg("fill in {fields}", fields=and_list(hidden)))
        text = _tr("; ").join(sentence(_tr.text(r)) for r in reasons)
        disabled = html.escape(_tr("Register is disabled: {reasons}.", reasons=text))
        return f"<span class='mai-message mai-message-warn'>{disabled}</span>"

    def _render_controls(self) -> None:
        c = self.controller
        for name in self.inputs:
            problem = c.problems.get(name)
            label = FIELD_LABELS.get(name, name)
            text = ""
            if problem is not None and self._shown_problem(name):
                text = field_message_html(label, problem, self._tr)
            if text or self.field_errors.made(name):
                self.field_errors[name].value = text
        blockers = c.blockers()
        self.register_button.disabled = bool(blockers)
        self.reason.value = self._reason_html(blockers)
        submitting = c.state == "submitting" or c.closed
        for widget in self.inputs.values():
            if isinstance(widget, _MultiChoice):
                widget.set_disabled(submitting)
            else:
                widget.disabled = submitting
        self.endpoint_line.value = self._endpoint_html()

    def _endpoint_html(self) -> str:
        endpoint = self.controller.endpoint
        if not endpoint:
            return ""
        local = endpoint.startswith("local ")
        look = "mai-endpoint-local" if local else "mai-endpoint-cloud"
        _tr = self._tr
        where = f"<b>{html.escape(_tr.text(endpoint))}</b>"
        talking = (
            _tr("Talking to {endpoint} (a demo: nothing reaches Huawei Cloud)", endpoint=where)
            if local
            else _tr("Talking to {endpoint}", endpoint=where)
        )
        source = self.controller.credentials_source
        said = html.escape(_tr("Credentials: {source}", source=_tr.text(source))) if source else ""
        credentials = f"<br><small>{said}</small>" if source else ""
        return f"<div class='mai-endpoint-line {look}'>{talking}{credentials}</div>"

    def _render_preview(self) -> None:
        try:
            preview: Preview = self.controller.preview()
        except MaiWidgetsError as error:
            _tr = self._tr
            if isinstance(error, ValidationError):  # as its message says it, in the form's language
                said = [
                    _tr("{field}: {problem}", field=p.field, problem=_tr.text(p.message))
                    for p in error.problems
                ]
                reason = _tr(
                    "invalid {fields}: {problems}",
                    fields=", ".join(error.fields),
                    problems=_tr("; ").join(said),
                )
            else:
                reason = _tr.text(error.message)
            text = _tr("Nothing to preview yet: {reason}", reason=reason)
            self.preview_text = text
            for box in (self.preview_http, self.preview_python, self.preview_curl):
                box.value = _pre(text)
            return
        self.preview_http.value = _pre(preview.http_text())
        self.preview_python.value = _pre(preview.python_sdk_code)
        self.preview_curl.value = _pre(preview.curl)
        self.preview_text = "\n\n".join((preview.http_text(), preview.python_sdk_code, preview.curl))

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        # Shown: what the form held back starts once this cell has sent it.
        self.controller.start_background_soon()
        return super()._repr_mimebundle_(**kwargs)

    # -- closing ---------------------------------------------------------------------------

    def close(self) -> None:
        """Stop following (the worker thread ends) and close every widget of the panel."""
        if getattr(self, "_panel_closed", True):  # closed already, or never fully built
            return
        self._panel_closed = True
        self.controller.unobserve(self._offer_changed, names=["record", "busy", "state"])
        self.controller.unobserve(self._fields_changed, names="fields")
        self.controller.unobserve(
            self._controls_changed,
            names=_CONTROL_TRAITS,
        )
        self.controller.close()
        _close_tree(self)
        self.looks.close()


def _close_tree(widget: widgets.Widget) -> None:
    """Close a widget and everything under it, children first."""
    if isinstance(widget, StatusView):
        widget.close()  # it closes its own parts, and stops following
        return
    for child in getattr(widget, "children", ()):
        _close_tree(child)
    for extra in ("layout", "style"):
        sub = getattr(widget, extra, None)
        if isinstance(sub, widgets.Widget):
            sub.close()
    if isinstance(widget, RegisterPanel):
        widgets.VBox.close(widget)
    else:
        widget.close()
