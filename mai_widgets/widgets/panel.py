"""``RegisterPanel``: the register form, built from stock ipywidgets 8 controls only.

The panel holds no logic of its own: every widget writes its value into the
:class:`~mai_widgets.kernel.controller.RegistrationController`, and everything the user sees
(field messages, why Register is disabled, the status) is rendered from the controller's
traits. No widget ever holds a credential: the panel only knows the configuration, which
has none, and the generated code refers to environment variables.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
from ipywidgets.widgets.widget_bool import CheckboxStyle
from ipywidgets.widgets.widget_description import DescriptionStyle
from ipywidgets.widgets.widget_selection import ToggleButtonsStyle
from ipywidgets.widgets.widget_string import TextStyle

from ..auth.config import translation_for
from ..errors import MaiWidgetsError
from ..kernel.controller import FIELD_LABELS, RegistrationController
from ..wire.contract import FORM_FIELDS, field_spec
from .preflight_view import PreflightView
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
    return field_spec(name).label


def _pre(text: str) -> str:
    return f"<pre class='mai-pre'>{html.escape(text)}</pre>"


class _MultiChoice(widgets.HBox):  # type: ignore[misc]  # ipywidgets is untyped
    """A labelled row of checkboxes: several values of one list field can be picked."""

    def __init__(self, label: str, choices: tuple[str, ...], selected: object, looks: SharedLooks) -> None:
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
            _dom_classes=("mai-multi-choice", f"mai-{label.lower().replace(' ', '-')}"),
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
            controller = RegistrationController(client, config=config, preflight=preflight, **initial_fields)
        elif initial_fields:
            controller.update_fields(**initial_fields)
        self.controller = controller
        self._syncing = False
        values = controller.fields
        looks = self._looks = SharedLooks(translation_for(controller.config, language=language))
        self._tr = looks.tr
        text_style = looks.style(TextStyle)
        # A field's message shows once the user changed it (or code gave it a value), or after
        # an attempt to register: never on an empty new form.
        self._touched: set[str] = {name for name in initial_fields if name in FIELD_NAMES}
        self._attempted = False

        self.title = looks.html("<h3>Register a custom image with ModelArts</h3>", classes=("mai-title",))
        self.endpoint_line = looks.html(classes=("mai-endpoint",))

        self.swr_path = widgets.Text(
            value=str(values.get("swr_path") or ""),
            description=_label("swr_path"),
            placeholder=field_spec("swr_path").help,
            continuous_update=True,
            style=text_style,
            layout=looks.layout(),
            _dom_classes=("mai-swr-path",),
        )
        # Typed as before, or picked from SWR's lists; the text field stays the form's field.
        self.swr_picker = SwrPathCombobox(self.swr_path, self._swr_client, tr=self._tr)
        self.arch = self._dropdown("arch", values, "mai-arch")
        self.resource_category = _MultiChoice(
            _label("resource_category"),
            _MULTI_FIELDS["resource_category"],
            values.get("resource_category"),
            looks,
        )
        self.services = _MultiChoice(
            _label("services"), _MULTI_FIELDS["services"], values.get("services"), looks
        )
        self.service_type = self._dropdown("service_type", values)
        self.origin = self._dropdown("origin", values)
        self.visibility = widgets.ToggleButtons(
            options=_CHOICE_FIELDS["visibility"],
            value=self._choice("visibility", values),
            description=_label("visibility"),
            style=looks.style(ToggleButtonsStyle),
            _dom_classes=("mai-visibility",),
        )
        self.workspace_id = widgets.Text(
            value=str(values.get("workspace_id") or ""),
            description=_label("workspace_id"),
            continuous_update=True,
            style=text_style,
            layout=looks.layout(),
        )
        self.description = widgets.Textarea(
            value=str(values.get("description") or ""),
            description=_label("description"),
            placeholder=f"optional, {field_spec('description').help}",
            continuous_update=True,
            style=text_style,
            layout=looks.layout(height="5em"),
        )
        self.description_counter = looks.label(classes=("mai-description-counter",))

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
        self.field_errors: dict[str, widgets.HTML] = {}
        rows: list[widgets.Widget] = []
        for name, widget in self.inputs.items():
            message = looks.html(classes=("mai-field-error", f"mai-field-error-{name.replace('_', '-')}"))
            self.field_errors[name] = message
            extra = [self.description_counter] if name == "description" else []
            # The CSS puts the counter and the message under the field, aligned with its input.
            shown = self.swr_picker if name == "swr_path" else widget
            rows.append(
                widgets.VBox([shown, *extra, message], layout=looks.layout(), _dom_classes=("mai-field-row",))
            )

        # The preflight checklist sits under the SWR path it is about.
        self.preflight_view = PreflightView(controller, tr=self._tr)
        rows.insert(1, self.preflight_view)

        self.register_button = widgets.Button(
            description="Register",
            button_style="primary",
            icon="upload",
            _dom_classes=("mai-register-button",),
        )
        self.preflight_view.on_cancel = self.register_button.focus  # "Cancel" answers the question
        self.preview_button = widgets.Button(
            description="Preview request", icon="eye", _dom_classes=("mai-preview-button",)
        )
        self.reason = looks.html(classes=("mai-register-reason",))
        self.preview_http = looks.html()
        self.preview_python = looks.html()
        self.preview_curl = looks.html()
        self.preview_tabs = widgets.Tab(
            children=[self.preview_http, self.preview_python, self.preview_curl],
            titles=("HTTP request", "Python SDK", "curl"),
        )
        self.preview_box = widgets.VBox(
            [self.preview_tabs], layout=widgets.Layout(display="none"), _dom_classes=("mai-preview",)
        )
        self.preview_text = ""
        self.status_view = StatusView(controller, looks=looks)
        # "Already registered", and that registration failed: registering again needs it deleted.
        self.again_message = looks.html(classes=("mai-register-again-offer-message",))
        self.again_button = widgets.Button(
            description="Delete and register again",
            button_style="warning",
            icon="redo",
            _dom_classes=("mai-register-again-offer-button",),
        )
        self.again_box = widgets.VBox(
            [self.again_message, self.again_button],
            layout=widgets.Layout(display="none"),
            _dom_classes=("mai-register-again-offer",),
        )

        super().__init__(
            [
                self.title,
                self.endpoint_line,
                *rows,
                widgets.HBox(
                    [self.register_button, self.preview_button],
                    layout=looks.layout(),
                    _dom_classes=("mai-actions",),
                ),
                self.reason,
                # Right under Register, so its result shows where the user just clicked.
                self.again_box,
                self.status_view,
                self.preview_box,
            ],
            # Stable classes for browser tests, given at construction (each add_class is one more message).
            _dom_classes=("mai-register-panel",),
        )
        self._panel_closed = False

        for name, widget in self.inputs.items():
            handler = self._input_handler(name)
            if isinstance(widget, _MultiChoice):
                widget.observe_value(handler)
            else:
                widget.observe(handler, names="value")
        self.register_button.on_click(self._register_clicked)
        self.again_button.on_click(self._again_clicked)
        controller.observe(self._offer_changed, names=["record", "busy", "state"])
        self.preview_button.on_click(self._preview_clicked)
        controller.observe(self._fields_changed, names="fields")
        controller.observe(
            self._controls_changed,
            names=_CONTROL_TRAITS,
        )
        self._render_fields()
        self._render_controls()

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

    def _dropdown(self, name: str, values: Mapping[str, Any], *classes: str) -> widgets.Dropdown:
        return widgets.Dropdown(
            _dom_classes=classes,
            options=_CHOICE_FIELDS[name],
            value=self._choice(name, values),
            description=_label(name),
            style=self._looks.style(DescriptionStyle),
            layout=self._looks.layout(),
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
        showing = self.preview_box.layout.display != "none"
        self.preview_box.layout.display = "none" if showing else ""
        self.preview_button.description = "Preview request" if showing else "Hide preview"
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
            reason = f": {record.status_message}" if record.status_message else ""
            trouble = error_html(c.error) if c.error is not None else ""  # a delete that failed
            self.again_message.value = (
                f"This SWR image is already registered, and that registration ended "
                f"{html.escape(str(record.status))}{html.escape(reason)}. Delete the failed record "
                f"(id <code>{html.escape(record.id)}</code>) and register it again?{trouble}"
            )
            self.again_button.disabled = False
            self.again_box.layout.display = ""
        elif c.busy:
            self.again_box.layout.display = "none"

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

    def _controls_changed(self, _: Mapping[str, Any]) -> None:
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
        description = values.get("description")
        length = len(description) if isinstance(description, str) else 0
        self.description_counter.value = f"{length} / {field_spec('description').max_length}"
        self._render_controls()
        if self.preview_box.layout.display != "none":
            self._render_preview()

    def _render_controls(self) -> None:
        c = self.controller
        shown: list[str] = []
        hidden: list[str] = []
        for name, message in self.field_errors.items():
            problem = c.problems.get(name)
            visible = problem is not None and (self._attempted or name in self._touched)
            message.value = (
                field_message_html(FIELD_LABELS.get(name, name), problem)
                if visible and problem is not None
                else ""
            )
            if problem is not None:
                (shown if visible else hidden).append(_label(name))
        blockers = c.blockers()
        self.register_button.disabled = bool(blockers)
        if blockers:
            # Each field's problem is said once, next to its field; this line only names the fields.
            said = {f"{FIELD_LABELS.get(n, n)} {m}" for n, m in c.problems.items()}
            reasons = [b for b in blockers if b not in said]
            if shown:
                reasons.append(f"check {' and '.join(shown)}")
            if hidden:
                reasons.append(f"fill in {' and '.join(hidden)}")
            text = "; ".join(reasons)
            self.reason.value = (
                "<span class='mai-message mai-message-warn'>"
                f"Register is disabled: {html.escape(text)}.</span>"
            )
        else:
            ready = f"Ready: Register sends this request to {html.escape(c.endpoint)}."
            self.reason.value = f"<span class='mai-message'>{ready}</span>"
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
        note = " (a demo: nothing reaches Huawei Cloud)" if local else ""
        source = self.controller.credentials_source
        credentials = f"<br><small>Credentials: {html.escape(source)}</small>" if source else ""
        return (
            f"<div class='mai-endpoint-line {look}'>"
            f"Talking to <b>{html.escape(endpoint)}</b>{html.escape(note)}{credentials}</div>"
        )

    def _render_preview(self) -> None:
        try:
            preview: Preview = self.controller.preview()
        except MaiWidgetsError as error:
            text = f"Nothing to preview yet: {error.message}"
            self.preview_text = text
            for box in (self.preview_http, self.preview_python, self.preview_curl):
                box.value = _pre(text)
            return
        self.preview_http.value = _pre(preview.http_text())
        self.preview_python.value = _pre(preview.python_sdk_code)
        self.preview_curl.value = _pre(preview.curl)
        self.preview_text = "\n\n".join((preview.http_text(), preview.python_sdk_code, preview.curl))

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
        self._looks.close()


def _close_tree(widget: widgets.Widget) -> None:
    """Close a widget and everything under it, children first."""
    for child in getattr(widget, "children", ()):
        if isinstance(child, StatusView):
            child.close()
        else:
            _close_tree(child)
    for extra in ("layout", "style"):
        sub = getattr(widget, extra, None)
        if isinstance(sub, widgets.Widget):
            sub.close()
    if isinstance(widget, RegisterPanel):
        widgets.VBox.close(widget)
    else:
        widget.close()
